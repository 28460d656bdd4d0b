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
    /// Write the table's students and the bucket's objects to DIR.
    Save {
        /// The folder to write (created if missing).
        dir: PathBuf,
    },

    /// Put what `save` wrote back into the table and the bucket.
    Load {
        /// The folder `save` wrote.
        dir: PathBuf,
    },
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    match args.action {
        Action::Save { dir } => {
            let (items, objects) = state::save(ctx, &dir).await?;
            eprintln!("saved {items} students and {objects} objects to {}", dir.display());
        }
        Action::Load { dir } => {
            let (items, objects) = state::load(ctx, &dir).await?;
            eprintln!("loaded {items} students and {objects} objects from {}", dir.display());
        }
    }
    Ok(true)
}
