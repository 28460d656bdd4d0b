//! Logging set-up shared by the binaries.

use std::fmt::Display;

/// `tracing` to stdout, JSON when Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON` asks for it; level
/// from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO).
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Stops the process at init with a message naming the problem (Lambda reports the
/// init failure and shows this line in the function's log).
pub fn fatal(error: &impl Display) -> ! {
    tracing::error!(%error, "cannot start");
    eprintln!("cannot start: {error}");
    std::process::exit(1)
}
