//! The backup function is reached three ways: through API Gateway (a REST proxy event,
//! answered with a proxy response), by a run `POST /backup` handed off (`{"backupRun": ...}`)
//! and by the EventBridge schedule; the last two are answered with the backup as
//! `GET /backups/{backupId}` shows it.

use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_http::aws_lambda_events::encodings::Body as EventBody;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use system::backup::{BackupId, BackupRunEvent};
use time::OffsetDateTime;

use crate::catalog::{Catalog, Entry, State};
use crate::handlers::{Backup, RunError};
use crate::handoff::Handoff;
use crate::mail::Mailer;
use crate::store::StudentStore;

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("unrecognised event: neither an API Gateway request, a backup run nor a scheduled event")]
    Unrecognised,
    #[error("the backup run event names no backup id: {0:?}")]
    BadRun(String),
    /// Reported as the invocation's error, so Lambda counts it (and retries a scheduled one).
    #[error("backup {id} failed: {error}")]
    Failed { id: BackupId, error: String },
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<TriggerError> for lambda_runtime::Diagnostic {
    fn from(e: TriggerError) -> Self {
        let error_type = match e {
            TriggerError::Unrecognised => "UnrecognisedEvent",
            TriggerError::BadRun(_) => "BadBackupRun",
            TriggerError::Failed { .. } => "BackupFailed",
            TriggerError::Run(_) => "BackupNotRecorded",
        };
        Self { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// Lambda's longest timeout.
const LAMBDA_MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The invocation's deadline from the runtime's `Lambda-Runtime-Deadline-Ms` (milliseconds
/// since the epoch). `cargo lambda watch` sends the timeout itself instead (600000, a time in
/// 1970): a value in the past that is no longer than Lambda's longest timeout counts from
/// `now`; anything else in the past is taken as that longest timeout.
pub fn deadline(header_ms: u64, now: OffsetDateTime) -> OffsetDateTime {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(header_ms) * 1_000_000).ok();
    match at {
        Some(at) if at > now => at,
        _ => {
            let timeout = std::time::Duration::from_millis(header_ms);
            now + if timeout <= LAMBDA_MAX_TIMEOUT { timeout } else { LAMBDA_MAX_TIMEOUT }
        }
    }
}

fn is_proxy_request(event: &Value) -> bool {
    event.get("httpMethod").is_some() && event.get("requestContext").is_some()
}

fn is_schedule(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some("aws.events")
        || event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// Answers each trigger in its own shape. `deadline` is the invocation's.
pub async fn backup<S, M, C, H>(
    app: &Backup<S, M, C, H>,
    event: Value,
    deadline: OffsetDateTime,
) -> Result<Value, TriggerError>
where
    S: StudentStore,
    M: Mailer,
    C: Catalog,
    H: Handoff,
{
    if is_proxy_request(&event) {
        let response = match serde_json::from_value::<ApiGatewayProxyRequest>(event) {
            Ok(proxy) => app.handle(Request::from(LambdaRequest::ApiGatewayV1(proxy))).await,
            Err(_) => app.responder().error(&crate::api::ApiError::Internal),
        };
        return Ok(serde_json::to_value(proxy_response(response)).expect("a proxy response serializes"));
    }
    if event.get("backupRun").is_some() {
        let run: BackupRunEvent = serde_json::from_value(event).map_err(|e| TriggerError::BadRun(e.to_string()))?;
        let id = BackupId::parse(&run.backup_run.backup_id).ok_or(TriggerError::BadRun(run.backup_run.backup_id))?;
        return outcome(app.run(&id, deadline).await?);
    }
    if is_schedule(&event) {
        return match app.scheduled(deadline).await? {
            Some(entry) => outcome(entry),
            None => Ok(serde_json::json!({ "skipped": "a backup is running" })),
        };
    }
    Err(TriggerError::Unrecognised)
}

/// A succeeded (or still running) backup as its summary; a failed one as the invocation's error.
fn outcome(entry: Entry) -> Result<Value, TriggerError> {
    match &entry.state {
        State::Failed { error, .. } => Err(TriggerError::Failed { id: entry.id.clone(), error: error.clone() }),
        State::Succeeded { written, mail_warning, .. } => Ok(serde_json::json!({
            "backupId": entry.id.as_str(),
            "status": "succeeded",
            "key": written.key,
            "count": written.count,
            "bytes": written.bytes,
            "sha256": written.sha256,
            "emailSent": mail_warning.is_none(),
        })),
        State::Running => Ok(serde_json::json!({ "backupId": entry.id.as_str(), "status": "running" })),
    }
}

fn proxy_response(response: Response<Body>) -> ApiGatewayProxyResponse {
    let (parts, body) = response.into_parts();
    let body = match body {
        Body::Empty => None,
        Body::Text(t) => Some(EventBody::Text(t)),
        Body::Binary(b) => Some(EventBody::Binary(b)),
        _ => None,
    };
    let mut proxy = ApiGatewayProxyResponse::default();
    proxy.status_code = i64::from(parts.status.as_u16());
    proxy.headers = parts.headers;
    proxy.body = body;
    proxy
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_deadline_is_a_time_or_under_cargo_lambda_a_timeout() {
        let now = datetime!(2026-11-30 23:47:15 UTC);
        let lambda = (now + std::time::Duration::from_secs(300)).unix_timestamp() as u64 * 1000;
        assert_eq!(deadline(lambda, now), now + std::time::Duration::from_secs(300));
        assert_eq!(deadline(600_000, now), now + std::time::Duration::from_secs(600), "cargo lambda watch");
        assert_eq!(deadline(5_000_000, now), now + LAMBDA_MAX_TIMEOUT);
        assert_eq!(deadline(0, now), now);
    }
}
