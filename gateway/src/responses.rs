//! API Gateway's own answers ("gateway responses"), in one table so the unconfirmed details
//! (see shared/reference/api-gateway.md) are easy to change.

use http::StatusCode;

use crate::model::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    MissingAuthenticationToken,
    InvalidApiKey,
    Throttled,
    QuotaExceeded,
    RequestTooLarge,
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
    pub fn configured(self, snapshot: &Snapshot) -> (StatusCode, &[(String, String)]) {
        let shape = self.shape();
        let fallback = if shape.status.is_server_error() { "DEFAULT_5XX" } else { "DEFAULT_4XX" };
        let config = snapshot.gateway_responses.get(shape.kind).or_else(|| snapshot.gateway_responses.get(fallback));
        match config {
            Some(c) => (c.status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(shape.status), &c.headers),
            None => (shape.status, &[]),
        }
    }
}
