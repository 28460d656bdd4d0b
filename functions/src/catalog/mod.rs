//! The catalog of backups (table `studentBackups`): one item per backup — running, succeeded
//! or failed — and one lock item, so that one backup runs at a time. A narrow port, its
//! DynamoDB adapter and (feature `test-util`) an in-memory one for tests.
//!
//! The lock carries a time after which it no longer counts: a run that Lambda killed at its
//! timeout cannot release it, and must not block backups for ever. A backup still `running`
//! past that time is shown as failed ([`Entry::view_state`]); nothing rewrites it, so a run
//! that was only slow still records its result.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use system::backup::{BackupId, Status, catalog};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::aws::{AwsFailure, Failure};
use crate::domain::PageCursor;

#[cfg(feature = "test-util")]
mod memory;
#[cfg(feature = "test-util")]
pub use memory::MemoryCatalog;

/// What started a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `POST /backup`.
    Api,
    /// The daily EventBridge rule.
    Schedule,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Schedule => "schedule",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "api" => Some(Self::Api),
            "schedule" => Some(Self::Schedule),
            _ => None,
        }
    }
}

/// A backup object as written: where, how many students, how many bytes and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub key: String,
    pub count: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// Where a backup is, and what it came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Running,
    Succeeded {
        finished_at: OffsetDateTime,
        written: Written,
        /// Why the notice email did not go (`None`: it went).
        mail_warning: Option<String>,
    },
    Failed {
        finished_at: OffsetDateTime,
        /// What went wrong, in the words a client is shown.
        error: String,
        /// Whether trying again later may work (a 503 rather than a 500).
        retryable: bool,
    },
}

/// One backup in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: BackupId,
    pub trigger: Trigger,
    pub started_at: OffsetDateTime,
    /// When a running backup has certainly stopped: its run's deadline and a margin.
    pub until: OffsetDateTime,
    pub state: State,
}

/// What a backup that ran out of time is shown as having failed with.
pub const STOPPED: &str = "the backup stopped before it finished (the function ran out of time); start another";

/// `t` rounded up to a whole second, as the catalog keeps it (so a lock never ends early).
pub fn whole_second(t: OffsetDateTime) -> OffsetDateTime {
    let floor = t.replace_nanosecond(0).expect("0 is a valid nanosecond");
    if floor == t { t } else { floor + time::Duration::SECOND }
}

impl Entry {
    /// A backup starting now, running until `until` at the latest (a whole second).
    pub fn running(id: BackupId, trigger: Trigger, started_at: OffsetDateTime, until: OffsetDateTime) -> Self {
        Self { id, trigger, started_at, until: whole_second(until), state: State::Running }
    }

    pub fn status(&self) -> Status {
        match self.state {
            State::Running => Status::Running,
            State::Succeeded { .. } => Status::Succeeded,
            State::Failed { .. } => Status::Failed,
        }
    }

    /// The state as a reader at `now` should see it: a run past its time has stopped.
    pub fn view_state(&self, now: OffsetDateTime) -> State {
        match self.state {
            State::Running if now > self.until => {
                State::Failed { finished_at: self.until, error: STOPPED.into(), retryable: true }
            }
            ref state => state.clone(),
        }
    }
}

/// The outcome of asking for the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// The lock is ours until the time asked for.
    Taken,
    /// Another backup is running.
    HeldBy(BackupId),
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Aws(#[from] AwsFailure),
    /// An item this version cannot read (written by hand, or by another version).
    #[error("catalog item {id:?} is not readable: {reason}")]
    Unreadable { id: String, reason: String },
}

impl CatalogError {
    pub fn failure(&self) -> Failure {
        match self {
            Self::Aws(aws) => aws.failure,
            Self::Unreadable { .. } => Failure::Fault,
        }
    }
}

/// What the backup function needs from its catalog.
pub trait Catalog: Send + Sync {
    /// Takes the lock for `id` until `until`, unless another backup holds it and `now` is
    /// before its time.
    fn lock(
        &self,
        id: &BackupId,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Lock, CatalogError>> + Send;

    /// Lets the lock go, if `id` still holds it.
    fn unlock(&self, id: &BackupId) -> impl Future<Output = Result<(), CatalogError>> + Send;

    /// Records a new backup (never over an existing one).
    fn create(&self, entry: &Entry) -> impl Future<Output = Result<(), CatalogError>> + Send;

    /// Moves a running backup's time (and its lock's, if it holds it) to `until` (a whole
    /// second: see [`whole_second`]). False if the backup is not running.
    fn extend(&self, id: &BackupId, until: OffsetDateTime) -> impl Future<Output = Result<bool, CatalogError>> + Send;

    /// Records how a running backup ended. False if it had already ended (a repeated run).
    fn finish(&self, entry: &Entry) -> impl Future<Output = Result<bool, CatalogError>> + Send;

    /// One backup, read consistently.
    fn get(&self, id: &BackupId) -> impl Future<Output = Result<Option<Entry>, CatalogError>> + Send;

    /// Up to `limit` backups after `after`, newest first, and where the next page starts.
    fn page(
        &self,
        after: Option<&PageCursor>,
        limit: u16,
    ) -> impl Future<Output = Result<(Vec<Entry>, Option<PageCursor>), CatalogError>> + Send;
}

impl<T: Catalog> Catalog for &T {
    fn lock(
        &self,
        id: &BackupId,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Lock, CatalogError>> + Send {
        (**self).lock(id, until, now)
    }

    fn unlock(&self, id: &BackupId) -> impl Future<Output = Result<(), CatalogError>> + Send {
        (**self).unlock(id)
    }

    fn create(&self, entry: &Entry) -> impl Future<Output = Result<(), CatalogError>> + Send {
        (**self).create(entry)
    }

    fn extend(&self, id: &BackupId, until: OffsetDateTime) -> impl Future<Output = Result<bool, CatalogError>> + Send {
        (**self).extend(id, until)
    }

    fn finish(&self, entry: &Entry) -> impl Future<Output = Result<bool, CatalogError>> + Send {
        (**self).finish(entry)
    }

    fn get(&self, id: &BackupId) -> impl Future<Output = Result<Option<Entry>, CatalogError>> + Send {
        (**self).get(id)
    }

    fn page(
        &self,
        after: Option<&PageCursor>,
        limit: u16,
    ) -> impl Future<Output = Result<(Vec<Entry>, Option<PageCursor>), CatalogError>> + Send {
        (**self).page(after, limit)
    }
}

// ---------------------------------------------------------------------------------------------
// The item format.

const SERVICE: &str = "DynamoDB";
const TRIGGER: &str = "trigger";
const STATUS: &str = "status";
const STARTED_AT: &str = "startedAt";
/// Epoch seconds, a number, so that the lock's condition can compare it.
const UNTIL: &str = "until";
const FINISHED_AT: &str = "finishedAt";
const KEY: &str = "key";
const COUNT: &str = "count";
const BYTES: &str = "bytes";
const SHA256: &str = "sha256";
const EMAIL_SENT: &str = "emailSent";
const WARNING: &str = "warning";
const ERROR: &str = "error";
const RETRYABLE: &str = "retryable";
/// The lock's attribute naming the backup that holds it.
const HOLDER: &str = "holder";

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("RFC 3339 formats any UTC time")
}

fn key_of(partition: &str, sort: &str) -> Item {
    HashMap::from([(catalog::PARTITION_KEY.to_owned(), s(partition)), (catalog::SORT_KEY.to_owned(), s(sort))])
}

fn entry_key(id: &BackupId) -> Item {
    key_of(catalog::BACKUPS, id.as_str())
}

fn lock_key() -> Item {
    key_of(catalog::LOCK_PARTITION, catalog::LOCK)
}

pub fn to_item(entry: &Entry) -> Item {
    let mut item = entry_key(&entry.id);
    item.insert(TRIGGER.into(), s(entry.trigger.as_str()));
    item.insert(STATUS.into(), s(status_str(entry.status())));
    item.insert(STARTED_AT.into(), s(rfc3339(entry.started_at)));
    item.insert(UNTIL.into(), n(entry.until.unix_timestamp()));
    match &entry.state {
        State::Running => {}
        State::Succeeded { finished_at, written, mail_warning } => {
            item.insert(FINISHED_AT.into(), s(rfc3339(*finished_at)));
            item.insert(KEY.into(), s(&written.key));
            item.insert(COUNT.into(), n(written.count));
            item.insert(BYTES.into(), n(written.bytes));
            item.insert(SHA256.into(), s(&written.sha256));
            item.insert(EMAIL_SENT.into(), AttributeValue::Bool(mail_warning.is_none()));
            if let Some(warning) = mail_warning {
                item.insert(WARNING.into(), s(warning));
            }
        }
        State::Failed { finished_at, error, retryable } => {
            item.insert(FINISHED_AT.into(), s(rfc3339(*finished_at)));
            item.insert(ERROR.into(), s(error));
            item.insert(RETRYABLE.into(), AttributeValue::Bool(*retryable));
        }
    }
    item
}

fn status_str(status: Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Succeeded => "succeeded",
        Status::Failed => "failed",
    }
}

/// Reads an item back; what cannot be read names the item and the attribute.
pub fn from_item(item: &Item) -> Result<Entry, CatalogError> {
    let raw_id = item.get(catalog::SORT_KEY).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let bad = |reason: String| CatalogError::Unreadable { id: raw_id.clone(), reason };
    let text = |name: &str| -> Result<&String, CatalogError> {
        item.get(name).and_then(|v| v.as_s().ok()).ok_or_else(|| bad(format!("{name} is missing or not a string")))
    };
    let number = |name: &str| -> Result<i64, CatalogError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("{name} is missing or not a whole number")))
    };
    let time = |name: &str| -> Result<OffsetDateTime, CatalogError> {
        OffsetDateTime::parse(text(name)?, &Rfc3339).map_err(|e| bad(format!("{name} is not RFC 3339: {e}")))
    };
    let count = |name: &str| -> Result<u64, CatalogError> {
        u64::try_from(number(name)?).map_err(|_| bad(format!("{name} is negative")))
    };
    let id = BackupId::parse(&raw_id).ok_or_else(|| bad("the id is not a backup id".into()))?;
    let trigger = Trigger::parse(text(TRIGGER)?).ok_or_else(|| bad(format!("{TRIGGER} is unknown")))?;
    let until = OffsetDateTime::from_unix_timestamp(number(UNTIL)?).map_err(|e| bad(format!("{UNTIL}: {e}")))?;
    let state = match text(STATUS)?.as_str() {
        "running" => State::Running,
        "succeeded" => State::Succeeded {
            finished_at: time(FINISHED_AT)?,
            written: Written {
                key: text(KEY)?.clone(),
                count: count(COUNT)?,
                bytes: count(BYTES)?,
                sha256: text(SHA256)?.clone(),
            },
            mail_warning: match item.get(EMAIL_SENT).and_then(|v| v.as_bool().ok()) {
                Some(true) => None,
                _ => Some(item.get(WARNING).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()),
            },
        },
        "failed" => State::Failed {
            finished_at: time(FINISHED_AT)?,
            error: text(ERROR)?.clone(),
            retryable: item.get(RETRYABLE).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        },
        other => return Err(bad(format!("{STATUS} {other:?} is unknown"))),
    };
    Ok(Entry { id, trigger, started_at: time(STARTED_AT)?, until, state })
}

// ---------------------------------------------------------------------------------------------
// DynamoDB.

/// The catalog table.
#[derive(Debug, Clone)]
pub struct DynamoCatalog {
    client: Client,
    table: String,
}

impl DynamoCatalog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    async fn holder(&self) -> Result<Option<BackupId>, CatalogError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(lock_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "GetItem (lock)", e))?;
        Ok(out.item.as_ref().and_then(|i| i.get(HOLDER)).and_then(|v| v.as_s().ok()).and_then(|h| BackupId::parse(h)))
    }
}

fn conditional_check_failed<E>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

/// How many times the lock is asked for when it is released between asking and reading.
const LOCK_ATTEMPTS: usize = 3;

impl Catalog for DynamoCatalog {
    async fn lock(&self, id: &BackupId, until: OffsetDateTime, now: OffsetDateTime) -> Result<Lock, CatalogError> {
        for _ in 0..LOCK_ATTEMPTS {
            let mut item = lock_key();
            item.insert(HOLDER.into(), s(id.as_str()));
            item.insert(UNTIL.into(), n(until.unix_timestamp()));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk) OR #until < :now")
                .expression_attribute_names("#pk", catalog::PARTITION_KEY)
                .expression_attribute_names("#until", UNTIL)
                .expression_attribute_values(":now", n(now.unix_timestamp()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Lock::Taken),
                Err(e) if conditional_check_failed(&e) => {
                    if let Some(holder) = self.holder().await? {
                        return Ok(Lock::HeldBy(holder));
                    }
                    // Released since: ask again.
                }
                Err(e) => return Err(AwsFailure::new(SERVICE, "PutItem (lock)", e).into()),
            }
        }
        Err(CatalogError::Unreadable { id: catalog::LOCK.into(), reason: "the lock changed hands too often".into() })
    }

    async fn unlock(&self, id: &BackupId) -> Result<(), CatalogError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(lock_key()))
            .condition_expression("#holder = :id")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_values(":id", s(id.as_str()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Taken over after it ran out: not ours to release.
            Err(e) if conditional_check_failed(&e) => Ok(()),
            Err(e) => Err(AwsFailure::new(SERVICE, "DeleteItem (lock)", e).into()),
        }
    }

    async fn create(&self, entry: &Entry) -> Result<(), CatalogError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(entry)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", catalog::PARTITION_KEY)
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "PutItem", e))?;
        Ok(())
    }

    async fn extend(&self, id: &BackupId, until: OffsetDateTime) -> Result<bool, CatalogError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(entry_key(id)))
            .update_expression("SET #until = :until")
            .condition_expression("#status = :running")
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":until", n(until.unix_timestamp()))
            .expression_attribute_values(":running", s(status_str(Status::Running)))
            .send()
            .await;
        match updated {
            Ok(_) => {}
            Err(e) if conditional_check_failed(&e) => return Ok(false),
            Err(e) => return Err(AwsFailure::new(SERVICE, "UpdateItem", e).into()),
        }
        let lock = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(lock_key()))
            .update_expression("SET #until = :until")
            .condition_expression("#holder = :id")
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_values(":until", n(until.unix_timestamp()))
            .expression_attribute_values(":id", s(id.as_str()))
            .send()
            .await;
        match lock {
            // A lock taken over by another backup stays theirs: this run goes on regardless
            // (it writes its own key), the two simply overlap.
            Ok(_) => Ok(true),
            Err(e) if conditional_check_failed(&e) => Ok(true),
            Err(e) => Err(AwsFailure::new(SERVICE, "UpdateItem (lock)", e).into()),
        }
    }

    async fn finish(&self, entry: &Entry) -> Result<bool, CatalogError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(entry)))
            .condition_expression("#status = :running")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":running", s(status_str(Status::Running)))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(AwsFailure::new(SERVICE, "PutItem", e).into()),
        }
    }

    async fn get(&self, id: &BackupId) -> Result<Option<Entry>, CatalogError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(entry_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "GetItem", e))?;
        out.item.as_ref().map(from_item).transpose()
    }

    async fn page(
        &self,
        after: Option<&PageCursor>,
        limit: u16,
    ) -> Result<(Vec<Entry>, Option<PageCursor>), CatalogError> {
        let start = after.map(|c| key_of(catalog::BACKUPS, c.last_key()));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :backups")
            .expression_attribute_names("#pk", catalog::PARTITION_KEY)
            .expression_attribute_values(":backups", s(catalog::BACKUPS))
            .scan_index_forward(false)
            .limit(i32::from(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "Query", e))?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get(catalog::SORT_KEY))
            .and_then(|v| v.as_s().ok())
            .map(|k| PageCursor::after(k.as_str()));
        let mut entries = Vec::new();
        for item in out.items() {
            match from_item(item) {
                Ok(entry) => entries.push(entry),
                // One unreadable item does not hide the others.
                Err(e) => tracing::warn!(error = %e, "skipped a catalog item"),
            }
        }
        Ok((entries, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn id() -> BackupId {
        BackupId::new(datetime!(2026-11-30 02:00 UTC), 0xabcdef01)
    }

    fn entry(state: State) -> Entry {
        Entry {
            id: id(),
            trigger: Trigger::Schedule,
            started_at: datetime!(2026-11-30 02:00 UTC),
            until: datetime!(2026-11-30 02:06 UTC),
            state,
        }
    }

    #[test]
    fn every_state_round_trips_through_an_item() {
        let finished_at = datetime!(2026-11-30 02:01:30 UTC);
        let written = Written { key: id().object_key(), count: 3, bytes: 420, sha256: "ab".repeat(32) };
        for state in [
            State::Running,
            State::Succeeded { finished_at, written: written.clone(), mail_warning: None },
            State::Succeeded { finished_at, written, mail_warning: Some("the email could not be sent".into()) },
            State::Failed { finished_at, error: "backup storage is unavailable".into(), retryable: true },
        ] {
            let e = entry(state);
            assert_eq!(from_item(&to_item(&e)).unwrap(), e);
        }
    }

    #[test]
    fn a_run_past_its_time_reads_as_failed_and_is_not_rewritten() {
        let e = entry(State::Running);
        assert_eq!(e.view_state(datetime!(2026-11-30 02:05 UTC)), State::Running);
        let State::Failed { error, retryable, finished_at } = e.view_state(datetime!(2026-11-30 02:07 UTC)) else {
            panic!("a stopped run is failed")
        };
        assert_eq!((error.as_str(), retryable, finished_at), (STOPPED, true, e.until));
        assert_eq!(e.status(), Status::Running, "the entry itself is unchanged");
    }

    #[test]
    fn unreadable_items_name_what_is_wrong() {
        let mut item = to_item(&entry(State::Running));
        item.insert(STATUS.into(), s("paused"));
        let err = from_item(&item).unwrap_err().to_string();
        assert!(err.contains("status \"paused\" is unknown"), "{err}");
        item.remove(STARTED_AT);
        item.insert(STATUS.into(), s("running"));
        assert!(from_item(&item).unwrap_err().to_string().contains("startedAt"));
        item.insert(catalog::SORT_KEY.into(), s("../etc"));
        assert!(from_item(&item).unwrap_err().to_string().contains("not a backup id"));
    }
}
