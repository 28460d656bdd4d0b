//! The API as deployed: `/{stage}/{path...}`, any method. Its routes come from the control
//! plane at run time, so it is the router's fallback rather than routes of its own.
//!
//! A request goes through API Gateway's steps in API Gateway's order — the announced body
//! size (413), the route (403 Missing Authentication Token), the key and its usage plan (403,
//! 429), all from the request's head; then the body (413, 408 when it is not sent in time);
//! the integration (MOCK, Lambda proxy) — and the first step that refuses it says why with a
//! [`GatewayError`], which [`handle`] turns into the gateway response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody as _, to_bytes};
use axum::extract::{ConnectInfo, Extension, State};
use axum::response::Response;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{HeaderMap, Method, Request};
use time::OffsetDateTime;

use crate::limits::{Client, Clock, Decision, Limiter, Server};
use crate::model::{Integration, Matched, Snapshot, method_key};
use crate::proxy::{self, AdmittedKey, RequestFacts, Trace};
use crate::responses::{self, GatewayError, RequestIds};
use crate::server::Gateway;

/// API Gateway's REST payload limit.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// Serves one request of the API, under the configuration current when it arrived.
pub async fn handle<C: Clock + 'static>(
    State(gw): State<Arc<Gateway<C>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(ids): Extension<RequestIds>,
    request: Request<Body>,
) -> Response {
    let snapshot = gw.current();
    serve(&gw, &snapshot, &ids, peer, request).await
}

/// The answer to one request; a refusal is the gateway response for it, which may map the
/// request's headers into its own.
async fn serve<C: Clock>(
    gw: &Gateway<C>,
    snapshot: &Snapshot,
    ids: &RequestIds,
    peer: SocketAddr,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    // Everything that can refuse a request from its head does so before a body byte is read:
    // a client without a key cannot make the gateway hold, or even wait for, its upload.
    let admitted = check_size(&parts.headers)
        .and_then(|()| resolve(snapshot, &parts.method, parts.uri.path()))
        .and_then(|route| Ok((authorize(&gw.limiter, snapshot, &route, &parts.method, &parts.headers)?, route)));
    let (key, route) = match admitted {
        Ok(admitted) => admitted,
        Err(refused) => {
            discard(body);
            return refused.response(snapshot, &parts.headers);
        }
    };
    let body = match read_body(body, gw.body_timeout).await {
        Ok(body) => body,
        Err(refused) => return refused.response(snapshot, &parts.headers),
    };
    let inbound = Inbound { parts, body, peer };
    integrate(gw, snapshot, &route, key, ids, &inbound)
        .await
        .unwrap_or_else(|error| error.response(snapshot, &inbound.parts.headers))
}

/// A body announced over API Gateway's limit is refused from the headers (413).
fn check_size(headers: &HeaderMap) -> Result<(), GatewayError> {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    match declared {
        Some(n) if n > MAX_REQUEST_BYTES => Err(GatewayError::RequestTooLarge),
        _ => Ok(()),
    }
}

/// The whole body, within API Gateway's limit (else 413) and within `timeout` (else 408).
async fn read_body(body: Body, timeout: Duration) -> Result<Bytes, GatewayError> {
    match tokio::time::timeout(timeout, to_bytes(body, MAX_REQUEST_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        // Over the limit as it streamed (no Content-Length, or a false one); what is left is
        // not read.
        Ok(Err(_)) => Err(GatewayError::RequestTooLarge),
        Err(_) => Err(GatewayError::RequestTimeout),
    }
}

/// How much of a refused body is read and dropped, and for how long, after the answer has
/// gone out: enough that a client still sending it reads the answer rather than a reset
/// connection, bounded so that it costs no memory and ties the connection up briefly.
const DRAIN_BYTES: usize = 2 * MAX_REQUEST_BYTES;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads and drops a refused body in the background, within [`DRAIN_BYTES`] and
/// [`DRAIN_TIME`]; a body longer or slower than that closes its connection (hyper closes one
/// whose body was not read to its end).
fn discard(body: Body) {
    use futures::StreamExt as _;
    if body.is_end_stream() {
        return;
    }
    tokio::spawn(async move {
        let mut body = body.into_data_stream();
        let mut read = 0usize;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while read <= DRAIN_BYTES {
                match body.next().await {
                    Some(Ok(chunk)) => read += chunk.len(),
                    _ => return,
                }
            }
        })
        .await;
    });
}

/// Where a request goes: the method a stage's deployment serves at a path.
struct Route<'s> {
    stage: &'s str,
    deployment_id: &'s str,
    /// Without the stage, as sent: `/students`.
    path: String,
    matched: Matched<'s>,
    /// The deployment's `binaryMediaTypes`.
    binary_media_types: &'s [String],
}

/// `/{stage}/{path}` → the route; no such stage, resource or method → 403 Missing
/// Authentication Token (API Gateway does not say which).
fn resolve<'s>(snapshot: &'s Snapshot, method: &Method, path: &str) -> Result<Route<'s>, GatewayError> {
    let trimmed = path.trim_start_matches('/');
    let (stage, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let path = format!("/{rest}");
    let (stage, (deployment_id, table)) =
        snapshot.stages.get_key_value(stage).ok_or(GatewayError::MissingAuthenticationToken)?;
    let matched = table.find(method.as_str(), &path).ok_or(GatewayError::MissingAuthenticationToken)?;
    Ok(Route { stage, deployment_id, path, matched, binary_media_types: &table.binary_media_types })
}

/// For a method that requires a key: `x-api-key` must name a known, enabled key in a usage
/// plan of this stage (else 403 Forbidden), within the plan's per-method throttle, throttle
/// and quota (else 429). Then, for every request, the stage's throttle for the method (else
/// 429).
fn authorize<'s, C: Clock>(
    limiter: &Limiter<C>,
    snapshot: &'s Snapshot,
    route: &Route<'_>,
    http_method: &Method,
    headers: &HeaderMap,
) -> Result<Option<AdmittedKey<'s>>, GatewayError> {
    // Throttles name a method by its resource path and HTTP method (`ANY` for an ANY method).
    let keys = [
        method_key(&route.matched.method.resource_path, http_method.as_str()),
        method_key(&route.matched.method.resource_path, "ANY"),
    ];
    let server_limit = snapshot.stage_throttles.get(route.stage).and_then(|stage| {
        keys.iter().find_map(|k| Some((k, *stage.methods.get(k)?))).or_else(|| Some((&keys[0], stage.default?)))
    });
    let bucket = server_limit.map(|(k, _)| format!("{} {k}", route.stage));
    let server = server_limit.zip(bucket.as_deref()).map(|((_, throttle), bucket)| Server { bucket, throttle });
    let (client, admitted) = if route.matched.method.api_key_required {
        let presented = headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let (value, key) =
            presented.and_then(|v| snapshot.keys_by_value.get_key_value(v)).ok_or(GatewayError::InvalidApiKey)?;
        if !key.enabled {
            return Err(GatewayError::InvalidApiKey);
        }
        let plan = snapshot.plan_for(&key.id, route.stage).ok_or(GatewayError::InvalidApiKey)?;
        let per_method = plan.method_throttles.get(route.stage);
        let method = keys.iter().find_map(|k| Some((k.as_str(), *per_method?.get(k)?)));
        let client = Client { plan: &plan.id, key: &key.id, method, throttle: plan.throttle, quota: plan.quota };
        (Some(client), Some(AdmittedKey { value, id: &key.id }))
    } else {
        (None, None)
    };
    if client.is_none() && server.is_none() {
        return Ok(None);
    }
    match limiter.admit_request(client, server) {
        Decision::Allowed => Ok(admitted),
        Decision::Throttled => Err(GatewayError::Throttled),
        Decision::QuotaExceeded => Err(GatewayError::QuotaExceeded),
    }
}

/// The port the client connected to, as its `Host` names it (80 when it does not).
fn arrival_port(parts: &Parts) -> u16 {
    let host = parts.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    host.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).unwrap_or(80)
}

/// The request as received.
struct Inbound {
    parts: Parts,
    body: Bytes,
    peer: SocketAddr,
}

/// The method's integration answers: MOCK with its header mappings, a Lambda proxy with the
/// function's answer; any other integration fails (500).
async fn integrate<C: Clock>(
    gw: &Gateway<C>,
    snapshot: &Snapshot,
    route: &Route<'_>,
    key: Option<AdmittedKey<'_>>,
    ids: &RequestIds,
    request: &Inbound,
) -> Result<Response, GatewayError> {
    let method = route.matched.method;
    match &method.integration {
        Integration::Mock { headers } => {
            let mut response = Response::new(Body::empty());
            responses::insert_headers(&mut response, headers);
            Ok(response)
        }
        Integration::Unsupported(what) => {
            let path = request.parts.uri.path();
            tracing::warn!(integration = what, path, "integration not supported by the local gateway");
            Err(GatewayError::IntegrationFailure)
        }
        Integration::LambdaProxy { function } => {
            let now = OffsetDateTime::now_utc();
            let trace = Trace::continue_or_start(&request.parts.headers, now);
            let header_names =
                proxy::header_case::original_names(&request.parts.headers, &request.parts.extensions).await;
            let facts = RequestFacts {
                method: &request.parts.method,
                resource_path: &method.resource_path,
                resource_id: &method.resource_id,
                path: &route.path,
                stage: route.stage,
                api_id: &snapshot.api_id,
                deployment_id: route.deployment_id,
                request_id: &ids.request_id,
                extended_request_id: &ids.apigw_id,
                headers: &request.parts.headers,
                header_names: &header_names,
                query: request.parts.uri.query(),
                path_parameters: &route.matched.path_parameters,
                body: &request.body,
                source_ip: &request.peer.ip().to_string(),
                port: arrival_port(&request.parts),
                trace: &trace,
                api_key: key,
                now,
            };
            let answer = gw.lambda.invoke(function, &proxy::event(&facts)).await?;
            let accept = request.parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
            let binary = proxy::response::is_binary(accept, route.binary_media_types);
            let mut response = answer.into_response(binary).ok_or_else(|| {
                tracing::warn!(function, "a base64 body that does not decode");
                GatewayError::BadGateway
            })?;
            let trace = http::HeaderValue::from_str(trace.as_str()).expect("a trace header is ASCII");
            response.headers_mut().insert(proxy::trace::HEADER, trace);
            Ok(response)
        }
    }
}
