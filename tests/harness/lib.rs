//! The test harness: starts the real pieces on free loopback ports and stops them afterwards.
//!
//! - [`Emulator`]: a moto server process, one per test, so tests never share state.
//! - [`events`]: API Gateway REST (v1) proxy events, as API Gateway would send them.
//! - [`runtime`]: a minimal Lambda Runtime API, to drive the real function binaries.
//! - [`stack`]: the whole local stack, as `scripts/dev` starts it.
//! - [`apigateway`]: control-plane changes tests make (a method, a key in its own plan).

pub mod apigateway;
pub mod emulator;
pub mod events;
pub mod runtime;
pub mod stack;

pub use emulator::{Emulator, SentEmail};

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The workspace root (the harness crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Polls `ready` until it answers true, for at most `bound`. Readiness, not a sleep.
pub async fn wait_until<F, Fut>(what: &str, bound: Duration, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !ready().await {
        assert!(start.elapsed() < bound, "{what} was not ready within {bound:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Shows the functions' logs when `RUST_LOG` is set (silent otherwise). Call from each test.
pub fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
}

/// A short unique name for per-test resources.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}
