//! `infra verify`: the console checklist, one PASS/FAIL line per check.

use super::shared::{Mail, Origin, Schedule};
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
    #[command(flatten)]
    pub schedule: Schedule,
    /// How long POST /backup should wait before it answers 202 (default: the deployed wait).
    #[arg(long, env = system::env::BACKUP_WAIT_SECONDS, value_name = "SECONDS", value_parser = super::deploy::backup_wait)]
    backup_wait: Option<u64>,
    /// The domains confirmations should be limited to (default: those deployed).
    #[arg(
        long,
        env = system::env::STUDENT_EMAIL_DOMAINS,
        value_name = "DOMAINS",
        value_parser = system::mail::StudentEmailDomains::parse
    )]
    student_email_domains: Option<system::mail::StudentEmailDomains>,
}

pub async fn run(mut ctx: Ctx, args: Args) -> Result<bool> {
    args.origin.settle(&mut ctx, false, None).await?;
    // What verify was not told, it takes from the deployed functions.
    let deployed = crate::resources::functions::deployed_environment(&ctx).await?;
    let mut options = ctx.sys.options.clone();
    for (value, variable) in [
        (&mut options.sender_email, system::env::SENDER_EMAIL),
        (&mut options.recipient_email, system::env::RECIPIENT_EMAIL),
    ] {
        if value.is_empty() {
            *value = deployed.get(variable).cloned().unwrap_or_default();
        }
    }
    options.backup_wait_seconds = args
        .backup_wait
        .or_else(|| deployed.get(system::env::BACKUP_WAIT_SECONDS).and_then(|s| s.parse().ok()))
        .unwrap_or(system::env::DEFAULT_BACKUP_WAIT_SECONDS);
    options.student_email_domains = match args.student_email_domains {
        Some(domains) => domains,
        None => deployed
            .get(system::env::STUDENT_EMAIL_DOMAINS)
            .and_then(|s| system::mail::StudentEmailDomains::parse(s).ok())
            .unwrap_or_default(),
    };
    ctx.sys = system::System::new(options);
    let checks = verify::verify(&ctx, args.smoke).await?;
    for c in &checks {
        println!("{}", c.line());
    }
    let failed = checks.iter().filter(|c| c.problem.is_some()).count();
    eprintln!("{} checks, {failed} failed", checks.len());
    Ok(failed == 0)
}
