//! Calling a function as API Gateway's Lambda integration does, through the Lambda Invoke API
//! (cargo lambda watch): a bounded number of calls in flight, and one deadline — the
//! integration timeout — for waiting for a place, the call and its answer.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::Endpoint;
use crate::proxy::{self, ProxyResponse};
use crate::responses::GatewayError;

pub struct Lambda {
    endpoint: Endpoint,
    timeout: Duration,
    /// More calls than this wait for a place (within the timeout).
    in_flight: Semaphore,
}

impl Lambda {
    pub fn new(endpoint: Endpoint, timeout: Duration, max_in_flight: usize) -> Self {
        Self { endpoint, timeout, in_flight: Semaphore::new(max_in_flight) }
    }

    /// Invokes `function` with `event` and reads its answer as a proxy response. A function
    /// error or a malformed answer is a 502, no answer within the timeout a 504.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<ProxyResponse, GatewayError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let _permit = tokio::time::timeout_at(deadline, self.in_flight.acquire())
            .await
            .map_err(|_| GatewayError::IntegrationTimeout)?
            .expect("the semaphore is never closed");
        let payload = Bytes::from(serde_json::to_vec(event).expect("a JSON value serializes"));
        let answer = match tokio::time::timeout_at(deadline, self.endpoint.invoke(function, payload)).await {
            Err(_) => return Err(GatewayError::IntegrationTimeout),
            Ok(Err(e)) => {
                tracing::warn!(function, error = %e, "invoke failed");
                return Err(GatewayError::BadGateway);
            }
            Ok(Ok(answer)) => answer,
        };
        if answer.failed() {
            // cargo lambda answers a handler error with 500 {errorType, errorMessage}; Lambda
            // with 200 and X-Amz-Function-Error. Either way: 502.
            let payload = &answer.payload;
            tracing::warn!(function, status = %answer.status, payload = %String::from_utf8_lossy(&payload[..payload.len().min(300)]), "function error");
            return Err(GatewayError::BadGateway);
        }
        proxy::read_response(&answer.payload).ok_or_else(|| {
            tracing::warn!(function, "malformed Lambda proxy response");
            GatewayError::BadGateway
        })
    }
}
