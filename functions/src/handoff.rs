//! How `POST /backup` hands a backup to a run that outlives the request: an asynchronous
//! invocation (Lambda's `Event` type) of the backup function itself, whose event names the
//! backup ([`BackupRunEvent`]). Lambda queues it and answers 202 at once. A port, its Lambda
//! adapter and (feature `test-util`) a recording one for tests.

use std::future::Future;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use system::backup::{BackupId, BackupRun, BackupRunEvent};

use crate::aws::AwsFailure;

pub trait Handoff: Send + Sync {
    /// Starts a run of the backup `id`, and returns once it is queued.
    fn hand_off(&self, id: &BackupId) -> impl Future<Output = Result<(), AwsFailure>> + Send;
}

/// The event that starts a run of `id`.
pub fn run_event(id: &BackupId) -> BackupRunEvent {
    BackupRunEvent { backup_run: BackupRun { backup_id: id.to_string() } }
}

/// Invokes one function (this one: `AWS_LAMBDA_FUNCTION_NAME`) asynchronously.
#[derive(Debug, Clone)]
pub struct LambdaHandoff {
    client: Client,
    function: String,
}

impl LambdaHandoff {
    pub fn new(client: Client, function: impl Into<String>) -> Self {
        Self { client, function: function.into() }
    }
}

impl Handoff for LambdaHandoff {
    async fn hand_off(&self, id: &BackupId) -> Result<(), AwsFailure> {
        let payload = serde_json::to_vec(&run_event(id)).expect("plain data");
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| AwsFailure::new("Lambda", "Invoke", e))?;
        Ok(())
    }
}

impl<T: Handoff> Handoff for &T {
    fn hand_off(&self, id: &BackupId) -> impl Future<Output = Result<(), AwsFailure>> + Send {
        (**self).hand_off(id)
    }
}

#[cfg(feature = "test-util")]
pub use recording::RecordingHandoff;

#[cfg(feature = "test-util")]
mod recording {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use tokio::sync::Notify;

    use super::*;

    /// Keeps every hand-off instead of invoking anything; a test runs them (or not) itself.
    #[derive(Debug, Default)]
    pub struct RecordingHandoff {
        /// Every backup handed off, in order.
        pub handed: Mutex<Vec<BackupId>>,
        /// Those not yet taken by [`RecordingHandoff::next`].
        waiting: Mutex<VecDeque<BackupId>>,
        notify: Notify,
    }

    impl RecordingHandoff {
        /// The next backup handed off and not yet taken, waiting for one if need be.
        pub async fn next(&self) -> BackupId {
            loop {
                let notified = self.notify.notified();
                if let Some(id) = self.waiting.lock().unwrap().pop_front() {
                    return id;
                }
                notified.await;
            }
        }

        /// The next backup handed off and not yet taken, if any.
        pub fn take(&self) -> Option<BackupId> {
            self.waiting.lock().unwrap().pop_front()
        }
    }

    impl Handoff for RecordingHandoff {
        async fn hand_off(&self, id: &BackupId) -> Result<(), AwsFailure> {
            self.handed.lock().unwrap().push(id.clone());
            self.waiting.lock().unwrap().push_back(id.clone());
            self.notify.notify_waiters();
            Ok(())
        }
    }
}
