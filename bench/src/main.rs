//! `student-bench`: measures the local stack side by side with ceilings measured in the same
//! run (ratios, since these machines are noisy). `scripts/bench` starts the stack and runs it.

mod functions;
mod gateway;
mod stats;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure a running stack (its `stack.env`).
    Run {
        #[arg(long)]
        stack_env: PathBuf,
        #[arg(long)]
        outputs: PathBuf,
        /// Requests per path for the latency percentiles.
        #[arg(long, default_value_t = 300)]
        requests: usize,
        /// Seconds per load run, and concurrent connections.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Table sizes for the backup benchmark.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,30000,50000")]
        backup_sizes: Vec<usize>,
        /// Scan page budgets (`BACKUP_PAGE_BYTES`) the backup is measured with.
        #[arg(long, value_delimiter = ',', default_value = "524288,1048576")]
        backup_page_bytes: Vec<u64>,
        /// Only these parts of the table (all by default).
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<Part>,
        /// Where `cargo lambda build` left the arm64 zips.
        #[arg(long, env = "LAMBDA_TARGET_DIR")]
        lambda_target: Option<String>,
    },
    /// (internal) The bare ceiling server.
    ServeBare {
        #[arg(long)]
        port: u16,
    },
}

/// The parts of the table, in the order they are measured.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Backup,
    Requests,
    ColdStart,
    Gateway,
    Zips,
}

/// What the benchmarks need of the running stack.
pub struct Stack {
    pub api_url: String,
    pub lambda_endpoint: String,
    pub api_id: String,
    pub sdk: aws_config::SdkConfig,
    pub http: reqwest::Client,
}

#[tokio::main]
async fn main() {
    match Args::parse().command {
        Command::ServeBare { port } => gateway::serve_bare(port).await,
        Command::Run {
            stack_env,
            outputs,
            requests,
            seconds,
            connections,
            backup_sizes,
            backup_page_bytes,
            only,
            lambda_target,
        } => {
            let wanted = |part: Part| only.is_empty() || only.contains(&part);
            let env = harness::stack::read_stack_env(&stack_env);
            let outputs: system::Outputs =
                serde_json::from_str(&std::fs::read_to_string(outputs).expect("outputs")).unwrap();
            let sdk = harness::Emulator::attach(&env["AWS_ENDPOINT_URL"]).sdk_config().await;
            let stack = Stack {
                api_url: env["API_URL"].clone(),
                lambda_endpoint: env["LAMBDA_ENDPOINT"].clone(),
                api_id: outputs.api_id,
                sdk,
                http: reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap(),
            };
            let mut rows = Vec::new();
            if wanted(Part::Backup) {
                rows.extend(functions::backup(&backup_sizes, &backup_page_bytes).await);
            }
            if wanted(Part::Requests) {
                rows.extend(functions::requests(requests.min(200)).await);
            }
            if wanted(Part::ColdStart) {
                rows.extend(functions::cold_starts(10).await);
            }
            if wanted(Part::Gateway) {
                rows.extend(gateway::latency(&stack, requests).await);
                rows.extend(gateway::rejections(&stack, connections, seconds).await);
            }
            if wanted(Part::Zips) {
                rows.extend(functions::zip_sizes(lambda_target.as_deref()));
            }
            stats::print(&rows);
        }
    }
}
