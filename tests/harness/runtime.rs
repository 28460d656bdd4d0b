//! A minimal Lambda Runtime API (the interface a function process polls for events), so the
//! real function binaries can be run and invoked exactly as Lambda runs them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

/// How an invocation ended.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

type Pending = (Value, oneshot::Sender<Outcome>);

struct Shared {
    queue: Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// When a function first asked for an event: the end of its cold start.
    first_poll: std::sync::Mutex<Option<std::time::Instant>>,
    /// Asynchronous invocations asked of Lambda's Invoke API: (function name, event).
    handed_off: std::sync::Mutex<Vec<(String, Value)>>,
}

/// A Runtime API on a free loopback port.
pub struct FakeRuntime {
    pub address: String,
    submit: mpsc::Sender<Pending>,
    server: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl FakeRuntime {
    pub async fn start() -> Self {
        let (submit, queue) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue),
            waiting: Mutex::new(HashMap::new()),
            first_poll: std::sync::Mutex::new(None),
            handed_off: std::sync::Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2015-03-31/functions/{name}/invocations", post(invoke_async))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { address, submit, server, shared }
    }

    /// Waits (bounded) until a function process has asked for its first event; returns when.
    pub async fn first_poll(&self, bound: Duration) -> std::time::Instant {
        let start = std::time::Instant::now();
        loop {
            if let Some(at) = *self.shared.first_poll.lock().unwrap() {
                return at;
            }
            assert!(start.elapsed() < bound, "no function polled within {bound:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Hands `event` to the function and waits (bounded) for its answer.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let (tx, rx) = oneshot::channel();
        self.submit.send((event, tx)).await.expect("runtime is running");
        tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("the function answered within 60 s")
            .expect("the function answered")
    }

    /// Where a function's Lambda client reaches this runtime's Invoke API
    /// (`AWS_ENDPOINT_URL_LAMBDA`), which takes asynchronous (`Event`) invocations only.
    pub fn lambda_endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The asynchronous invocations asked for so far: (function name, event). Nothing runs
    /// them: the test invokes each as Lambda would.
    pub fn handed_off(&self) -> Vec<(String, Value)> {
        self.shared.handed_off.lock().unwrap().clone()
    }

    /// Starts a function binary of this workspace against this runtime.
    pub fn spawn_function(&self, bin: &str, env: &[(&str, String)]) -> Child {
        let mut command = self.function_command(bin, env);
        command.spawn().unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
    }

    /// The command that runs a function binary against this runtime, with only `env` (and
    /// what Lambda itself sets) in its environment.
    pub fn function_command(&self, bin: &str, env: &[(&str, String)]) -> Command {
        let mut command = Command::new(workspace_binary(bin));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", bin)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        command
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The path of a binary of this workspace built by cargo for this test run.
pub fn workspace_binary(bin: &str) -> PathBuf {
    // Integration tests live in target/<profile>/deps; the binaries one level up.
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(bin);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build -p student-functions` first (scripts/test does)",
        path.display()
    );
    path
}

async fn next(State(shared): State<Arc<Shared>>) -> Result<(HeaderMap, String), StatusCode> {
    shared.first_poll.lock().unwrap().get_or_insert_with(std::time::Instant::now);
    // No more events once the runtime is being dropped: the function may as well stop.
    let (event, tx) = shared.queue.lock().await.recv().await.ok_or(StatusCode::SERVICE_UNAVAILABLE)?;
    let id = uuid::Uuid::new_v4().to_string();
    shared.waiting.lock().await.insert(id.clone(), tx);
    let deadline =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_secs(60);
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert("lambda-runtime-deadline-ms", deadline.as_millis().to_string().parse().unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:test".parse().unwrap(),
    );
    Ok((headers, event.to_string()))
}

/// Lambda's `Invoke` with `X-Amz-Invocation-Type: Event`: queued, answered 202 at once.
async fn invoke_async(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    if headers.get("x-amz-invocation-type").and_then(|v| v.to_str().ok()) != Some("Event") {
        return StatusCode::BAD_REQUEST;
    }
    let Ok(event) = serde_json::from_str(&body) else { return StatusCode::BAD_REQUEST };
    shared.handed_off.lock().unwrap().push((name, event));
    StatusCode::ACCEPTED
}

async fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().await.remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn respond(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    finish(&shared, &id, Outcome::Response(value)).await
}

async fn fail(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    finish(&shared, &id, Outcome::Error(value)).await
}
