//! `infra seed COUNT`: made-up students, for trying the page.

use crate::context::Ctx;
use crate::error::Result;
use crate::state;

#[derive(clap::Args)]
pub struct Args {
    /// How many students to write.
    count: usize,
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<bool> {
    let written = state::write_items(ctx, &ctx.sys.table, state::seed_items(args.count)).await?;
    eprintln!("seeded {written} students into {}", ctx.sys.table);
    Ok(true)
}
