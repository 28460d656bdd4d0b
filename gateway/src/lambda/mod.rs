//! The functions, reached through the Lambda Invoke API that cargo lambda watch serves.
//! [`Endpoint`] is the one client of it; [`Lambda`] calls a function as API Gateway's Lambda
//! proxy integration does; [`Background`] runs asynchronous (`Event`) invocations; and
//! [`InvokeApi`] serves the Invoke API to the functions themselves, as Lambda answers it.

pub mod background;
pub mod integration;
pub mod invoke_api;

use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};

pub use background::Background;
pub use integration::Lambda;
pub use invoke_api::InvokeApi;

/// cargo lambda watch's Invoke API. It runs every invocation to its end, whatever the
/// invocation type, and answers with the result.
#[derive(Clone)]
pub struct Endpoint {
    http: reqwest::Client,
    /// `http://127.0.0.1:9000`, without a trailing `/`.
    base: String,
}

/// What the Invoke API answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// `X-Amz-Function-Error` (Lambda's way to say the function failed; cargo lambda answers a
    /// failure with a 500 instead).
    pub function_error: Option<HeaderValue>,
    pub payload: Bytes,
}

impl Answer {
    pub fn failed(&self) -> bool {
        !self.status.is_success() || self.function_error.is_some()
    }

    /// The `errorType` of a failure's payload (`{"errorType","errorMessage"}`): what a log may
    /// say about it, where the message could quote the event.
    pub fn error_type(&self) -> String {
        let value: Option<serde_json::Value> = serde_json::from_slice(&self.payload).ok();
        let error_type = value.as_ref().and_then(|v| v["errorType"].as_str()).unwrap_or("unknown");
        error_type.chars().take(100).collect()
    }
}

impl Endpoint {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("an HTTP client");
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// Invokes `function` (a name, as [`function_name`] gives it) with `payload` and reads the
    /// whole answer. No deadline of its own: callers bound it.
    pub async fn invoke(&self, function: &str, payload: Bytes) -> Result<Answer, reqwest::Error> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let answer = self
            .http
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(payload)
            .send()
            .await?;
        let status = answer.status();
        let function_error = answer.headers().get("x-amz-function-error").cloned();
        let payload = answer.bytes().await?;
        Ok(Answer { status, function_error, payload })
    }
}

/// The function's name in any form Lambda accepts — `name`, `name:qualifier`, a partial ARN
/// (`123456789012:function:name`) or an ARN — since cargo lambda serves functions by name only.
/// `None` unless the name is made of the characters Lambda allows (so it is safe in a URL).
pub fn function_name(name_or_arn: &str) -> Option<&str> {
    let name = name_or_arn.rsplit(":function:").next()?;
    let name = name.split(':').next()?; // drop a version or alias qualifier
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (!name.is_empty() && name.chars().all(allowed)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_names_and_arns() {
        for given in [
            "getStudentData",
            "getStudentData:live",
            "123456789012:function:getStudentData",
            "arn:aws:lambda:us-east-1:123456789012:function:getStudentData",
            "arn:aws:lambda:us-east-1:123456789012:function:getStudentData:$LATEST",
        ] {
            assert_eq!(function_name(given), Some("getStudentData"), "{given}");
        }
        for refused in ["", "a/../b", "arn:aws:lambda:us-east-1:123456789012:function:", "a?b"] {
            assert_eq!(function_name(refused), None, "{refused:?}");
        }
    }
}
