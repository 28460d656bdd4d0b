//! `infra state save|load`: the local stack's data kept across restarts of the emulator.

use std::path::PathBuf;

use clap::Subcommand;

use crate::context::Ctx;
use crate::error::Result;
use crate::state;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Write the table's students, the catalog of backups and the bucket's objects to DIR.
    Save {
        /// The folder to write (created if missing).
        dir: PathBuf,
    },

    /// Put what `save` wrote back into the tables and the bucket.
    Load {
        /// The folder `save` wrote.
        dir: PathBuf,
    },
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    match args.action {
        Action::Save { dir } => {
            let n = state::save(ctx, &dir).await?;
            eprintln!(
                "saved {} students, {} backups' records and {} objects to {} (and {} key-days of usage)",
                n.students,
                n.backups,
                n.objects,
                dir.display(),
                n.usage
            );
        }
        Action::Load { dir } => {
            let n = state::load(ctx, &dir).await?;
            eprintln!(
                "loaded {} students, {} backups' records and {} objects from {}",
                n.students,
                n.backups,
                n.objects,
                dir.display()
            );
        }
    }
    Ok(true)
}
