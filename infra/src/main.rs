//! `infra`: deploy, verify, keys, usage, destroy, state, seed, restore. See `infra --help`.

use std::process::ExitCode;

use clap::Parser;
use infra::cli::{Cli, logging};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.global.verbose);
    let outcome = async move {
        let ctx = cli.context().await?;
        cli.command.run(ctx).await
    };
    match outcome.await {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
