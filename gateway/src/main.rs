//! `local-gateway`: serves the deployed REST API on 127.0.0.1. See `--help`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_config::BehaviorVersion;
use clap::Parser;
use local_gateway::connections::{self, ConnectionLimits};
use local_gateway::control::{self, ApiSelector, ControlPlane};
use local_gateway::limits::SystemClock;
use local_gateway::model::Snapshot;
use local_gateway::schedule::{self, Rules};
use local_gateway::server::{Config, Gateway};
use local_gateway::usage::SavedUsage;

#[derive(Parser)]
#[command(version, about = "A local API Gateway (REST) for the API deployed in the AWS emulator")]
struct Args {
    /// The port on 127.0.0.1 (the gateway never binds another address).
    #[arg(long, env = "GATEWAY_PORT", default_value_t = 4010)]
    port: u16,
    /// The Lambda Invoke API (cargo lambda watch).
    #[arg(long, env = "LAMBDA_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    lambda_endpoint: String,
    /// The REST API to serve, by name.
    #[arg(long, env = "API_NAME", default_value = system::names::API)]
    api_name: String,
    /// ... or by id.
    #[arg(long)]
    api_id: Option<String>,
    /// How often the control plane is read (changes show within this plus one read).
    #[arg(long, default_value_t = 1000)]
    refresh_ms: u64,
    /// API Gateway's integration timeout.
    #[arg(long, env = "INTEGRATION_TIMEOUT_MS", default_value_t = 29_000)]
    integration_timeout_ms: u64,
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Lambda's function timeout: the bound of an invocation through the Invoke API.
    #[arg(long, default_value_t = 900)]
    function_timeout_secs: u64,
    /// Asynchronous invocations (Invoke API `Event` calls and schedules) running at once; one
    /// more is refused (429).
    #[arg(long, default_value_t = 16)]
    max_background: usize,
    /// A connection that has not sent a whole request head within this is closed (a new one,
    /// or a kept-alive one between requests).
    #[arg(long, default_value_t = connections::HEADER_READ_TIMEOUT_SECS)]
    header_read_timeout_secs: u64,
    /// From a request's admission to its body's last byte (else 408).
    #[arg(long, default_value_t = connections::BODY_TIMEOUT_SECS)]
    body_timeout_secs: u64,
    /// Connections open at once; more wait to be accepted.
    #[arg(long, default_value_t = connections::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Do not run the EventBridge rules' schedules.
    #[arg(long)]
    no_schedules: bool,
    /// Usage counted before a restart (`infra state save` writes it): added to the keys'
    /// counts once their plan and key exist, so a restart does not reset a quota.
    #[arg(long, env = "SAVED_USAGE")]
    saved_usage: Option<std::path::PathBuf>,
    /// How often the EventBridge rules are read (a changed schedule applies within this).
    #[arg(long, default_value_t = 5000)]
    schedule_refresh_ms: u64,
}

/// `RUST_LOG` (default info) on stdout, except what would show a key: the SDK's TRACE prints
/// GetApiKeys' answer, every key's value included, and no directive turns it back on
/// ([`system::logging`]).
fn init_logging() {
    use tracing_subscriber::filter::{EnvFilter, FilterExt, FilterFn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt, registry};
    let asked = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let filter = asked.and(FilterFn::new(|meta| {
        *meta.level() != tracing::Level::TRACE || !system::logging::trace_prints_bodies(meta.target())
    }));
    registry().with(fmt::layer().with_target(false).with_filter(filter)).init();
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let args = Args::parse();
    // The control plane: the emulator, from the standard AWS environment (AWS_ENDPOINT_URL).
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(10))
        .build();
    let sdk = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await;
    let selector = match args.api_id {
        Some(id) => ApiSelector::Id(id),
        None => ApiSelector::Name(args.api_name.clone()),
    };
    let control = ControlPlane::new(aws_sdk_apigateway::Client::new(&sdk), selector);
    let shared = Arc::new(RwLock::new(Arc::new(Snapshot::default())));
    let saved = match &args.saved_usage {
        Some(path) => SavedUsage::read(path).map_err(|e| format!("--saved-usage {e}"))?,
        None => SavedUsage::default(),
    };

    let config = Config {
        lambda_endpoint: args.lambda_endpoint,
        integration_timeout: Duration::from_millis(args.integration_timeout_ms),
        max_in_flight: args.max_in_flight,
        function_timeout: Duration::from_secs(args.function_timeout_secs),
        max_background: args.max_background,
        body_timeout: Duration::from_secs(args.body_timeout_secs),
    };
    let gateway = Gateway::new(shared.clone(), SystemClock::default(), config);
    let counting = gateway.clone();
    let on_read = move |snapshot: &Snapshot| saved.adopt(&counting, snapshot);
    tokio::spawn(control::poll(control, shared, Duration::from_millis(args.refresh_ms), on_read));
    if !args.no_schedules {
        let rules = Rules::new(aws_sdk_eventbridge::Client::new(&sdk));
        let interval = Duration::from_millis(args.schedule_refresh_ms);
        tokio::spawn(schedule::run(rules, gateway.background(), interval));
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    tracing::info!(address = %listener.local_addr()?, api = args.api_name, "local gateway listening");
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        max_connections: args.max_connections,
        ..ConnectionLimits::default()
    };
    connections::serve(gateway.router(), listener, limits, shutdown).await?;
    Ok(())
}
