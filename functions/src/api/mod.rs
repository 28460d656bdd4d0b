//! The HTTP face of the functions: the one place where errors become status codes and JSON,
//! and where every response gets its `Content-Type` and CORS headers; `body` reads the
//! insert request's body.

mod body;

use http::StatusCode;
use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CONTENT_TYPE, HeaderValue, VARY};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use crate::aws::Failure;
use crate::config::AllowedOrigin;
use crate::domain::{CursorError, FieldError, InvalidStudent, PageLimitError};

pub use body::{BodyError, MAX_BODY_BYTES, read_student};

/// Everything a request can fail with, as the client should see it. Internal causes are
/// logged where they happen; only the `message` below leaves the function.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("{0}")]
    Invalid(#[from] InvalidStudent),
    #[error("{0}")]
    Limit(#[from] PageLimitError),
    #[error("{0}")]
    Cursor(#[from] CursorError),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("student {0} already exists")]
    AlreadyExists(String),
    #[error("backupId is not a backup id: expected backup-YYYYMMDD-HHMMSS- and 8 lowercase hex digits")]
    InvalidBackupId,
    #[error("backup {0} not found")]
    BackupNotFound(String),
    /// A backup that ended in failure; `message` is what its catalog entry says.
    #[error("{message}")]
    BackupFailed { message: String, retryable: bool },
    #[error("{0} is unavailable, try again in a moment")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Body(BodyError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Body(_) | Self::Invalid(_) | Self::Limit(_) | Self::Cursor(_) | Self::InvalidBackupId => {
                StatusCode::BAD_REQUEST
            }
            Self::BackupNotFound(_) => StatusCode::NOT_FOUND,
            Self::BackupFailed { retryable: true, .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BackupFailed { retryable: false, .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::AlreadyExists(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps an AWS failure of `service` (already logged by the caller) to what the client sees.
    pub fn from_failure(failure: Failure, service: &'static str) -> Self {
        match failure {
            Failure::Unavailable => Self::Unavailable(service),
            Failure::Fault => Self::Internal,
        }
    }

    fn body(&self) -> serde_json::Value {
        match self {
            Self::Invalid(InvalidStudent(errors)) => json!({ "message": self.to_string(), "errors": errors }),
            Self::Body(BodyError::DuplicateField(field)) => json!({
                "message": self.to_string(),
                "errors": [FieldError { field: field.clone(), message: "appears more than once".into() }],
            }),
            _ => json!({ "message": self.to_string() }),
        }
    }
}

/// Builds responses with the headers every response carries.
#[derive(Debug, Clone)]
pub struct Responder {
    origin: AllowedOrigin,
}

impl Responder {
    pub fn new(origin: AllowedOrigin) -> Self {
        Self { origin }
    }

    pub fn json(&self, status: StatusCode, body: &impl Serialize) -> Response<Body> {
        let text = serde_json::to_string(body).expect("response bodies are plain data");
        let mut response = Response::new(Body::Text(text));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let origin = HeaderValue::from_str(self.origin.as_str()).expect("origins are parsed at start-up");
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        // A browser script may read only exposed headers: the list's next page is in these.
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(system::CORS_EXPOSE_HEADERS));
        if !self.origin.is_any() {
            headers.insert(VARY, HeaderValue::from_static("Origin"));
        }
        response
    }

    pub fn error(&self, error: &ApiError) -> Response<Body> {
        self.json(error.status(), &error.body())
    }

    pub fn result<T: Serialize>(&self, status: StatusCode, result: Result<T, ApiError>) -> Response<Body> {
        match result {
            Ok(body) => self.json(status, &body),
            Err(e) => self.error(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(r: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[test]
    fn errors_carry_json_and_cors() {
        let r = Responder::new(AllowedOrigin::parse("https://app.example.com").unwrap())
            .error(&ApiError::AlreadyExists("SV001".into()));
        assert_eq!(r.status(), 409);
        assert_eq!(body_json(&r), json!({"message": "student SV001 already exists"}));
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(r.headers()["vary"], "Origin");
        assert_eq!(r.headers()["access-control-expose-headers"], "X-Next-Cursor,Link");
    }

    #[test]
    fn any_origin_needs_no_vary() {
        let r = Responder::new(AllowedOrigin::any()).error(&ApiError::Internal);
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert!(r.headers().get("vary").is_none());
        assert_eq!(body_json(&r), json!({"message": "internal error"}));
    }

    #[test]
    fn field_errors_are_listed() {
        let e = ApiError::Invalid(InvalidStudent(vec![FieldError { field: "email".into(), message: "bad".into() }]));
        let r = Responder::new(AllowedOrigin::any()).error(&e);
        assert_eq!(r.status(), 400);
        assert_eq!(
            body_json(&r),
            json!({"message": "invalid student: check email", "errors": [{"field": "email", "message": "bad"}]})
        );
        let r = Responder::new(AllowedOrigin::any()).error(&ApiError::Body(BodyError::TooLarge));
        assert_eq!(r.status(), 413);
    }
}
