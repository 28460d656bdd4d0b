//! `-v` and `RUST_LOG`: the AWS SDK's own tracing on stderr, to see which calls a command
//! makes. Off unless asked for, so stdout and stderr stay what scripts and tests read.
//!
//! Every SDK operation runs in a `debug` span named `<Service>.<Operation>` (target
//! `aws_sdk_<service>::operation::<operation>`); printed when it closes, that is one line per
//! call with its duration. The SDK's `trace` level logs requests and responses, bodies (API
//! key values, secrets) included: `-v` never reaches it, and those events are dropped under any
//! `RUST_LOG` too ([`system::logging`]), so no level shows a key or a secret.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, FilterFn, LevelFilter};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// `-vv`: the operations, plus the orchestrator's and the config loader's debug events
/// (endpoint resolution, retry and timeout settings, attempts, the credentials provider).
const DETAIL: &str = "warn,aws_sdk=debug,aws_smithy_runtime=debug,aws_config=debug";

/// `-v`: one line per operation and warnings; the operations' own debug events (a request
/// id per attempt) would make it two or more.
fn calls(meta: &tracing::Metadata<'_>) -> bool {
    (meta.is_span() && meta.target().starts_with("aws_sdk_")) || LevelFilter::WARN >= *meta.level()
}

/// Drops the SDK's TRACE events that print request and response bodies.
fn shows_no_body(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() != tracing::Level::TRACE || !system::logging::trace_prints_bodies(meta.target())
}

/// Installs the subscriber for `verbose` (the count of `-v`), unless `RUST_LOG` says otherwise.
pub fn init(verbose: u8) {
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_span_events(FmtSpan::CLOSE);
    let layer = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => {
            stderr.with_filter(EnvFilter::new(directives).and(FilterFn::new(shows_no_body))).boxed()
        }
        _ => match verbose {
            0 => return,
            1 => stderr.with_filter(FilterFn::new(calls)).boxed(),
            _ => stderr.with_filter(EnvFilter::new(DETAIL)).boxed(),
        },
    };
    tracing_subscriber::registry().with(layer).init();
}
