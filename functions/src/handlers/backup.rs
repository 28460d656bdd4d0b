//! `BackupDynamoDBAndSendEmail`: `POST /backup`, `GET /backups`, `GET /backups/{backupId}`,
//! the runs `POST /backup` hands off, and the daily schedule.
//!
//! A backup can take longer than API Gateway's 29 s, so `POST /backup` does not run it: it
//! records a `running` backup (taking the one-at-a-time lock), invokes this function again
//! asynchronously with the backup's id, and waits up to `BACKUP_WAIT_SECONDS` for the catalog
//! to say how it ended — 200 with the result, a 5xx with the reason, or 202 with the URL to
//! ask later. A second `POST /backup` while one runs starts nothing and answers 202 for the
//! running one. The schedule takes the lock too, and runs the backup in its own invocation.

use std::time::Duration;

use http::header::{HeaderValue, LOCATION};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use system::backup::{Accepted, BACKUP_ID_PARAMETER, BackupId, BackupView, Status};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Clock, add_next_page_headers, require_method};
use crate::api::{ApiError, Responder};
use crate::aws::Failure;
use crate::backup::{BackupError, BackupRecord, BackupWriter, DOWNLOAD_LINK_LIFETIME, Manifest, new_backup_id};
use crate::catalog::{Catalog, CatalogError, Entry, Lock, State, Trigger, Written, whole_second};
use crate::domain::{Email, PageCursor, PageLimit};
use crate::handoff::Handoff;
use crate::mail::{self, Mailer};
use crate::store::{StoreError, StudentStore};

/// How long a handed-off backup may take to start and finish, at most: Lambda's longest
/// timeout and a minute for its queue. Once the run starts it narrows this to its deadline.
pub const HANDOFF_LIMIT: Duration = Duration::from_secs(16 * 60);
/// Added to a run's deadline, so the lock outlives a run that ends right at it.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);
/// The catalog is read this often while `POST /backup` waits, at first; the pause doubles up
/// to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(1);

/// What the function's ports are: the table, the writer, the mail, the catalog and the way to
/// hand a backup to a run of its own.
pub struct BackupPorts<S, M, C, H> {
    pub store: S,
    pub writer: BackupWriter,
    pub mailer: M,
    pub recipient: Email,
    pub catalog: C,
    pub handoff: H,
}

/// The answer to a backup that finished while `POST /backup` waited: the backup as the notice
/// tells it, and whether the notice went.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    pub backup_id: String,
    pub status: Status,
    #[serde(flatten)]
    pub backup: BackupRecord,
    pub email_sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Why a run could not be carried out or recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("backup {0} is not in the catalog")]
    Unknown(BackupId),
    #[error("the catalog of backups failed")]
    Catalog(#[from] CatalogError),
}

/// What beginning a backup came to.
enum Begun {
    Started(Entry),
    /// Another backup holds the lock; nothing was started.
    Running(BackupId),
}

pub struct Backup<S, M, C, H> {
    ports: BackupPorts<S, M, C, H>,
    respond: Responder,
    clock: Clock,
    wait: Duration,
}

impl<S: StudentStore, M: Mailer, C: Catalog, H: Handoff> Backup<S, M, C, H> {
    pub fn new(ports: BackupPorts<S, M, C, H>, respond: Responder) -> Self {
        Self {
            ports,
            respond,
            clock: OffsetDateTime::now_utc,
            wait: Duration::from_secs(system::env::DEFAULT_BACKUP_WAIT_SECONDS),
        }
    }

    /// How long `POST /backup` waits for the backup before answering 202.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn responder(&self) -> &Responder {
        &self.respond
    }

    pub fn catalog(&self) -> &C {
        &self.ports.catalog
    }

    pub fn handoff(&self) -> &H {
        &self.ports.handoff
    }

    /// An API Gateway request: `POST /backup`, `GET /backups` or `GET /backups/{backupId}`.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let answer = if request.method() == Method::POST {
            self.start(&request).await
        } else {
            match require_method(&request, Method::GET).map(|()| requested_id(&request)) {
                Ok(Some(raw)) => self.status(&raw).await,
                Ok(None) => self.list(&request).await,
                Err(e) => Err(e),
            }
        };
        answer.unwrap_or_else(|e| self.respond.error(&e))
    }

    async fn start(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let now = (self.clock)();
        let entry = match self.begin(Trigger::Api, now + HANDOFF_LIMIT, now).await.map_err(catalog_error)? {
            Begun::Started(entry) => entry,
            Begun::Running(other) => {
                tracing::info!(backup = %other, "a backup is running: nothing started");
                return Ok(self.accepted(request, &other));
            }
        };
        if let Err(e) = self.ports.handoff.hand_off(&entry.id).await {
            tracing::error!(backup = %entry.id, error = ?e, "could not hand the backup off");
            let failure = e.failure;
            let error = ApiError::from_failure(failure, "the backup runner");
            let retryable = error.status() == StatusCode::SERVICE_UNAVAILABLE;
            let state = State::Failed { finished_at: (self.clock)(), error: error.to_string(), retryable };
            self.end(entry, state).await.map_err(catalog_error)?;
            return Err(error);
        }
        match self.await_end(&entry.id).await? {
            Some(ended) => self.ended(ended).await,
            None => Ok(self.accepted(request, &entry.id)),
        }
    }

    /// Takes the lock and records a running backup, unless one runs already.
    async fn begin(&self, trigger: Trigger, until: OffsetDateTime, now: OffsetDateTime) -> Result<Begun, CatalogError> {
        let (id, until) = (new_backup_id(now), whole_second(until));
        if let Lock::HeldBy(other) = self.ports.catalog.lock(&id, until, now).await? {
            return Ok(Begun::Running(other));
        }
        let entry = Entry::running(id, trigger, now, until);
        if let Err(e) = self.ports.catalog.create(&entry).await {
            self.release(&entry.id).await;
            return Err(e);
        }
        Ok(Begun::Started(entry))
    }

    async fn release(&self, id: &BackupId) {
        if let Err(e) = self.ports.catalog.unlock(id).await {
            // It runs out by itself at its time.
            tracing::error!(backup = %id, error = ?e, "could not release the backup lock");
        }
    }

    /// Records how a backup ended and lets the lock go. False if it had ended already.
    async fn end(&self, mut entry: Entry, state: State) -> Result<bool, CatalogError> {
        entry.state = state;
        let recorded = self.ports.catalog.finish(&entry).await;
        self.release(&entry.id).await;
        recorded
    }

    /// Reads the catalog until the backup ends or the wait is over (`None`).
    async fn await_end(&self, id: &BackupId) -> Result<Option<Entry>, ApiError> {
        let until = tokio::time::Instant::now() + self.wait;
        let mut pause = FIRST_POLL;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            tokio::time::sleep(pause.min(left)).await;
            let entry = self.ports.catalog.get(id).await.map_err(catalog_error)?;
            match entry {
                Some(entry) if entry.status() != Status::Running => return Ok(Some(entry)),
                Some(_) => {}
                None => return Err(ApiError::Internal),
            }
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// The answer for a backup that ended while the request waited.
    async fn ended(&self, entry: Entry) -> Result<Response<Body>, ApiError> {
        match entry.state {
            State::Succeeded { written, mail_warning, .. } => {
                let (download_url, expires_at) = self.link(&written.key).await?;
                let report = BackupReport {
                    backup_id: entry.id.to_string(),
                    status: Status::Succeeded,
                    backup: self.record(written, download_url, expires_at),
                    email_sent: mail_warning.is_none(),
                    warning: mail_warning,
                };
                Ok(self.respond.json(StatusCode::OK, &report))
            }
            State::Failed { error, retryable, .. } => Err(ApiError::BackupFailed { message: error, retryable }),
            State::Running => Err(ApiError::Internal),
        }
    }

    /// 202: the backup `id` goes on; its status is at `Location` (and `statusUrl`).
    fn accepted(&self, request: &Request, id: &BackupId) -> Response<Body> {
        let status_url = status_path(request.uri().path(), id);
        let accepted = Accepted { backup_id: id.to_string(), status: Status::Running, status_url };
        let mut response = self.respond.json(StatusCode::ACCEPTED, &accepted);
        let location = HeaderValue::from_str(&accepted.status_url).expect("paths and ids are header-safe");
        response.headers_mut().insert(LOCATION, location);
        response
    }

    /// `GET /backups/{backupId}`.
    async fn status(&self, raw: &str) -> Result<Response<Body>, ApiError> {
        let id = BackupId::parse(raw).ok_or(ApiError::InvalidBackupId)?;
        let entry = self.ports.catalog.get(&id).await.map_err(catalog_error)?;
        let entry = entry.ok_or_else(|| ApiError::BackupNotFound(id.to_string()))?;
        Ok(self.respond.json(StatusCode::OK, &self.view(entry).await))
    }

    /// `GET /backups`: newest first, pages like `GET /students`.
    async fn list(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let query = request.query_string_parameters();
        let limit = PageLimit::parse(query.first("limit"))?;
        let cursor = query.first("cursor").map(PageCursor::decode).transpose()?;
        let (entries, next) = self.ports.catalog.page(cursor.as_ref(), limit.get()).await.map_err(catalog_error)?;
        let mut views = Vec::with_capacity(entries.len());
        for entry in entries {
            views.push(self.view(entry).await);
        }
        let mut response = self.respond.json(StatusCode::OK, &views);
        if let Some(cursor) = next {
            add_next_page_headers(&mut response, request, &(limit, cursor));
        }
        Ok(response)
    }

    /// A backup as readers see it now, with a fresh download link if it succeeded.
    async fn view(&self, entry: Entry) -> BackupView {
        let now = (self.clock)();
        let mut view = BackupView {
            backup_id: entry.id.to_string(),
            status: entry.status(),
            started_at: rfc3339(entry.started_at),
            finished_at: None,
            count: None,
            bytes: None,
            sha256: None,
            key: None,
            download_url: None,
            expires_at: None,
            error: None,
        };
        match entry.view_state(now) {
            State::Running => {}
            State::Succeeded { finished_at, written, .. } => {
                view.status = Status::Succeeded;
                view.finished_at = Some(rfc3339(finished_at));
                match self.link(&written.key).await {
                    Ok((url, expires)) => (view.download_url, view.expires_at) = (Some(url), Some(expires)),
                    // The rest of the view is still true; the link can be asked for again.
                    Err(e) => tracing::warn!(backup = %entry.id, error = %e, "no download link"),
                }
                (view.count, view.bytes, view.sha256, view.key) =
                    (Some(written.count), Some(written.bytes), Some(written.sha256), Some(written.key));
            }
            State::Failed { finished_at, error, .. } => {
                view.status = Status::Failed;
                view.finished_at = Some(rfc3339(finished_at));
                view.error = Some(error);
            }
        }
        view
    }

    /// A fresh one-hour link to `key`, and when it stops working.
    async fn link(&self, key: &str) -> Result<(String, String), ApiError> {
        let url = self.ports.writer.download_link(key).await.map_err(backup_error)?;
        Ok((url, rfc3339((self.clock)() + DOWNLOAD_LINK_LIFETIME)))
    }

    fn record(&self, written: Written, download_url: String, expires_at: String) -> BackupRecord {
        let Written { key, count, bytes, sha256 } = written;
        BackupRecord {
            bucket: self.ports.writer.bucket().to_owned(),
            key,
            count,
            bytes,
            sha256,
            download_url,
            expires_at,
        }
    }

    /// Runs the backup `id` that `POST /backup` handed off, until `deadline` (the invocation's),
    /// and records how it ended. A backup that has already ended is left as it is: Lambda may
    /// deliver an asynchronous event more than once.
    pub async fn run(&self, id: &BackupId, deadline: OffsetDateTime) -> Result<Entry, RunError> {
        let entry = self.ports.catalog.get(id).await?.ok_or_else(|| RunError::Unknown(id.clone()))?;
        if entry.status() != Status::Running {
            tracing::info!(backup = %id, status = ?entry.status(), "the backup has ended already: nothing to do");
            return Ok(entry);
        }
        let until = whole_second(deadline + DEADLINE_MARGIN);
        if !self.ports.catalog.extend(id, until).await? {
            return self.ports.catalog.get(id).await?.ok_or_else(|| RunError::Unknown(id.clone()));
        }
        let entry = Entry { until, ..entry };
        let state = self.write_and_announce(id, entry.started_at).await;
        let mut ended = entry.clone();
        ended.state = state.clone();
        if !self.end(entry, state).await? {
            tracing::warn!(backup = %id, "the backup had been ended by another run");
        }
        Ok(ended)
    }

    /// The daily schedule: a backup in this invocation, unless one runs already (`None`).
    pub async fn scheduled(&self, deadline: OffsetDateTime) -> Result<Option<Entry>, RunError> {
        let now = (self.clock)();
        match self.begin(Trigger::Schedule, deadline + DEADLINE_MARGIN, now).await? {
            Begun::Running(other) => {
                tracing::info!(backup = %other, "a backup is running: the scheduled one is skipped");
                Ok(None)
            }
            Begun::Started(entry) => {
                tracing::info!(backup = %entry.id, "scheduled backup");
                self.run(&entry.id, deadline).await.map(Some)
            }
        }
    }

    /// Writes the backup and emails its link; only a written backup is announced.
    async fn write_and_announce(&self, id: &BackupId, started_at: OffsetDateTime) -> State {
        let manifest = match self.ports.writer.write(&self.ports.store, id, started_at).await {
            Ok(manifest) => manifest,
            Err(e) => {
                tracing::error!(backup = %id, error = ?e, "backup failed");
                let (error, retryable) = failure_words(&e);
                return State::Failed { finished_at: (self.clock)(), error, retryable };
            }
        };
        tracing::info!(key = manifest.key, count = manifest.count, bytes = manifest.bytes, "backup written");
        let Manifest { key, count, bytes, sha256, .. } = manifest;
        let written = Written { key, count, bytes, sha256 };
        let mail_warning = match self.link(&written.key).await {
            Ok((url, expires)) => {
                let record = self.record(written.clone(), url, expires);
                match self.ports.mailer.send(mail::backup_notice(&self.ports.recipient, &record)).await {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::warn!(key = written.key, error = ?e, "backup notice not sent");
                        Some(format!("backup notice not sent: {e}"))
                    }
                }
            }
            Err(e) => Some(format!("backup notice not sent: {e}")),
        };
        State::Succeeded { finished_at: (self.clock)(), written, mail_warning }
    }
}

#[cfg(feature = "test-util")]
impl<S: StudentStore, M: Mailer, C: Catalog> Backup<S, M, C, crate::handoff::RecordingHandoff> {
    /// A request, with the run it hands off (if any) carried out beside it as Lambda would,
    /// until a five-minute deadline. A run handed off by a request that answers at once
    /// (`BACKUP_WAIT_SECONDS=0`) is not carried out: the test takes it from the hand-off and
    /// calls [`Self::run`].
    pub async fn handle_and_run(&self, request: Request) -> Response<Body> {
        let deadline = (self.clock)() + Duration::from_secs(300);
        let handled = self.handle(request);
        tokio::pin!(handled);
        tokio::select! {
            biased;
            id = self.ports.handoff.next() => {
                let (response, _) = tokio::join!(&mut handled, self.run(&id, deadline));
                response
            }
            response = &mut handled => response,
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("RFC 3339 formats any UTC time")
}

/// The backup id a `GET` names: the path parameter, or the path's last segment after
/// `/backups/` (an event without `pathParameters`). `None` is the list.
fn requested_id(request: &Request) -> Option<String> {
    if let Some(id) = request.path_parameters().first(BACKUP_ID_PARAMETER) {
        return Some(id.to_owned());
    }
    request.uri().path().rsplit_once("/backups/").map(|(_, id)| id.to_owned())
}

/// The status path of backup `id` for a `POST` to `path`: `/prod/backup` → `/prod/backups/<id>`,
/// so the stage (or a custom domain's base path) carries over.
fn status_path(path: &str, id: &BackupId) -> String {
    let base = path.strip_suffix('/').unwrap_or(path);
    let base = base.strip_suffix("/backup").unwrap_or("");
    format!("{base}/backups/{id}")
}

fn catalog_error(e: CatalogError) -> ApiError {
    tracing::error!(error = ?e, "the catalog of backups failed");
    ApiError::from_failure(e.failure(), "the catalog of backups")
}

/// A failed backup in the words its catalog entry keeps (and `POST /backup` answers), and
/// whether trying again later may work. The service and the call are named: the readers are
/// the service's operators, and "internal error" would tell them nothing.
fn failure_words(e: &BackupError) -> (String, bool) {
    let unavailable = e.failure() == Failure::Unavailable;
    let words = match e {
        BackupError::Read(_) if unavailable => ApiError::Unavailable("the database").to_string(),
        BackupError::Write(_) if unavailable => ApiError::Unavailable("backup storage").to_string(),
        BackupError::Read(StoreError::Aws(aws)) | BackupError::Write(aws) => {
            format!("{} {} failed; see the function's log", aws.service, aws.operation)
        }
        BackupError::Read(StoreError::AlreadyExists(_)) => "reading the table failed".to_owned(),
        BackupError::Spool(_) => "the backup's temporary file failed (is /tmp full?)".to_owned(),
        BackupError::Exists(_) => e.to_string(),
    };
    (words, unavailable)
}

fn backup_error(e: BackupError) -> ApiError {
    tracing::error!(error = ?e, "backup storage failed");
    ApiError::from_failure(e.failure(), "backup storage")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_backup_report_is_the_record_flattened_then_the_mail_outcome() {
        let backup = BackupRecord {
            bucket: "b".into(),
            key: "backups/k.json".into(),
            count: 3,
            bytes: 120,
            sha256: "ab".into(),
            download_url: "https://d/k".into(),
            expires_at: "2025-07-06T10:08:07Z".into(),
        };
        let sent = BackupReport {
            backup_id: "backup-1".into(),
            status: Status::Succeeded,
            backup: backup.clone(),
            email_sent: true,
            warning: None,
        };
        assert_eq!(
            serde_json::to_string(&sent).unwrap(),
            r#"{"backupId":"backup-1","status":"succeeded","bucket":"b","key":"backups/k.json","count":3,"bytes":120,"sha256":"ab","downloadUrl":"https://d/k","expiresAt":"2025-07-06T10:08:07Z","emailSent":true}"#
        );
        let unsent = BackupReport { email_sent: false, warning: Some("w".into()), ..sent };
        assert!(serde_json::to_string(&unsent).unwrap().ends_with(r#""emailSent":false,"warning":"w"}"#));
    }

    #[test]
    fn the_status_path_keeps_the_stage() {
        let id = BackupId::new(datetime!(2026-11-30 02:00 UTC), 1);
        assert_eq!(status_path("/prod/backup", &id), format!("/prod/backups/{id}"));
        assert_eq!(status_path("/prod/backup/", &id), format!("/prod/backups/{id}"));
        assert_eq!(status_path("/backup", &id), format!("/backups/{id}"));
        assert_eq!(status_path("/elsewhere", &id), format!("/backups/{id}"));
    }
}
