//! `TestApp`: one test's whole local stack (`scripts/dev` on free ports), with the requests
//! and control-plane changes the end-to-end tests make through it.

use std::ops::Deref;
use std::time::{Duration, Instant};

use harness::apigateway;
use harness::runtime::workspace_binary;
use harness::stack::LocalStack;

pub struct TestApp {
    stack: LocalStack,
}

impl std::ops::DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut LocalStack {
        &mut self.stack
    }
}

/// The stack's URLs, key, environment and SDK configuration, as `LocalStack` has them.
impl Deref for TestApp {
    type Target = LocalStack;
    fn deref(&self) -> &LocalStack {
        &self.stack
    }
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl TestApp {
    /// `scripts/dev --no-web --fresh` with `extra` environment, ready.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self { stack: LocalStack::start(extra).await }
    }

    /// ... with more `scripts/dev` arguments.
    pub async fn start_with(args: &[&str], extra: &[(&str, &str)]) -> Self {
        Self { stack: LocalStack::start_with(args, extra).await }
    }

    /// One request through the local gateway: `path` below the stage, with or without a key.
    pub async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Answer {
        let url = format!("{}{path}", self.api_url);
        let mut request = self.http.request(method.parse().unwrap(), url);
        if let Some(k) = key {
            request = request.header(system::names::API_KEY_HEADER, k);
        }
        if let Some(b) = body {
            request = request.header("content-type", "application/json").body(b.to_owned());
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Answer { status, headers, body }
    }

    /// `infra <args>` as a developer runs it with `stack.env` sourced (and the emulator's
    /// credentials); `usage` reaches the local gateway through its `GATEWAY_URL`.
    pub async fn infra(&self, args: &[&str]) -> std::process::Output {
        let credentials = harness::Emulator::attach(&self.env["AWS_ENDPOINT_URL"]).function_env();
        let mut command = tokio::process::Command::new(workspace_binary("infra"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .envs(credentials.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(std::process::Stdio::null());
        let bound = Duration::from_secs(60);
        tokio::time::timeout(bound, command.output())
            .await
            .unwrap_or_else(|_| panic!("infra {args:?} did not finish within {bound:?}"))
            .expect("infra runs")
    }

    /// The control plane the gateway reads (the stack's emulator).
    pub async fn gateway(&self) -> aws_sdk_apigateway::Client {
        aws_sdk_apigateway::Client::new(&self.sdk().await)
    }

    pub fn api_id(&self) -> String {
        self.outputs().api_id
    }

    /// A second key in a roomy plan of its own, so tests of behaviour are not throttled by the
    /// product plan's 5 requests a second.
    pub async fn roomy_key(&self) -> String {
        let value = format!("e2e-{}", uuid::Uuid::new_v4().simple());
        apigateway::key_in_own_plan(&self.gateway().await, &self.api_id(), "e2e", &value, 1000, 1_000_000).await;
        within(Duration::from_secs(5), "the new key works", || async {
            self.call("GET", "/students?limit=1", Some(&value), None).await.status == 200
        })
        .await;
        value
    }

    /// Adds `GET /<path>` (key required) proxying to a test function, and redeploys the stage.
    pub async fn add_test_route(&self, path: &str, function: &str) {
        self.add_test_route_with(&[path], function, "POST").await;
        self.redeploy().await;
    }

    /// Adds `GET /<path...>` (key required, nested resources as needed) proxying to a test
    /// function with `integration_method` (Lambda needs POST), without redeploying.
    pub async fn add_test_route_with(&self, path: &[&str], function: &str, integration_method: &str) {
        let gw = self.gateway().await;
        let api = self.api_id();
        let resources = gw.get_resources().rest_api_id(&api).send().await.unwrap();
        let mut parent = resources.items().iter().find(|r| r.path() == Some("/")).unwrap().id().unwrap().to_owned();
        let mut full = String::new();
        for part in path {
            full = format!("{full}/{part}");
            parent = match resources.items().iter().find(|r| r.path() == Some(full.as_str())) {
                Some(existing) => existing.id().unwrap().to_owned(),
                None => {
                    let made = gw.create_resource().rest_api_id(&api).parent_id(&parent).path_part(*part).send();
                    made.await.unwrap().id().unwrap().to_owned()
                }
            };
        }
        let function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
        let uri = apigateway::lambda_uri(&function_arn);
        apigateway::put_proxy_method_with(&gw, &api, &parent, "GET", true, &uri, integration_method).await;
    }

    /// A new deployment of the stage.
    pub async fn redeploy(&self) {
        let gw = self.gateway().await;
        gw.create_deployment().rest_api_id(self.api_id()).stage_name(system::names::STAGE).send().await.unwrap();
    }
}

/// Polls until `check` holds, for at most `bound` (the gateway reads the control plane every
/// second); returns how long it took.
pub async fn within<F, Fut>(bound: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
