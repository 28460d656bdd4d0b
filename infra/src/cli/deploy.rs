//! `infra deploy`: reconcile the account, write the outputs, say where everything is.

use std::path::PathBuf;

use clap::ValueEnum;
use system::mail::StudentEmailDomains;
use system::{LOG_RETENTION_DAYS, Options};

use super::Exit;
use super::shared::{Mail, Origin, Schedule};
use crate::context::Ctx;
use crate::error::{InfraError, Result};
use crate::resources::{self, CodeSource, web};

#[derive(clap::Args)]
pub struct Args {
    /// Change nothing: read the account, compare it with the declaration and print, per
    /// resource, what deploy would create or update (the fields that differ, old → new).
    /// Exit status 0: nothing to change; 2: changes pending; 1: an error.
    #[arg(long)]
    pub plan: bool,
    /// Days each function's log group keeps its logs.
    #[arg(long, default_value_t = system::DEFAULT_LOG_RETENTION_DAYS, value_parser = retention)]
    log_retention_days: i32,
    /// Where the functions' packages come from.
    #[arg(long, value_enum, default_value = "build", conflicts_with = "code_dir")]
    code: Code,
    /// Use packages built earlier: DIR/<function>/bootstrap.zip.
    #[arg(long, value_name = "DIR")]
    code_dir: Option<PathBuf>,
    /// Also print the API key's value.
    #[arg(long)]
    show_key: bool,
    /// Publish the built web page (e.g. web/dist) to S3 behind CloudFront; the API then
    /// allows the distribution's origin (CORS).
    #[arg(long, value_name = "DIR")]
    web_dir: Option<PathBuf>,
    #[command(flatten)]
    mail: Mail,
    #[command(flatten)]
    origin: Origin,
    #[command(flatten)]
    schedule: Schedule,
    /// How long POST /backup waits for the backup before it answers 202 with where to follow
    /// it (0: at once).
    #[arg(
        long,
        env = system::env::BACKUP_WAIT_SECONDS,
        value_name = "SECONDS",
        default_value_t = system::env::DEFAULT_BACKUP_WAIT_SECONDS,
        value_parser = backup_wait
    )]
    backup_wait: u64,
    /// The only domains a new student's confirmation email may go to, comma-separated
    /// (school.example.com,pupils.example.org; each exactly, not its subdomains; any case).
    /// A student elsewhere is stored without one. Not given: any domain, so anyone with an API
    /// key can have the school's sender mail any address.
    #[arg(
        long,
        env = system::env::STUDENT_EMAIL_DOMAINS,
        value_name = "DOMAINS",
        default_value = "",
        value_parser = StudentEmailDomains::parse
    )]
    student_email_domains: StudentEmailDomains,
    /// Where to write the outputs (default: .local/outputs[-PREFIX].json in the workspace).
    #[arg(long, env = "INFRA_OUTPUTS", value_name = "FILE")]
    outputs: Option<PathBuf>,
    /// The value for the product's API key when it is created (20–128 characters; generated
    /// when absent). A key's value never changes afterwards.
    #[arg(long, env = "API_KEY_VALUE", hide_env_values = true)]
    api_key_value: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Code {
    /// cargo lambda build --release --arm64 --output-format zip
    Build,
    /// Tiny stand-in packages (for the emulator, which runs no code).
    Stub,
}

impl Args {
    /// The addresses (both required), the origin, the key's value, the retention, the
    /// backup's schedule and wait, and where confirmations may go.
    pub fn choose(&self, options: &mut Options) -> Result<()> {
        self.mail.require()?;
        self.mail.choose(options);
        self.origin.choose(options);
        self.schedule.choose(options);
        options.api_key_value.clone_from(&self.api_key_value);
        options.log_retention_days = self.log_retention_days;
        options.backup_wait_seconds = self.backup_wait;
        options.student_email_domains.clone_from(&self.student_email_domains);
        Ok(())
    }
}

/// A whole number of seconds, at most [`system::env::MAX_BACKUP_WAIT_SECONDS`] (API Gateway ends every
/// request at 29 s with a 504; the backup function must answer before).
pub fn backup_wait(raw: &str) -> std::result::Result<u64, String> {
    use system::env::MAX_BACKUP_WAIT_SECONDS;
    raw.parse::<u64>().ok().filter(|s| *s <= MAX_BACKUP_WAIT_SECONDS).ok_or_else(|| {
        format!("a whole number of seconds from 0 to {MAX_BACKUP_WAIT_SECONDS} (API Gateway answers 504 after 29 s)")
    })
}

/// One of the retentions CloudWatch Logs accepts.
fn retention(raw: &str) -> std::result::Result<i32, String> {
    raw.parse::<i32>()
        .ok()
        .filter(|days| LOG_RETENTION_DAYS.contains(days))
        .ok_or_else(|| format!("CloudWatch Logs keeps logs for one of {LOG_RETENTION_DAYS:?} days"))
}

pub async fn run(mut ctx: Ctx, args: Args) -> Result<Exit> {
    let page = args.web_dir.as_deref().map(web::index_html).transpose()?;
    let csp = page.as_deref().and_then(web::content_security_policy);
    args.origin.settle(&mut ctx, args.web_dir.is_some(), csp.as_deref()).await?;
    let source = match (args.code_dir, args.code) {
        (Some(dir), _) => CodeSource::Dir(dir),
        (None, Code::Stub) => CodeSource::Stub,
        (None, Code::Build) => CodeSource::Build { workspace: workspace_root() },
    };
    let deployed = resources::deploy(&ctx, &source).await?;
    let Some((mut outputs, key_value)) = deployed else {
        // A plan: what is pending, and where the page would be published.
        if let Some(dir) = &args.web_dir {
            let url = ctx.sys.invoke_url("(the API)", ctx.gateway.as_deref());
            web::publish(&ctx, dir, &url).await?;
        }
        let (create, update, unchanged) = ctx.report.pending();
        let delete = ctx.report.deletions();
        println!("plan: {create} to create, {update} to update, {delete} to delete, {unchanged} unchanged");
        return Ok(if create + update + delete == 0 { Exit::Done } else { Exit::Pending });
    };
    if let Some(dir) = args.web_dir {
        web::publish(&ctx, &dir, &outputs.invoke_url).await?;
        outputs.web_url = Some(ctx.sys.options.allowed_origin.clone());
    }
    let path = args.outputs.unwrap_or_else(|| outputs_path(&ctx.sys.options.prefix));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| InfraError::Io(format!("{}: {e}", dir.display())))?;
    }
    let json = serde_json::to_string_pretty(&outputs).expect("plain data");
    std::fs::write(&path, json + "\n").map_err(|e| InfraError::Io(format!("{}: {e}", path.display())))?;
    eprintln!();
    eprintln!("region:     {}", outputs.region);
    eprintln!("invoke URL: {}", outputs.invoke_url);
    eprintln!("API key id: {}", outputs.key_id);
    eprintln!("key secret: {}", outputs.secret_arn);
    if let Some(web) = &outputs.web_url {
        eprintln!("web page:   {web}");
    }
    eprintln!("outputs:    {}", path.display());
    if args.show_key {
        eprintln!("API key:    {key_value}");
    } else {
        eprintln!("(the key's value: --show-key, or the secret)");
    }
    Ok(Exit::Done)
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
