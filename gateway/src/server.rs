//! The data plane: `/{stage}/{path}` → key → usage plan → integration, with API Gateway's
//! errors and headers; plus GetUsage for the local stack.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use base64::Engine as _;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Request, StatusCode};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::control::Shared;
use crate::limits::{Clock, Decision, Limiter};
use crate::model::{Integration, Snapshot};
use crate::proxy::{self, RequestFacts};
use crate::responses::GatewayError;

/// API Gateway's REST payload limit.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

pub struct Config {
    /// Where the Lambda Invoke API is served (cargo lambda watch).
    pub lambda_endpoint: String,
    pub integration_timeout: Duration,
    /// Invocations in flight at once; more wait for a place (within the timeout).
    pub max_in_flight: usize,
}

pub struct Gateway<C: Clock> {
    snapshot: Shared,
    limiter: Limiter<C>,
    http: reqwest::Client,
    config: Config,
    in_flight: Semaphore,
}

impl<C: Clock + 'static> Gateway<C> {
    pub fn new(snapshot: Shared, clock: C, config: Config) -> Arc<Self> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("an HTTP client");
        Arc::new(Self {
            snapshot,
            limiter: Limiter::new(clock),
            http,
            in_flight: Semaphore::new(config.max_in_flight),
            config,
        })
    }

    pub fn router(self: Arc<Self>) -> axum::Router {
        axum::Router::new().fallback(handle::<C>).with_state(self)
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("not poisoned").clone()
    }
}

/// Identifiers every response carries.
struct Ids {
    request_id: String,
    apigw_id: String,
}

impl Ids {
    fn new() -> Self {
        let raw = uuid::Uuid::new_v4();
        let apigw_id = base64::engine::general_purpose::STANDARD.encode(&raw.as_bytes()[..12]);
        Self { request_id: uuid::Uuid::new_v4().to_string(), apigw_id }
    }

    fn stamp(&self, response: &mut Response) {
        let h = response.headers_mut();
        h.insert("x-amzn-requestid", HeaderValue::from_str(&self.request_id).expect("a uuid"));
        h.insert("x-amz-apigw-id", HeaderValue::from_str(&self.apigw_id).expect("base64"));
    }
}

fn error_response(error: GatewayError, snapshot: &Snapshot, ids: &Ids) -> Response {
    let shape = error.shape();
    let (status, headers) = error.configured(snapshot);
    let mut response = stamp_json(status, json!({ "message": shape.message }), Some(shape.error_type));
    // After content-type and the error type, so that configured headers may override them.
    insert_headers(&mut response, headers);
    ids.stamp(&mut response);
    response
}

/// Sets each (name, value) pair that is a valid header; the rest are skipped.
fn insert_headers(response: &mut Response, pairs: &[(String, String)]) {
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(n, v);
        }
    }
}

async fn handle<C: Clock + 'static>(
    State(gw): State<Arc<Gateway<C>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let ids = Ids::new();
    let snapshot = gw.current();
    let path = request.uri().path().to_owned();
    if path == "/_gateway/health" {
        return health(&snapshot, &ids);
    }
    if let Some(plan) = path.strip_prefix("/usageplans/").and_then(|p| p.strip_suffix("/usage")) {
        let mut response = crate::usage::get_usage(&gw.limiter, &snapshot, plan, request.uri().query());
        ids.stamp(&mut response);
        return response;
    }

    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let (parts, body) = request.into_parts();
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES) {
        drain(body).await;
        return error_response(GatewayError::RequestTooLarge, &snapshot, &ids);
    }
    let Ok(body) = to_bytes(body, MAX_REQUEST_BYTES).await else {
        return error_response(GatewayError::RequestTooLarge, &snapshot, &ids);
    };

    // /{stage}/{path}
    let trimmed = path.trim_start_matches('/');
    let (stage, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let resource_path = format!("/{rest}");
    let Some((deployment_id, table)) = snapshot.stages.get(stage) else {
        return error_response(GatewayError::MissingAuthenticationToken, &snapshot, &ids);
    };
    let method = parts.method.as_str();
    let Some(matched) = table.find(method, &resource_path) else {
        return error_response(GatewayError::MissingAuthenticationToken, &snapshot, &ids);
    };
    let route = matched.method;

    let mut api_key = None;
    if route.api_key_required {
        let presented = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let Some((value, key)) = presented.and_then(|v| snapshot.keys_by_value.get_key_value(v)) else {
            return error_response(GatewayError::InvalidApiKey, &snapshot, &ids);
        };
        if !key.enabled {
            return error_response(GatewayError::InvalidApiKey, &snapshot, &ids);
        }
        let Some(plan) = snapshot.plan_for(&key.id, stage) else {
            return error_response(GatewayError::InvalidApiKey, &snapshot, &ids);
        };
        match gw.limiter.admit(&plan.id, &key.id, plan.throttle, plan.quota) {
            Decision::Allowed => {}
            Decision::Throttled => return error_response(GatewayError::Throttled, &snapshot, &ids),
            Decision::QuotaExceeded => return error_response(GatewayError::QuotaExceeded, &snapshot, &ids),
        }
        api_key = Some((value.as_str(), key.id.as_str()));
    }

    let mut response = match &route.integration {
        Integration::Mock { headers } => {
            let mut response = Response::new(Body::empty());
            insert_headers(&mut response, headers);
            response
        }
        Integration::Unsupported(what) => {
            tracing::warn!(integration = what, path, "integration not supported by the local gateway");
            return error_response(GatewayError::IntegrationFailure, &snapshot, &ids);
        }
        Integration::LambdaProxy { function } => {
            let facts = RequestFacts {
                method,
                resource_path: &route.resource_path,
                resource_id: &route.resource_id,
                path: &resource_path,
                stage,
                api_id: &snapshot.api_id,
                deployment_id,
                request_id: &ids.request_id,
                extended_request_id: &ids.apigw_id,
                headers: &parts.headers,
                query: parts.uri.query(),
                path_parameters: &matched.path_parameters,
                body: &body,
                source_ip: &peer.ip().to_string(),
                api_key,
                now: OffsetDateTime::now_utc(),
            };
            match invoke(&gw, function, proxy::event(&facts)).await {
                Ok(r) => r,
                Err(e) => return error_response(e, &snapshot, &ids),
            }
        }
    };
    ids.stamp(&mut response);
    response
}

/// Reads and drops a refused body (up to twice the limit), so the client that is still
/// sending it receives the 413 instead of a broken connection.
async fn drain(body: Body) {
    use futures::StreamExt as _;
    let mut body = body.into_data_stream();
    let mut read = 0usize;
    while read <= 2 * MAX_REQUEST_BYTES {
        match body.next().await {
            Some(Ok(chunk)) => read += chunk.len(),
            _ => return,
        }
    }
}

/// Calls the function through the Lambda Invoke API and maps its answer.
async fn invoke<C: Clock>(gw: &Gateway<C>, function: &str, event: serde_json::Value) -> Result<Response, GatewayError> {
    let deadline = tokio::time::Instant::now() + gw.config.integration_timeout;
    let _permit = tokio::time::timeout_at(deadline, gw.in_flight.acquire())
        .await
        .map_err(|_| GatewayError::IntegrationTimeout)?
        .expect("the semaphore is never closed");
    let url =
        format!("{}/2015-03-31/functions/{function}/invocations", gw.config.lambda_endpoint.trim_end_matches('/'));
    let call = gw.http.post(&url).json(&event).send();
    let answer = match tokio::time::timeout_at(deadline, call).await {
        Err(_) => return Err(GatewayError::IntegrationTimeout),
        Ok(Err(e)) => {
            tracing::warn!(function, error = %e, "invoke failed");
            return Err(GatewayError::BadGateway);
        }
        Ok(Ok(r)) => r,
    };
    let status = answer.status();
    let function_error = answer.headers().contains_key("x-amz-function-error");
    let payload = match tokio::time::timeout_at(deadline, answer.bytes()).await {
        Err(_) => return Err(GatewayError::IntegrationTimeout),
        Ok(Err(_)) => return Err(GatewayError::BadGateway),
        Ok(Ok(b)) => b,
    };
    if !status.is_success() || function_error {
        // cargo lambda answers a handler error with 500 {errorType, errorMessage}; Lambda
        // with 200 and X-Amz-Function-Error. Either way: 502.
        tracing::warn!(function, %status, payload = %String::from_utf8_lossy(&payload[..payload.len().min(300)]), "function error");
        return Err(GatewayError::BadGateway);
    }
    let Some(parsed) = proxy::read_response(&payload) else {
        tracing::warn!(function, "malformed Lambda proxy response");
        return Err(GatewayError::BadGateway);
    };
    let mut response = Response::new(Body::from(parsed.body));
    *response.status_mut() = parsed.status;
    for (name, value) in parsed.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().append(n, v);
        }
    }
    Ok(response)
}

fn health(snapshot: &Snapshot, ids: &Ids) -> Response {
    let ready = !snapshot.api_id.is_empty() && !snapshot.stages.is_empty();
    let mut stages: Vec<&String> = snapshot.stages.keys().collect();
    stages.sort();
    let body = json!({"ready": ready, "apiId": snapshot.api_id, "stages": stages, "keys": snapshot.keys_by_value.len(), "plans": snapshot.plans.len()});
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut response = stamp_json(status, body, None);
    ids.stamp(&mut response);
    response
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    router: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

pub fn stamp_json(status: StatusCode, body: serde_json::Value, error_type: Option<&'static str>) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(t) = error_type {
        response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(t));
    }
    response
}
