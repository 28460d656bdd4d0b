//! `infra`: deploy, verify, keys, usage, destroy. See `infra --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use infra::context::{Ctx, sdk_config};
use infra::deploy::{self, CodeSource};
use infra::error::{InfraError, Result};
use infra::{commands, restore, state, verify};
use system::{Options, System};

#[derive(Parser)]
#[command(version, about = "Deploy and check the student-records system (API key → usage plan → stage included)")]
struct Cli {
    /// Prepended to every resource name, so environments (and tests) can live side by side.
    #[arg(long, env = "INFRA_PREFIX", default_value = "", global = true)]
    prefix: String,
    /// The API stage.
    #[arg(long, default_value = "prod", global = true)]
    stage: String,
    /// Used when no region is configured (AWS_REGION, profile).
    #[arg(long, default_value = "us-east-1", global = true)]
    region: String,
    /// Where a local gateway serves the API (the emulator has no data plane); it also
    /// answers GetUsage for `infra usage`.
    #[arg(long, env = "GATEWAY_URL", global = true)]
    gateway_url: Option<String>,
    /// The sender of confirmation and backup emails.
    #[arg(long, env = "SENDER_EMAIL", default_value = "", global = true)]
    sender_email: String,
    /// Who receives backup notices.
    #[arg(long, env = "RECIPIENT_EMAIL", default_value = "", global = true)]
    recipient_email: String,
    /// The origin allowed by CORS: `*`, or the web page's origin.
    #[arg(long, env = "ALLOWED_ORIGIN", default_value = "*", global = true)]
    allowed_origin: String,
    /// Where `deploy` writes its outputs (default: .local/outputs[-PREFIX].json).
    #[arg(long, env = "INFRA_OUTPUTS", global = true)]
    outputs: Option<PathBuf>,
    /// The value for a newly created StudentApiKey (20–128 characters; generated when absent).
    #[arg(long, env = "API_KEY_VALUE", global = true, hide_env_values = true)]
    api_key_value: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Code {
    /// cargo lambda build --release --arm64 --output-format zip
    Build,
    /// Tiny stand-in packages (for the emulator, which runs no code).
    Stub,
}

#[derive(Subcommand)]
enum Command {
    /// Create what is missing, update what differs; prints one line per resource.
    Deploy {
        #[arg(long, value_enum, default_value = "build", conflicts_with = "code_dir")]
        code: Code,
        /// Use packages built earlier: DIR/<function>/bootstrap.zip.
        #[arg(long)]
        code_dir: Option<PathBuf>,
        /// Also print the API key's value.
        #[arg(long)]
        show_key: bool,
        /// Publish the built web page (e.g. web/dist) to S3 behind CloudFront; the API then
        /// allows the distribution's origin (CORS).
        #[arg(long)]
        web_dir: Option<PathBuf>,
    },
    /// Check the deployed system; exit status 0 only when every check passes.
    Verify {
        /// Then call the API: no key → 403, a wrong key → 403, the key → 200.
        #[arg(long)]
        smoke: bool,
    },
    /// Manage API keys (a key's value never changes: rotation makes a new key).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Requests used and remaining per day for a key (GetUsage).
    Usage {
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// The key (default: the product's key).
        #[arg(long)]
        key: Option<String>,
    },
    /// Remove everything deploy created; the backups stay unless --delete-backups.
    Destroy {
        #[arg(long)]
        delete_backups: bool,
    },
    /// The local stack's data: save the table and bucket to a folder, or load them back.
    State {
        #[command(subcommand)]
        action: StateAction,
    },
    /// Write COUNT made-up students into the table (for trying the page).
    Seed { count: usize },
    /// Put a backup back into the table, after checking it against its manifest (size,
    /// SHA-256, count); students already in the table are kept unless --overwrite.
    #[command(group(clap::ArgGroup::new("backup").required(true).args(["key", "latest"])))]
    Restore {
        /// The backup object, e.g. backups/backup-20250706-090807-1a2b3c4d.json.
        #[arg(long)]
        key: Option<String>,
        /// The newest backup in the bucket.
        #[arg(long)]
        latest: bool,
        /// Replace students already in the table with the backup's copy.
        #[arg(long)]
        overwrite: bool,
    },
}

#[derive(Subcommand)]
enum StateAction {
    Save { dir: PathBuf },
    Load { dir: PathBuf },
}

#[derive(Subcommand)]
enum KeysAction {
    List,
    /// A new key, added to the usage plan at once, its value in Secrets Manager.
    Add {
        name: String,
        #[arg(long)]
        show_key: bool,
    },
    /// A new key under NAME; the old one keeps working until removed (or --disable-old).
    Rotate {
        name: String,
        #[arg(long)]
        disable_old: bool,
        #[arg(long)]
        show_key: bool,
    },
    Remove {
        name: String,
    },
}

fn workspace_root() -> PathBuf {
    // Run from the workspace (scripts do) or from anywhere inside it.
    let mut dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
    loop {
        if dir.join("Cargo.toml").exists() && dir.join("functions").is_dir() {
            return dir;
        }
        if !dir.pop() {
            return std::env::current_dir().unwrap_or_else(|_| ".".into());
        }
    }
}

fn outputs_path(prefix: &str) -> PathBuf {
    let name = if prefix.is_empty() {
        "outputs.json".to_owned()
    } else {
        format!("outputs-{}.json", prefix.trim_end_matches('-'))
    };
    workspace_root().join(".local").join(name)
}

async fn run(cli: Cli) -> Result<bool> {
    if let Command::Deploy { .. } = cli.command {
        for (value, flag) in [
            (&cli.sender_email, "--sender-email (or SENDER_EMAIL)"),
            (&cli.recipient_email, "--recipient-email (or RECIPIENT_EMAIL)"),
        ] {
            if value.is_empty() {
                return Err(InfraError::Missing(format!(
                    "{flag}: the functions send email from and to these addresses"
                )));
            }
        }
    }
    let system = System::new(Options {
        prefix: cli.prefix.clone(),
        stage: cli.stage.clone(),
        region: cli.region.clone(),
        sender_email: cli.sender_email.clone(),
        recipient_email: cli.recipient_email.clone(),
        allowed_origin: cli.allowed_origin.clone(),
        api_key_value: cli.api_key_value.clone(),
    });
    let sdk = sdk_config(&cli.region).await;
    let mut ctx = Ctx::new(system, &sdk, cli.gateway_url.clone()).await?;
    // With the page on CloudFront, the API allows the distribution's origin (unless an origin
    // was given): deploy creates the distribution first; every other command finds it.
    let publishing = matches!(&cli.command, Command::Deploy { web_dir: Some(_), .. });
    if cli.allowed_origin == "*" {
        let origin = if publishing {
            Some(deploy::web::hosting(&ctx).await?)
        } else {
            deploy::web::find_distribution(&ctx).await?.map(|(_, _, domain)| format!("https://{domain}"))
        };
        if let Some(origin) = origin {
            let mut options = ctx.sys.options.clone();
            options.allowed_origin = origin;
            ctx.sys = System::new(options);
        }
    }
    match cli.command {
        Command::Deploy { code, code_dir, show_key, web_dir } => {
            let source = match (code_dir, code) {
                (Some(dir), _) => CodeSource::Dir(dir),
                (None, Code::Stub) => CodeSource::Stub,
                (None, Code::Build) => CodeSource::Build { workspace: workspace_root() },
            };
            let (mut outputs, key_value) = deploy::deploy(&ctx, &source).await?;
            if let Some(dir) = web_dir {
                deploy::web::publish(&ctx, &dir, &outputs.invoke_url).await?;
                outputs.web_url = Some(ctx.sys.options.allowed_origin.clone());
            }
            let path = cli.outputs.clone().unwrap_or_else(|| outputs_path(&cli.prefix));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| InfraError::Io(format!("{}: {e}", dir.display())))?;
            }
            let json = serde_json::to_string_pretty(&outputs).expect("plain data");
            std::fs::write(&path, json + "\n").map_err(|e| InfraError::Io(format!("{}: {e}", path.display())))?;
            eprintln!();
            eprintln!("invoke URL: {}", outputs.invoke_url);
            eprintln!("API key id: {}", outputs.key_id);
            eprintln!("key secret: {}", outputs.secret_arn);
            if let Some(web) = &outputs.web_url {
                eprintln!("web page:   {web}");
            }
            eprintln!("outputs:    {}", path.display());
            if show_key {
                eprintln!("API key:    {key_value}");
            } else {
                eprintln!("(the key's value: --show-key, or the secret)");
            }
            Ok(true)
        }
        Command::Verify { smoke } => {
            let checks = verify::verify(&ctx, smoke).await?;
            for c in &checks {
                println!("{}", c.line());
            }
            let failed = checks.iter().filter(|c| c.problem.is_some()).count();
            eprintln!("{} checks, {failed} failed", checks.len());
            Ok(failed == 0)
        }
        Command::Keys { action } => {
            match action {
                KeysAction::List => {
                    for (k, in_plan) in commands::list(&ctx).await? {
                        println!(
                            "{:<32} {:<12} {:<8} {}",
                            k.name().unwrap_or_default(),
                            k.id().unwrap_or_default(),
                            if k.enabled() { "enabled" } else { "disabled" },
                            if in_plan { "in plan" } else { "NOT in plan" }
                        );
                    }
                }
                KeysAction::Add { name, show_key } => {
                    let key = commands::add(&ctx, &name).await?;
                    eprintln!("key id: {}", key.id().unwrap_or_default());
                    if show_key {
                        eprintln!("key:    {}", key.value().unwrap_or_default());
                    }
                }
                KeysAction::Rotate { name, disable_old, show_key } => {
                    let (key, retired) = commands::rotate(&ctx, &name, disable_old).await?;
                    eprintln!("new key id: {}", key.id().unwrap_or_default());
                    if show_key {
                        eprintln!("new key:    {}", key.value().unwrap_or_default());
                    }
                    if !disable_old {
                        eprintln!("the old key still works; when clients have moved: infra keys remove {retired}");
                    }
                }
                KeysAction::Remove { name } => commands::remove(&ctx, &name).await?,
            }
            Ok(true)
        }
        Command::Usage { days, key } => {
            let client = match &ctx.gateway {
                Some(url) => aws_sdk_apigateway::Client::from_conf(
                    aws_sdk_apigateway::config::Builder::from(&sdk).endpoint_url(url.trim_end_matches('/')).build(),
                ),
                None => ctx.aws.apigateway.clone(),
            };
            let key = key.unwrap_or_else(|| ctx.sys.api_key.clone());
            println!("{:<12} {:>8} {:>10}", "date (UTC)", "used", "remaining");
            for (date, used, remaining) in commands::usage(&ctx, &client, &key, days).await? {
                println!("{date:<12} {used:>8} {remaining:>10}");
            }
            Ok(true)
        }
        Command::Destroy { delete_backups } => {
            commands::destroy(&ctx, delete_backups).await?;
            Ok(true)
        }
        Command::State { action: StateAction::Save { dir } } => {
            let (items, objects) = state::save(&ctx, &dir).await?;
            eprintln!("saved {items} students and {objects} objects to {}", dir.display());
            Ok(true)
        }
        Command::State { action: StateAction::Load { dir } } => {
            let (items, objects) = state::load(&ctx, &dir).await?;
            eprintln!("loaded {items} students and {objects} objects from {}", dir.display());
            Ok(true)
        }
        Command::Seed { count } => {
            let written = state::write_items(&ctx, state::seed_items(count)).await?;
            eprintln!("seeded {written} students into {}", ctx.sys.table);
            Ok(true)
        }
        Command::Restore { key, latest: _, overwrite } => {
            let source = key.map_or(restore::Source::Latest, restore::Source::Key);
            let outcome = restore::restore(&ctx, source, overwrite).await?;
            if let Some(problem) = &outcome.problem {
                eprintln!("first failure: {problem}");
            }
            println!("{}", outcome.line());
            Ok(outcome.failed == 0)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
