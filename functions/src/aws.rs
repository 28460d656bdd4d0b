//! The one AWS configuration of a process. Endpoint, region and credentials come from the
//! SDK's standard environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, ...), so the same binary
//! talks to AWS or to the emulator without knowing which. And the one way a failed call is
//! classified and kept: [`AwsFailure`].

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::Timeouts;

/// Loads the process's single `SdkConfig`, with explicit timeouts and bounded retries.
pub async fn load_sdk_config(timeouts: Timeouts) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config(timeouts))
        .retry_config(retry_config())
        .load()
        .await
}

/// Standard retries (exponential back-off with jitter), three attempts in all.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

pub fn timeout_config(t: Timeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(t.connect)
        .operation_attempt_timeout(t.attempt)
        .operation_timeout(t.operation)
        .build()
}

/// Whether a failed AWS call is worth telling the client to retry (503) or is a fault (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Timed out, unreachable, or throttled: the service may answer later.
    Unavailable,
    /// Anything else.
    Fault,
}

const THROTTLING_CODES: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
];

pub fn classify<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Failure
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Failure::Unavailable,
        SdkError::ServiceError(e) if e.err().code().is_some_and(|c| THROTTLING_CODES.contains(&c)) => {
            Failure::Unavailable
        }
        SdkError::ResponseError(_) => Failure::Unavailable,
        _ => Failure::Fault,
    }
}

/// A failed call to an AWS service: which, how the client should see it, and the SDK's error.
#[derive(Debug, thiserror::Error)]
#[error("{service} {operation} failed")]
pub struct AwsFailure {
    pub service: &'static str,
    pub operation: &'static str,
    pub failure: Failure,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl AwsFailure {
    pub fn new<E, R>(
        service: &'static str,
        operation: &'static str,
        err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self { service, operation, failure: classify(&err), source: Box::new(err) }
    }
}
