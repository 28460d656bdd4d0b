//! `infra destroy`: remove what deploy created (the backups stay unless asked).

use super::shared::Mail;
use crate::commands;
use crate::context::Ctx;
use crate::error::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Also delete the backup bucket and every backup in it.
    #[arg(long)]
    delete_backups: bool,
    // The functions' configuration names the addresses too; these are for when they are gone.
    #[command(flatten)]
    pub mail: Mail,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    commands::destroy(ctx, args.delete_backups).await?;
    Ok(true)
}
