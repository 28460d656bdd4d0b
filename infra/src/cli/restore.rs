//! `infra restore`: a backup back into the table; the exit status says whether all of it went.

use crate::context::Ctx;
use crate::error::Result;
use crate::restore::{self, Source};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("backup").required(true).args(["key", "latest"])))]
pub struct Args {
    /// The backup object, e.g. backups/backup-20250706-090807-1a2b3c4d.json.
    #[arg(long)]
    key: Option<String>,
    /// The newest backup in the bucket.
    #[arg(long)]
    latest: bool,
    /// Replace students already in the table with the backup's copy.
    #[arg(long)]
    overwrite: bool,
    /// Refuse the backup, before writing anything, unless it and its manifest have this
    /// SHA-256 (64 hex digits; the backup notice email carries it).
    #[arg(long, value_name = "HEX", value_parser = restore::sha256_hex)]
    expect_sha256: Option<String>,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    // The group makes `--key` and `--latest` exclusive, so no key means the latest.
    let source = args.key.map_or(Source::Latest, Source::Key);
    let outcome = restore::restore(ctx, source, args.overwrite, args.expect_sha256.as_deref()).await?;
    if let Some(problem) = &outcome.problem {
        eprintln!("first failure: {problem}");
    }
    println!("{}", outcome.line());
    Ok(outcome.failed == 0)
}
