//! `infra verify`: the console checklist, one PASS/FAIL line per check.

use super::shared::{Mail, Origin};
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
    /// The addresses the functions should mail from and to (default: those deployed).
    #[command(flatten)]
    pub mail: Mail,
}

pub async fn run(mut ctx: Ctx, args: Args) -> Result<bool> {
    args.origin.settle(&mut ctx, false, None).await?;
    if ctx.sys.options.sender_email.is_empty() || ctx.sys.options.recipient_email.is_empty() {
        let (sender, recipient) = crate::resources::functions::deployed_addresses(&ctx).await?;
        let mut options = ctx.sys.options.clone();
        if options.sender_email.is_empty() {
            options.sender_email = sender.unwrap_or_default();
        }
        if options.recipient_email.is_empty() {
            options.recipient_email = recipient.unwrap_or_default();
        }
        ctx.sys = system::System::new(options);
    }
    let checks = verify::verify(&ctx, args.smoke).await?;
    for c in &checks {
        println!("{}", c.line());
    }
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    eprintln!("{} checks, {failed} failed", checks.len());
    Ok(failed == 0)
}
