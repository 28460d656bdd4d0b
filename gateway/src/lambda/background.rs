//! Asynchronous invocations (`InvocationType: Event`), as Lambda runs them: accepted at once and
//! run to their end in the background — what cargo lambda watch, which answers only when a
//! function has finished, cannot do. Bounded: at most `cap` run at a time (one more is refused
//! and its caller told so, where Lambda would queue it), each within the function timeout. A
//! failure is logged with its status and error type, never its event, and not retried (Lambda
//! retries twice).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::Endpoint;

pub struct Background {
    endpoint: Endpoint,
    slots: Arc<Semaphore>,
    cap: usize,
    /// Lambda's function timeout: an invocation still running after it is abandoned.
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} asynchronous invocations are running already")]
pub struct Busy(pub usize);

impl Background {
    pub fn new(endpoint: Endpoint, cap: usize, timeout: Duration) -> Self {
        Self { endpoint, slots: Arc::new(Semaphore::new(cap)), cap, timeout }
    }

    /// Starts `function` (a name) with `payload` and returns at once.
    pub fn start(&self, function: &str, payload: Bytes) -> Result<(), Busy> {
        let slot = self.slots.clone().try_acquire_owned().map_err(|_| Busy(self.cap))?;
        let (endpoint, timeout, function) = (self.endpoint.clone(), self.timeout, function.to_owned());
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(timeout, endpoint.invoke(&function, payload)).await {
                Err(_) => tracing::warn!(function, ?timeout, "asynchronous invocation abandoned: still running"),
                Ok(Err(e)) => tracing::warn!(function, error = %e, "asynchronous invocation failed: no answer"),
                Ok(Ok(answer)) if answer.failed() => {
                    let error_type = answer.error_type();
                    tracing::warn!(function, status = %answer.status, error_type, "asynchronous invocation failed");
                }
                Ok(Ok(_)) => tracing::info!(function, "asynchronous invocation finished"),
            }
        });
        Ok(())
    }
}
