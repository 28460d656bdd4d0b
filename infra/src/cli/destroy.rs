//! `infra destroy`: remove what deploy created. It lists what it would delete first; at a
//! terminal it asks, elsewhere it refuses without `--yes`. Only what carries the stack tag is
//! deleted; the table stays unless `--delete-data`, the backups unless `--delete-backups`.

use std::io::{BufRead, IsTerminal, Write};

use super::Exit;
use super::shared::Mail;
use crate::context::{Ctx, Mode};
use crate::error::Result;
use crate::report::Report;
use crate::resources::{self, Destroy};

#[derive(clap::Args)]
pub struct Args {
    /// Delete without asking (needed when not at a terminal, as in scripts).
    #[arg(long)]
    yes: bool,
    /// Also delete the student table and every student in it (its deletion protection is
    /// lifted first).
    #[arg(long)]
    delete_data: bool,
    /// Also delete the backup bucket and every backup in it.
    #[arg(long)]
    delete_backups: bool,
    // The functions' configuration names the addresses too; these are for when they are gone.
    #[command(flatten)]
    pub mail: Mail,
}

pub async fn run(mut ctx: Ctx, args: Args) -> Result<Exit> {
    let what = Destroy { data: args.delete_data, backups: args.delete_backups };
    if !args.yes {
        // First the list, changing nothing; then the question (or, off a terminal, a refusal).
        ctx.report = Report::new(Mode::Plan);
        resources::destroy(&ctx, what).await?;
        let doomed = ctx.report.deletions();
        if doomed == 0 {
            println!("nothing to delete in stack {}", ctx.sys.stack);
            return Ok(Exit::Done);
        }
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "refusing to delete {doomed} resources of stack {}: not at a terminal to ask; run with --yes to delete them",
                ctx.sys.stack
            );
            return Ok(Exit::Failed);
        }
        eprint!("Delete these {doomed} resources of stack {} in {}? Type yes to delete: ", ctx.sys.stack, ctx.region);
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map_err(|e| crate::error::InfraError::Io(e.to_string()))?;
        if answer.trim() != "yes" {
            eprintln!("nothing deleted");
            return Ok(Exit::Failed);
        }
        ctx.report = Report::new(Mode::Apply);
    }
    resources::destroy(&ctx, what).await?;
    Ok(Exit::Done)
}
