//! The gateway's HTTP server: its state, its routes, and how it is started. The gateway's own
//! routes (health, GetUsage) and Lambda's Invoke API are declared here; the API's come from the
//! control plane and are served by [`crate::api`] as the fallback.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::connections::ConnectionLimits;
use crate::control::Shared;
use crate::lambda::{Background, Endpoint, InvokeApi, Lambda};
use crate::limits::{Clock, Limiter};
use crate::model::Snapshot;
use crate::responses::{self, RequestIds};

pub struct Config {
    /// Where the Lambda Invoke API is served (cargo lambda watch).
    pub lambda_endpoint: String,
    pub integration_timeout: Duration,
    /// Invocations in flight at once; more wait for a place (within the timeout). The Invoke
    /// API's synchronous invocations have as many places of their own.
    pub max_in_flight: usize,
    /// Lambda's function timeout: the bound of an invocation through the Invoke API.
    pub function_timeout: Duration,
    /// Asynchronous invocations running at once (the Invoke API's and the schedules').
    pub max_background: usize,
    /// From a request's admission (its head passed every check) to its body's last byte.
    pub body_timeout: Duration,
}

pub struct Gateway<C: Clock> {
    snapshot: Shared,
    pub(crate) limiter: Limiter<C>,
    pub(crate) lambda: Lambda,
    invoke: InvokeApi,
    background: Arc<Background>,
    pub(crate) body_timeout: Duration,
}

impl<C: Clock + 'static> Gateway<C> {
    pub fn new(snapshot: Shared, clock: C, config: Config) -> Arc<Self> {
        let endpoint = Endpoint::new(&config.lambda_endpoint);
        let lambda = Lambda::new(endpoint.clone(), config.integration_timeout, config.max_in_flight);
        let background = Arc::new(Background::new(endpoint.clone(), config.max_background, config.function_timeout));
        let invoke = InvokeApi::new(endpoint, config.max_in_flight, config.function_timeout, background.clone());
        let body_timeout = config.body_timeout;
        Arc::new(Self { snapshot, limiter: Limiter::new(clock), lambda, invoke, background, body_timeout })
    }

    /// Where asynchronous invocations run (the schedules start theirs there too).
    pub fn background(&self) -> Arc<Background> {
        self.background.clone()
    }

    pub fn router(self: Arc<Self>) -> axum::Router {
        axum::Router::new()
            .route("/_gateway/health", get(health::<C>))
            .route("/usageplans/{plan_id}/usage", get(get_usage::<C>))
            .fallback(crate::api::handle::<C>)
            .layer(middleware::from_fn(with_request_ids))
            // Added after the layer: Lambda's answers carry Lambda's request id, not API
            // Gateway's ids.
            .route("/2015-03-31/functions/{function}/invocations", post(invoke::<C>))
            .with_state(self)
    }

    /// The configuration in force now; a request keeps the one it started with.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("not poisoned").clone()
    }
}

/// Gives each request its ids (the API's proxy event carries them) and stamps them on its
/// response, whichever route answers.
async fn with_request_ids(mut request: Request, next: Next) -> Response {
    let ids = RequestIds::generate();
    request.extensions_mut().insert(ids.clone());
    let mut response = next.run(request).await;
    ids.stamp(&mut response);
    response
}

/// Ready once the API and a stage have been read from the control plane (scripts and tests
/// wait for this).
async fn health<C: Clock + 'static>(State(gw): State<Arc<Gateway<C>>>) -> Response {
    let snapshot = gw.current();
    let ready = !snapshot.api_id.is_empty() && !snapshot.stages.is_empty();
    let mut stages: Vec<&String> = snapshot.stages.keys().collect();
    stages.sort();
    let body = json!({"ready": ready, "apiId": snapshot.api_id, "stages": stages, "keys": snapshot.keys_by_value.len(), "plans": snapshot.plans.len()});
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    responses::json(status, body, None)
}

async fn get_usage<C: Clock + 'static>(
    State(gw): State<Arc<Gateway<C>>>,
    Path(plan_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    crate::usage::get_usage(&gw.limiter, &gw.current(), &plan_id, query.as_deref())
}

async fn invoke<C: Clock + 'static>(
    State(gw): State<Arc<Gateway<C>>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    gw.invoke.handle(&function, &headers, body).await
}

/// Serves on `listener` until `shutdown` resolves, within the default [`ConnectionLimits`].
/// Each request keeps its header-name case (hyper's `preserve_header_case`, which
/// `axum::serve` does not expose): API Gateway passes names as the client sent them
/// (`proxy::header_case`).
pub async fn serve(
    router: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::connections::serve(router, listener, ConnectionLimits::default(), shutdown).await
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::RwLock;

    use serde_json::Value;

    use super::*;
    use crate::limits::SystemClock;
    use crate::model::{
        ApiKey, GatewayResponseConfig, Integration, MethodRoute, Period, Quota, ResourceRoute, RouteTable, Throttle,
        UsagePlan,
    };

    fn method(path: &str, api_key_required: bool, integration: Integration) -> MethodRoute {
        MethodRoute { resource_id: format!("id{path}"), resource_path: path.to_owned(), api_key_required, integration }
    }

    fn plan(id: &str, key: &str, throttle: Option<Throttle>, quota: Option<Quota>) -> UsagePlan {
        let stages = vec![("api1".to_owned(), "prod".to_owned())];
        UsagePlan {
            id: id.to_owned(),
            throttle,
            quota,
            stages,
            key_ids: HashSet::from([key.to_owned()]),
            ..Default::default()
        }
    }

    /// `prod` serves GET /students (a key, a function nobody serves), its MOCK preflight, and
    /// GET /legacy (an integration the gateway cannot serve). Gateway responses carry CORS.
    fn snapshot() -> Snapshot {
        let students = ResourceRoute {
            segments: vec!["students".into()],
            methods: HashMap::from([
                ("GET".into(), method("/students", true, Integration::LambdaProxy { function: "nobody".into() })),
                (
                    "OPTIONS".into(),
                    method(
                        "/students",
                        false,
                        Integration::Mock {
                            headers: vec![("Access-Control-Allow-Methods".into(), "GET,OPTIONS".into())],
                        },
                    ),
                ),
            ]),
        };
        let legacy = ResourceRoute {
            segments: vec!["legacy".into()],
            methods: HashMap::from([("GET".into(), method("/legacy", false, Integration::Unsupported("HTTP".into())))]),
        };
        let table = Arc::new(RouteTable { resources: vec![students, legacy], ..Default::default() });
        let key = |id: &str, enabled| ApiKey { id: id.into(), enabled, ..Default::default() };
        let cors =
            GatewayResponseConfig { status: None, headers: vec![("Access-Control-Allow-Origin".into(), "*".into())] };
        // No refill within a test.
        let one_token = Throttle { rate_limit: 0.000_001, burst_limit: 1.0 };
        Snapshot {
            api_id: "api1".into(),
            stages: HashMap::from([("prod".into(), ("dep1".into(), table))]),
            keys_by_value: HashMap::from([
                ("throttled-key-000000000".into(), key("k1", true)),
                ("quota-key-000000000000".into(), key("k2", true)),
                ("disabled-key-000000000".into(), key("k3", false)),
                ("planless-key-000000000".into(), key("k4", true)),
            ]),
            plans: vec![
                plan("p1", "k1", Some(one_token), None),
                plan("p2", "k2", None, Some(Quota { limit: 1, period: Period::Day })),
            ],
            gateway_responses: HashMap::from([("DEFAULT_4XX".into(), cors.clone()), ("DEFAULT_5XX".into(), cors)]),
            ..Default::default()
        }
    }

    /// A gateway on a free loopback port; the Lambda endpoint refuses connections.
    async fn start(snapshot: Snapshot) -> String {
        let config = Config {
            lambda_endpoint: "http://127.0.0.1:1".into(),
            integration_timeout: Duration::from_secs(5),
            max_in_flight: 4,
            function_timeout: Duration::from_secs(5),
            max_background: 4,
            body_timeout: Duration::from_secs(5),
        };
        let gateway = Gateway::new(Arc::new(RwLock::new(Arc::new(snapshot))), SystemClock::default(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(gateway.router(), listener, std::future::pending()));
        url
    }

    struct Answer {
        status: u16,
        headers: http::HeaderMap,
        body: Value,
    }

    impl Answer {
        fn header(&self, name: &str) -> &str {
            self.headers.get(name).map_or("", |v| v.to_str().unwrap())
        }

        /// A gateway response: status, message, error type, the configured CORS header and ids.
        fn is(&self, status: u16, message: &str, error_type: &str) -> bool {
            self.status == status
                && self.body == json!({ "message": message })
                && self.header("x-amzn-errortype") == error_type
                && self.header("access-control-allow-origin") == "*"
                && self.has_ids()
        }

        fn has_ids(&self) -> bool {
            !self.header("x-amzn-requestid").is_empty() && !self.header("x-amz-apigw-id").is_empty()
        }
    }

    async fn call(request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let bytes = response.bytes().await.unwrap();
        Answer { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    #[tokio::test]
    async fn the_gateway_routes_answer_with_ids() {
        let url = start(snapshot()).await;
        let http = reqwest::Client::new();
        let health = call(http.get(format!("{url}/_gateway/health"))).await;
        assert_eq!(health.status, 200);
        assert_eq!(health.body, json!({"ready": true, "apiId": "api1", "stages": ["prod"], "keys": 4, "plans": 2}));
        assert!(health.has_ids());
        let not_ready = call(http.get(format!("{}/_gateway/health", start(Snapshot::default()).await))).await;
        assert_eq!(not_ready.status, 503);
        // The gateway's own routes are GET only.
        let posted = call(http.post(format!("{url}/_gateway/health"))).await;
        assert!(posted.status == 405 && posted.has_ids());

        let usage = call(http.get(format!("{url}/usageplans/p2/usage?startDate=2026-11-01&endDate=2026-11-02"))).await;
        assert_eq!(usage.status, 200);
        assert_eq!(usage.body["items"], json!({"k2": [[0, 1], [0, 1]]}));
        assert!(usage.has_ids());
        let unknown = call(http.get(format!("{url}/usageplans/nope/usage"))).await;
        assert_eq!((unknown.status, unknown.header("x-amzn-errortype")), (404, "NotFoundException"));
        assert!(unknown.has_ids());
    }

    #[tokio::test]
    async fn the_api_refuses_in_api_gateways_order() {
        let url = start(snapshot()).await;
        let http = reqwest::Client::new();
        let get = |path: &str, key: Option<&str>| {
            let request = http.get(format!("{url}{path}"));
            match key {
                Some(k) => request.header("x-api-key", k),
                None => request,
            }
        };
        // The body's size first: even on a stage that does not exist.
        let big = http.post(format!("{url}/nostage/students")).body(vec![b'x'; crate::api::MAX_REQUEST_BYTES + 1]);
        assert!(call(big).await.is(413, "Request Too Long", "RequestTooLongException"));
        // Then the route: stage, resource, method.
        let missing = ("Missing Authentication Token", "MissingAuthenticationTokenException");
        for request in
            [get("/dev/students", None), get("/prod/nowhere", None), http.delete(format!("{url}/prod/students"))]
        {
            assert!(call(request).await.is(403, missing.0, missing.1));
        }
        // Then the key: missing, unknown, disabled, in no plan for the stage.
        for key in
            [None, Some("unknown-key-0000000000"), Some("disabled-key-000000000"), Some("planless-key-000000000")]
        {
            assert!(call(get("/prod/students", key)).await.is(403, "Forbidden", "ForbiddenException"), "{key:?}");
        }
        // Then the plan's throttle and quota; an admitted request reaches the integration (here
        // a function nobody serves: 502).
        let bad_gateway = ("Internal server error", "InternalServerErrorException");
        assert!(call(get("/prod/students", Some("throttled-key-000000000"))).await.is(
            502,
            bad_gateway.0,
            bad_gateway.1
        ));
        let throttled = call(get("/prod/students", Some("throttled-key-000000000"))).await;
        assert!(throttled.is(429, "Too Many Requests", "TooManyRequestsException"));
        assert!(call(get("/prod/students", Some("quota-key-000000000000"))).await.is(
            502,
            bad_gateway.0,
            bad_gateway.1
        ));
        let exceeded = call(get("/prod/students", Some("quota-key-000000000000"))).await;
        assert!(exceeded.is(429, "Limit Exceeded", "LimitExceededException"));
    }

    #[tokio::test]
    async fn integrations_mock_answers_and_unsupported_ones_fail() {
        let url = start(snapshot()).await;
        let http = reqwest::Client::new();
        let preflight = call(http.request(reqwest::Method::OPTIONS, format!("{url}/prod/students"))).await;
        assert_eq!((preflight.status, preflight.header("access-control-allow-methods")), (200, "GET,OPTIONS"));
        assert!(preflight.has_ids());
        let legacy = call(http.get(format!("{url}/prod/legacy"))).await;
        assert!(legacy.is(500, "Internal server error", "InternalServerErrorException"));
    }
}
