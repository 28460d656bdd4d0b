//! The command line: what every command needs (which copy of the system, where, how much to
//! log), then one module per subcommand that owns its options and its `run`.

mod deploy;
mod deployer_policy;
mod destroy;
mod keys;
pub mod logging;
mod restore;
mod seed;
mod shared;
mod state;
mod usage;
mod verify;

use clap::{ArgAction, Parser, Subcommand};
use system::{DEFAULT_LOG_RETENTION_DAYS, Options, System};

use crate::context::{Ctx, Mode, caller_account, region_of, sdk_config};
use crate::error::Result;

/// How a command ended, as its exit status: 0 done (or nothing to change), 1 something it
/// checks failed, 2 a plan has changes pending (as `terraform plan -detailed-exitcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Done,
    Failed,
    Pending,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Failed => 1,
            Self::Pending => 2,
        }
    }

    /// `Done` when `ok`, else `Failed`.
    pub fn from_ok(ok: bool) -> Self {
        if ok { Self::Done } else { Self::Failed }
    }
}

#[derive(Parser)]
#[command(version, about = "Deploy and check the student-records system (API key → usage plan → stage included)")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes, before or after its name.
#[derive(clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Prepended to every resource name, so environments (and tests) can live side by side.
    #[arg(long, env = "INFRA_PREFIX", default_value = "", global = true)]
    pub prefix: String,
    /// The API stage.
    #[arg(long, default_value = "prod", global = true)]
    pub stage: String,
    /// The region of every resource, ARN, URL and output: this, else the SDK's (AWS_REGION,
    /// the profile), else us-east-1.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Where a local gateway serves the API (the emulator has no data plane): deploy and verify
    /// name it as the invoke URL, usage asks it for GetUsage.
    #[arg(long, env = "GATEWAY_URL", global = true)]
    pub gateway_url: Option<String>,
    /// Log the AWS SDK's calls to stderr: -v one line per call, -vv the SDK's debug detail
    /// (never bodies).
    ///
    /// -v: one line per AWS call, with its service, operation and duration. -vv: also the
    /// SDK's debug events (endpoints, retry and timeout settings, attempts). Neither reaches
    /// the SDK's trace level, which logs request and response bodies, secrets included.
    /// RUST_LOG, when set, replaces this.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create what is missing, update what differs; prints one line per resource.
    Deploy(deploy::Args),
    /// Check the deployed system; exit status 0 only when every check passes.
    Verify(verify::Args),
    /// Manage API keys (a key's value never changes: rotation makes a new key).
    Keys(keys::Args),
    /// Requests used and remaining per day for a key (GetUsage).
    Usage(usage::Args),
    /// Remove what deploy created (and tagged); lists it and asks first. The table stays unless
    /// --delete-data, the backups unless --delete-backups.
    Destroy(destroy::Args),
    /// Print the IAM policy the deploying identity needs, generated for this region and prefix.
    DeployerPolicy(deployer_policy::Args),
    /// The local stack's data: save the table and bucket to a folder, or load them back.
    State(state::Args),
    /// Write COUNT made-up students into the table (for trying the page).
    Seed(seed::Args),
    /// Put a backup back into the table, after checking it against its manifest (size,
    /// SHA-256, count); students already in the table are kept unless --overwrite.
    Restore(restore::Args),
}

impl Cli {
    /// The declaration the command works from: the global choices, plus what only some
    /// commands choose (deploy the addresses, the origin and the key's value; verify the origin
    /// it expects; destroy more addresses whose identities to delete).
    fn options(&self) -> Result<Options> {
        let mut options = Options {
            prefix: self.global.prefix.clone(),
            stage: self.global.stage.clone(),
            region: String::new(),
            sender_email: String::new(),
            recipient_email: String::new(),
            allowed_origin: shared::ANY_ORIGIN.to_owned(),
            api_key_value: None,
            account: String::new(),
            log_retention_days: DEFAULT_LOG_RETENTION_DAYS,
            backup_wait_seconds: system::env::DEFAULT_BACKUP_WAIT_SECONDS,
            backup_schedule: Some(system::names::DEFAULT_BACKUP_SCHEDULE.to_owned()),
            student_email_domains: system::mail::StudentEmailDomains::any(),
        };
        match &self.command {
            Command::Deploy(args) => args.choose(&mut options)?,
            Command::Verify(args) => {
                args.origin.choose(&mut options);
                args.mail.choose(&mut options);
                args.schedule.choose(&mut options);
            }
            Command::Destroy(args) => args.mail.choose(&mut options),
            Command::DeployerPolicy(args) => args.mail.choose(&mut options),
            Command::Keys(_) | Command::Usage(_) | Command::State(_) | Command::Seed(_) | Command::Restore(_) => {}
        }
        Ok(options)
    }

    /// The one SDK configuration and set of clients for the run, in one region, and who the
    /// caller is (its account, unless the command was given one).
    pub async fn context(&self) -> Result<Ctx> {
        let mut options = self.options()?;
        let sdk = sdk_config(self.global.region.as_deref()).await;
        options.region = region_of(&sdk);
        options.account = match &self.command {
            Command::DeployerPolicy(deployer_policy::Args { account: Some(account), .. }) => account.clone(),
            _ => caller_account(&sdk).await?,
        };
        let mode = match &self.command {
            Command::Deploy(args) if args.plan => Mode::Plan,
            _ => Mode::Apply,
        };
        Ok(Ctx::new(System::new(options), &sdk, self.global.gateway_url.clone(), mode))
    }
}

impl Command {
    /// Runs the command.
    pub async fn run(self, ctx: Ctx) -> Result<Exit> {
        let ok = match self {
            Self::Deploy(args) => return deploy::run(ctx, args).await,
            Self::Destroy(args) => return destroy::run(ctx, args).await,
            Self::Verify(args) => verify::run(ctx, args).await?,
            Self::Keys(args) => keys::run(&ctx, args).await?,
            Self::Usage(args) => usage::run(&ctx, args).await?,
            Self::State(args) => state::run(&ctx, args).await?,
            Self::Seed(args) => seed::run(&ctx, args).await?,
            Self::Restore(args) => restore::run(&ctx, args).await?,
            Self::DeployerPolicy(args) => deployer_policy::run(&ctx, args)?,
        };
        Ok(Exit::from_ok(ok))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// What clap adds itself, already described.
    const BUILT_IN: [&str; 2] = ["help", "version"];

    fn undescribed(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if command.get_about().is_none() {
            missing.push(format!("command `{path}`"));
        }
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if !BUILT_IN.contains(&id) && arg.get_help().is_none() {
                missing.push(format!("argument `{id}` of `{path}`"));
            }
        }
        for sub in command.get_subcommands() {
            undescribed(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn every_command_and_argument_has_a_help_line() {
        let mut cli = Cli::command();
        cli.build();
        let mut missing = Vec::new();
        undescribed(&cli, "infra", &mut missing);
        assert!(missing.is_empty(), "no help line for {missing:#?}");
        assert!(cli.get_subcommands().count() >= 8, "the tree was walked");
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
