//! Lambda's Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`) as Lambda
//! answers it, for the functions' own `lambda:Invoke` calls (scripts/dev points their SDK here
//! with `AWS_ENDPOINT_URL_LAMBDA`). cargo lambda watch ignores the invocation type — it runs
//! every invocation to its end and answers 200 with the result — so a function that hands work
//! to an asynchronous run of itself would wait for that run. Here:
//!
//! - `Event`: 202 with an empty body at once; the invocation runs in the [`Background`].
//! - `RequestResponse` (or no `X-Amz-Invocation-Type`): forwarded to cargo lambda, and answered
//!   with its status, payload and `X-Amz-Function-Error`.
//! - `DryRun`: 204.
//!
//! Refusals are Lambda's errors: `x-amzn-ErrorType` and `{"Type","message"}`, which the SDK reads.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::response::Response;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Answer, Background, Endpoint, function_name};
use crate::responses;

/// Lambda's payload limits: a synchronous invocation's request, an asynchronous one's.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
pub const MAX_EVENT_PAYLOAD: usize = 1024 * 1024;

pub struct InvokeApi {
    endpoint: Endpoint,
    /// Synchronous invocations at once; one more is refused at once (429), as Lambda refuses an
    /// invocation past its concurrency.
    in_flight: Semaphore,
    /// Lambda's function timeout, for synchronous invocations.
    timeout: Duration,
    background: Arc<Background>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

impl InvocationType {
    fn of(headers: &HeaderMap) -> Result<Self, InvokeError> {
        match headers.get("x-amz-invocation-type").map(HeaderValue::as_bytes) {
            None | Some(b"RequestResponse") => Ok(Self::RequestResponse),
            Some(b"Event") => Ok(Self::Event),
            Some(b"DryRun") => Ok(Self::DryRun),
            Some(_) => Err(InvokeError::InvocationType),
        }
    }

    fn max_payload(self) -> usize {
        match self {
            Self::Event => MAX_EVENT_PAYLOAD,
            Self::RequestResponse | Self::DryRun => MAX_SYNC_PAYLOAD,
        }
    }
}

/// Why the Invoke API refuses a call; each is the error Lambda answers in that case.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error(
        "1 validation error detected: Value at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    )]
    InvocationType,
    #[error(
        "1 validation error detected: Value at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern"
    )]
    FunctionName,
    #[error("Request must be smaller than {0} bytes for the InvokeFunction operation")]
    TooLarge(usize),
    #[error("Could not parse request body into json")]
    NotJson,
    /// Too many invocations at once (synchronous or in the background).
    #[error("Rate Exceeded.")]
    Busy,
    /// cargo lambda watch did not answer.
    #[error("the function could not be reached")]
    Unreachable,
}

impl InvokeError {
    fn response(&self) -> Response {
        let (status, error_type, kind) = match self {
            Self::InvocationType | Self::FunctionName => (StatusCode::BAD_REQUEST, "ValidationException", "User"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLargeException", "User"),
            Self::NotJson => (StatusCode::BAD_REQUEST, "InvalidRequestContentException", "User"),
            Self::Busy => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "User"),
            Self::Unreachable => (StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "Service"),
        };
        responses::json(status, json!({"Type": kind, "message": self.to_string()}), Some(error_type))
    }
}

impl InvokeApi {
    pub fn new(endpoint: Endpoint, max_in_flight: usize, timeout: Duration, background: Arc<Background>) -> Self {
        Self { endpoint, in_flight: Semaphore::new(max_in_flight), timeout, background }
    }

    /// Answers one call of `function` (a name or an ARN, as given in the path).
    pub async fn handle(&self, function: &str, headers: &HeaderMap, body: Body) -> Response {
        let mut response = self.serve(function, headers, body).await.unwrap_or_else(|e| e.response());
        let request_id = uuid::Uuid::new_v4().to_string();
        response.headers_mut().insert("x-amzn-requestid", HeaderValue::from_str(&request_id).expect("a uuid"));
        response
    }

    async fn serve(&self, function: &str, headers: &HeaderMap, body: Body) -> Result<Response, InvokeError> {
        let kind = InvocationType::of(headers)?;
        let name = function_name(function).ok_or(InvokeError::FunctionName)?;
        let limit = kind.max_payload();
        let payload = to_bytes(body, limit).await.map_err(|_| InvokeError::TooLarge(limit))?;
        // An empty payload is allowed (the SDK sends none when given none).
        if !payload.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
            return Err(InvokeError::NotJson);
        }
        match kind {
            InvocationType::DryRun => Ok(empty(StatusCode::NO_CONTENT)),
            InvocationType::Event => {
                self.background.start(name, payload).map_err(|busy| {
                    tracing::warn!(function = name, %busy, "asynchronous invocation refused");
                    InvokeError::Busy
                })?;
                Ok(empty(StatusCode::ACCEPTED))
            }
            InvocationType::RequestResponse => self.forward(name, payload).await,
        }
    }

    async fn forward(&self, function: &str, payload: Bytes) -> Result<Response, InvokeError> {
        let _permit = self.in_flight.try_acquire().map_err(|_| InvokeError::Busy)?;
        match tokio::time::timeout(self.timeout, self.endpoint.invoke(function, payload)).await {
            Err(_) => Ok(timed_out(self.timeout)),
            Ok(Err(e)) => {
                tracing::warn!(function, error = %e, "the functions' Invoke API did not answer");
                Err(InvokeError::Unreachable)
            }
            Ok(Ok(answer)) => Ok(passed_on(answer)),
        }
    }
}

/// cargo lambda's answer as it is: status, payload, `X-Amz-Function-Error`.
fn passed_on(answer: Answer) -> Response {
    let mut response = Response::new(Body::from(answer.payload));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
    if let Some(error) = answer.function_error {
        headers.insert("x-amz-function-error", error);
    }
    response
}

/// What Lambda answers when a synchronous invocation runs past the function timeout.
fn timed_out(timeout: Duration) -> Response {
    let message = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
    let mut response =
        responses::json(StatusCode::OK, json!({"errorType": "Sandbox.Timedout", "errorMessage": message}), None);
    response.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
    response
}

fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use std::sync::RwLock;

    use axum::extract::Path;
    use axum::routing::post;
    use serde_json::Value;
    use tokio::sync::{Notify, mpsc};

    use crate::limits::SystemClock;
    use crate::model::Snapshot;
    use crate::server::{self, Config, Gateway};

    use super::*;

    /// A fake of cargo lambda watch's Invoke API: it reports each call (function, payload), and
    /// its functions are `echo` (answers the payload), `slow` (answers when released), `broken`
    /// (cargo lambda's 500) and `handled` (Lambda's function error).
    struct Functions {
        url: String,
        calls: mpsc::UnboundedReceiver<(String, Value)>,
        release: Arc<Notify>,
    }

    async fn functions() -> Functions {
        let (report, calls) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let released = release.clone();
        let invoke = move |Path(name): Path<String>, payload: Bytes| {
            let (report, released) = (report.clone(), released.clone());
            async move {
                let event: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
                report.send((name.clone(), event)).unwrap();
                let mut response = Response::new(Body::from(payload.clone()));
                match name.as_str() {
                    "slow" => released.notified().await,
                    "broken" => {
                        *response.body_mut() = Body::from(r#"{"errorType":"Boom","errorMessage":"broken"}"#);
                        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    "handled" => {
                        response.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
                    }
                    _ => {}
                }
                response
            }
        };
        let router = axum::Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Functions { url, calls, release }
    }

    /// A gateway on a free loopback port whose functions are `lambda_endpoint`.
    async fn gateway(lambda_endpoint: &str, max_background: usize, function_timeout: Duration) -> String {
        let config = Config {
            lambda_endpoint: lambda_endpoint.to_owned(),
            integration_timeout: Duration::from_secs(5),
            max_in_flight: 4,
            function_timeout,
            max_background,
            body_timeout: Duration::from_secs(5),
        };
        let gw = Gateway::new(Arc::new(RwLock::new(Arc::new(Snapshot::default()))), SystemClock::default(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::serve(gw.router(), listener, std::future::pending()));
        url
    }

    async fn invoke(gateway: &str, function: &str, invocation_type: Option<&str>, payload: &str) -> reqwest::Response {
        let url = format!("{gateway}/2015-03-31/functions/{function}/invocations");
        let mut request = reqwest::Client::new().post(url).body(payload.to_owned());
        if let Some(t) = invocation_type {
            request = request.header("x-amz-invocation-type", t);
        }
        request.send().await.unwrap()
    }

    const SECOND: Duration = Duration::from_secs(1);
    const ARN: &str = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aslow";

    #[tokio::test]
    async fn an_event_is_accepted_before_the_function_finishes_and_still_runs() {
        let mut functions = functions().await;
        let gw = gateway(&functions.url, 4, Duration::from_secs(30)).await;
        // By ARN (percent-encoded, as the SDK sends it).
        let accepted = tokio::time::timeout(5 * SECOND, invoke(&gw, ARN, Some("Event"), r#"{"n":1}"#)).await;
        let accepted = accepted.expect("answered while the function runs");
        assert_eq!(accepted.status(), 202);
        assert!(accepted.headers().contains_key("x-amzn-requestid"));
        assert!(!accepted.headers().contains_key("x-amz-apigw-id"), "Lambda's answer, not API Gateway's");
        assert!(accepted.bytes().await.unwrap().is_empty());
        let call = tokio::time::timeout(5 * SECOND, functions.calls.recv()).await.unwrap().unwrap();
        assert_eq!(call, ("slow".to_owned(), json!({"n": 1})));
        functions.release.notify_one();
    }

    #[tokio::test]
    async fn background_invocations_are_capped() {
        let mut functions = functions().await;
        let gw = gateway(&functions.url, 1, Duration::from_secs(30)).await;
        assert_eq!(invoke(&gw, "slow", Some("Event"), "{}").await.status(), 202);
        functions.calls.recv().await.unwrap();
        let refused = invoke(&gw, "slow", Some("Event"), "{}").await;
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["x-amzn-errortype"], "TooManyRequestsException");
        // The place comes back when the running one ends.
        functions.release.notify_one();
        let start = tokio::time::Instant::now();
        while invoke(&gw, "echo", Some("Event"), "{}").await.status() != 202 {
            assert!(start.elapsed() < 5 * SECOND, "the place did not come back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn request_response_passes_cargo_lambdas_answer_through() {
        let functions = functions().await;
        let gw = gateway(&functions.url, 4, Duration::from_secs(30)).await;
        for invocation_type in [None, Some("RequestResponse")] {
            let echoed = invoke(&gw, "echo:live", invocation_type, r#"{"a":[1,2]}"#).await;
            assert_eq!(echoed.status(), 200);
            assert!(!echoed.headers().contains_key("x-amz-function-error"));
            assert_eq!(echoed.json::<Value>().await.unwrap(), json!({"a": [1, 2]}));
        }
        let broken = invoke(&gw, "broken", None, "{}").await;
        assert_eq!(broken.status(), 500);
        assert_eq!(broken.json::<Value>().await.unwrap()["errorType"], "Boom");
        let handled = invoke(&gw, "handled", None, "{}").await;
        assert_eq!(
            (handled.status().as_u16(), handled.headers()["x-amz-function-error"].to_str().unwrap()),
            (200, "Unhandled")
        );
    }

    #[tokio::test]
    async fn a_synchronous_invocation_past_the_function_timeout_is_a_function_error() {
        let functions = functions().await;
        let gw = gateway(&functions.url, 4, Duration::from_millis(200)).await;
        let timed_out = invoke(&gw, "slow", None, "{}").await;
        assert_eq!(
            (timed_out.status().as_u16(), timed_out.headers()["x-amz-function-error"].to_str().unwrap()),
            (200, "Unhandled")
        );
        assert_eq!(timed_out.json::<Value>().await.unwrap()["errorType"], "Sandbox.Timedout");
    }

    #[tokio::test]
    async fn dry_runs_and_refusals_invoke_nothing() {
        let mut functions = functions().await;
        let gw = gateway(&functions.url, 4, Duration::from_secs(30)).await;
        assert_eq!(invoke(&gw, "echo", Some("DryRun"), "{}").await.status(), 204);
        let big = format!(r#""{}""#, "x".repeat(MAX_EVENT_PAYLOAD));
        for (function, invocation_type, payload, status, error_type) in [
            ("echo", Some("Later"), "{}", 400, "ValidationException"),
            ("a%2F..%2Fb", None, "{}", 400, "ValidationException"),
            ("echo", Some("Event"), big.as_str(), 413, "RequestTooLargeException"),
            ("echo", Some("Event"), "not json", 400, "InvalidRequestContentException"),
        ] {
            let refused = invoke(&gw, function, invocation_type, payload).await;
            assert_eq!(refused.status(), status, "{function} {invocation_type:?}");
            assert_eq!(refused.headers()["x-amzn-errortype"], error_type);
            assert_eq!(refused.json::<Value>().await.unwrap()["Type"], "User");
        }
        // A payload too large for an Event is fine for a synchronous call.
        assert_eq!(invoke(&gw, "echo", None, &big).await.status(), 200);
        let (function, _) = functions.calls.recv().await.unwrap();
        assert_eq!(function, "echo");
        assert!(functions.calls.try_recv().is_err(), "nothing else reached the functions");
    }

    #[tokio::test]
    async fn unreachable_functions_are_a_service_error() {
        let gw = gateway("http://127.0.0.1:1", 4, Duration::from_secs(5)).await;
        let refused = invoke(&gw, "echo", None, "{}").await;
        assert_eq!(
            (refused.status().as_u16(), refused.headers()["x-amzn-errortype"].to_str().unwrap()),
            (500, "ServiceException")
        );
    }
}
