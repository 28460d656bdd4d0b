//! `infra deploy`: reconcile the account, write the outputs, say where everything is.

use std::path::PathBuf;

use clap::ValueEnum;
use system::Options;

use super::shared::{Mail, Origin};
use crate::context::Ctx;
use crate::deploy::{self, CodeSource};
use crate::error::{InfraError, Result};

#[derive(clap::Args)]
pub struct Args {
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
    /// The addresses (both required), the origin and the key's value.
    pub fn choose(&self, options: &mut Options) -> Result<()> {
        self.mail.require()?;
        self.mail.choose(options);
        self.origin.choose(options);
        options.api_key_value.clone_from(&self.api_key_value);
        Ok(())
    }
}

pub async fn run(mut ctx: Ctx, args: Args) -> Result<bool> {
    args.origin.settle(&mut ctx, args.web_dir.is_some()).await?;
    let source = match (args.code_dir, args.code) {
        (Some(dir), _) => CodeSource::Dir(dir),
        (None, Code::Stub) => CodeSource::Stub,
        (None, Code::Build) => CodeSource::Build { workspace: workspace_root() },
    };
    let (mut outputs, key_value) = deploy::deploy(&ctx, &source).await?;
    if let Some(dir) = args.web_dir {
        deploy::web::publish(&ctx, &dir, &outputs.invoke_url).await?;
        outputs.web_url = Some(ctx.sys.options.allowed_origin.clone());
    }
    let path = args.outputs.unwrap_or_else(|| outputs_path(&ctx.sys.options.prefix));
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
    if args.show_key {
        eprintln!("API key:    {key_value}");
    } else {
        eprintln!("(the key's value: --show-key, or the secret)");
    }
    Ok(true)
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
