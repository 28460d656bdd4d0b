//! `infra verify`: the console checklist, one PASS/FAIL line per check.

use super::shared::Origin;
use crate::context::Ctx;
use crate::error::Result;
use crate::verify;

#[derive(clap::Args)]
pub struct Args {
    /// Then call the API: no key → 403, a wrong key → 403, the key → 200.
    #[arg(long)]
    smoke: bool,
    #[command(flatten)]
    pub origin: Origin,
}

pub async fn run(mut ctx: Ctx, args: Args) -> Result<bool> {
    args.origin.settle(&mut ctx, false).await?;
    let checks = verify::verify(&ctx, args.smoke).await?;
    for c in &checks {
        println!("{}", c.line());
    }
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    eprintln!("{} checks, {failed} failed", checks.len());
    Ok(failed == 0)
}
