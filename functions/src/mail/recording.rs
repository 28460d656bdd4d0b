//! A mailer for tests: behind the feature `test-util`, so the Lambda binaries do not carry it.

use std::sync::Mutex;

use super::{Mail, MailError, Mailer};

/// Keeps every mail instead of sending it; for handler tests.
#[derive(Debug, Default)]
pub struct RecordingMailer {
    pub sent: Mutex<Vec<Mail>>,
    pub fail: bool,
}

impl Mailer for RecordingMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        if self.fail {
            return Err(MailError::Rejected("refused by RecordingMailer".into()));
        }
        self.sent.lock().unwrap().push(mail);
        Ok(())
    }
}
