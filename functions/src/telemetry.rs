//! Logging set-up shared by the binaries.

use std::fmt::Display;
use std::str::FromStr;

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, FilterExt, FilterFn, LevelFilter};
use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
use lambda_runtime::tracing::subscriber::util::SubscriberInitExt;
use lambda_runtime::tracing::subscriber::{Layer, fmt, registry};

/// `tracing` to stdout, JSON when Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON` asks for it; level
/// from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO) — as `lambda_runtime`'s default
/// subscriber, except that no level shows the API key: the TRACE events that print the raw
/// event or SDK bodies are dropped whatever the environment says ([`system::logging`]).
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let level = LevelFilter::from_str(level.as_deref().unwrap_or("INFO")).unwrap_or(LevelFilter::INFO);
    let asked = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    let filter = asked.and(FilterFn::new(|meta| {
        *meta.level() != tracing::Level::TRACE || !system::logging::trace_prints_bodies(meta.target())
    }));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let stdout = fmt::layer().with_target(false).without_time();
    let layer = if json { stdout.json().boxed() } else { stdout.boxed() };
    registry().with(layer.with_filter(filter)).init();
}

/// Stops the process at init with a message naming the problem (Lambda reports the
/// init failure and shows this line in the function's log).
pub fn fatal(error: &impl Display) -> ! {
    tracing::error!(%error, "cannot start");
    eprintln!("cannot start: {error}");
    std::process::exit(1)
}
