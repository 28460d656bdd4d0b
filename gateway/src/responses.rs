//! What the gateway itself answers: its errors ("gateway responses", in one table so the
//! unconfirmed details in shared/reference/api-gateway.md are easy to change), the ids every
//! response carries, and the JSON answers shared by the API and the gateway's own routes.

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::json;

use crate::model::{HeaderSource, Snapshot};

/// Why the gateway answers a request of the API itself: each step that can refuse one
/// (body, route, key, integration) says why with one of these, and [`GatewayError::response`]
/// turns it into the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    MissingAuthenticationToken,
    InvalidApiKey,
    Throttled,
    QuotaExceeded,
    RequestTooLarge,
    /// The body did not arrive within the gateway's body timeout (the local gateway's own
    /// answer; API Gateway documents none, so it has no response type of its own).
    RequestTimeout,
    BadGateway,
    IntegrationTimeout,
    /// A method whose integration this gateway cannot serve.
    IntegrationFailure,
}

pub struct Shape {
    /// The gateway response type (`PutGatewayResponse`'s responseType).
    pub kind: &'static str,
    pub status: StatusCode,
    pub message: &'static str,
    pub error_type: &'static str,
}

impl GatewayError {
    pub fn shape(self) -> Shape {
        let (kind, status, message, error_type) = match self {
            Self::MissingAuthenticationToken => (
                "MISSING_AUTHENTICATION_TOKEN",
                StatusCode::FORBIDDEN,
                "Missing Authentication Token",
                "MissingAuthenticationTokenException",
            ),
            Self::InvalidApiKey => ("INVALID_API_KEY", StatusCode::FORBIDDEN, "Forbidden", "ForbiddenException"),
            Self::Throttled => {
                ("THROTTLED", StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", "TooManyRequestsException")
            }
            Self::QuotaExceeded => {
                ("QUOTA_EXCEEDED", StatusCode::TOO_MANY_REQUESTS, "Limit Exceeded", "LimitExceededException")
            }
            Self::RequestTooLarge => {
                ("REQUEST_TOO_LARGE", StatusCode::PAYLOAD_TOO_LARGE, "Request Too Long", "RequestTooLongException")
            }
            Self::RequestTimeout => {
                ("DEFAULT_4XX", StatusCode::REQUEST_TIMEOUT, "Request Timeout", "RequestTimeoutException")
            }
            Self::BadGateway => {
                ("BAD_GATEWAY", StatusCode::BAD_GATEWAY, "Internal server error", "InternalServerErrorException")
            }
            Self::IntegrationTimeout => (
                "INTEGRATION_TIMEOUT",
                StatusCode::GATEWAY_TIMEOUT,
                "Endpoint request timed out",
                "IntegrationTimeoutException",
            ),
            Self::IntegrationFailure => (
                "INTEGRATION_FAILURE",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "InternalServerErrorException",
            ),
        };
        Shape { kind, status, message, error_type }
    }

    /// The configured headers (and status override) for this response: its own type's
    /// configuration, else DEFAULT_4XX / DEFAULT_5XX. Unconfigured: no extra headers — and so
    /// no CORS, exactly as in AWS.
    pub fn configured(self, snapshot: &Snapshot) -> (StatusCode, &[(String, HeaderSource)]) {
        let shape = self.shape();
        let fallback = if shape.status.is_server_error() { "DEFAULT_5XX" } else { "DEFAULT_4XX" };
        let config = snapshot.gateway_responses.get(shape.kind).or_else(|| snapshot.gateway_responses.get(fallback));
        match config {
            Some(c) => (c.status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(shape.status), &c.headers),
            None => (shape.status, &[]),
        }
    }

    /// The answer: `{"message"}` with `x-amzn-ErrorType`, under the configured status and
    /// headers (after content-type and the error type, so that configuration may override
    /// them); a header mapped from the request takes the value of `request`'s header (none
    /// when it was not sent). The request ids are added to it as to every response.
    pub fn response(self, snapshot: &Snapshot, request: &http::HeaderMap) -> Response {
        let shape = self.shape();
        let (status, headers) = self.configured(snapshot);
        let mut response = json(status, json!({ "message": shape.message }), Some(shape.error_type));
        let resolved: Vec<(String, String)> = headers
            .iter()
            .filter_map(|(name, source)| {
                let value = match source {
                    HeaderSource::Literal(value) => value.clone(),
                    HeaderSource::RequestHeader(from) => request.get(from.as_str())?.to_str().ok()?.to_owned(),
                };
                Some((name.clone(), value))
            })
            .collect();
        insert_headers(&mut response, &resolved);
        response
    }
}

/// A JSON answer, with `x-amzn-ErrorType` when it is an error.
pub fn json(status: StatusCode, body: serde_json::Value, error_type: Option<&'static str>) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(t) = error_type {
        response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(t));
    }
    response
}

/// Sets each configured (name, value) pair that is a valid header; the rest are skipped.
pub fn insert_headers(response: &mut Response, pairs: &[(String, String)]) {
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(n, v);
        }
    }
}

/// The identifiers of one request, which every response carries; the proxy event carries them
/// too (`requestId`, `extendedRequestId`).
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub apigw_id: String,
}

impl RequestIds {
    /// Fresh ids for a request that has just arrived.
    pub fn generate() -> Self {
        let raw = uuid::Uuid::new_v4();
        let apigw_id = base64::engine::general_purpose::STANDARD.encode(&raw.as_bytes()[..12]);
        Self { request_id: uuid::Uuid::new_v4().to_string(), apigw_id }
    }

    /// Set last, over anything a function or a configuration said.
    pub fn stamp(&self, response: &mut Response) {
        let h = response.headers_mut();
        h.insert("x-amzn-requestid", HeaderValue::from_str(&self.request_id).expect("a uuid"));
        h.insert("x-amz-apigw-id", HeaderValue::from_str(&self.apigw_id).expect("base64"));
    }
}
