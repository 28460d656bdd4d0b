//! The three functions as plain async methods over the ports, so they run the same in
//! Lambda, under `cargo lambda watch`, and in tests.

use http::header::{CONTENT_TYPE, HeaderValue, LINK};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::{ApiError, Responder, read_student};
use crate::backup::{BackupError, BackupRecord, BackupWriter, DOWNLOAD_LINK_LIFETIME};
use crate::domain::{Email, NewStudent, PageCursor, PageLimit, Student};
use crate::mail::{self, Mailer};
use crate::store::{StoreError, StudentStore};

/// The header carrying the next page's cursor (also in `Link: <...>; rel="next"`).
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// The clock, injectable so tests can pin "today".
pub type Clock = fn() -> OffsetDateTime;

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists(id) => ApiError::AlreadyExists(id),
        StoreError::Aws(ref aws) => {
            tracing::error!(operation = aws.operation, error = ?e, "DynamoDB call failed");
            ApiError::from_failure(aws.failure, "the database")
        }
    }
}

fn require_method(request: &Request, method: Method) -> Result<(), ApiError> {
    if request.method() == method { Ok(()) } else { Err(ApiError::MethodNotAllowed(request.method().to_string())) }
}

/// `GET /students` — `getStudentData`.
pub struct ListStudents<S> {
    store: S,
    respond: Responder,
}

impl<S: StudentStore> ListStudents<S> {
    pub fn new(store: S, respond: Responder) -> Self {
        Self { store, respond }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.list(&request).await {
            Ok((students, next)) => {
                let mut response = self.respond.json(StatusCode::OK, &students);
                if let Some(cursor) = next {
                    add_next_page_headers(&mut response, &request, &cursor);
                }
                response
            }
            Err(e) => self.respond.error(&e),
        }
    }

    async fn list(&self, request: &Request) -> Result<(Vec<Student>, Option<(PageLimit, PageCursor)>), ApiError> {
        require_method(request, Method::GET)?;
        let query = request.query_string_parameters();
        let limit = PageLimit::parse(query.first("limit"))?;
        let cursor = query.first("cursor").map(PageCursor::decode).transpose()?;
        let page = self.store.page(cursor.as_ref(), Some(limit.get()), None).await.map_err(store_error)?;
        Ok((page.students, page.next.map(|c| (limit, c))))
    }
}

fn add_next_page_headers(response: &mut Response<Body>, request: &Request, (limit, cursor): &(PageLimit, PageCursor)) {
    let cursor = cursor.encode();
    // The request's path includes the stage (`/prod/students`), so the link works as is.
    let link = format!("<{}?limit={}&cursor={cursor}>; rel=\"next\"", request.uri().path(), limit.get());
    let headers = response.headers_mut();
    headers.insert(LINK, HeaderValue::from_str(&link).expect("paths and base64url are header-safe"));
    headers.insert(NEXT_CURSOR_HEADER, HeaderValue::from_str(&cursor).expect("base64url is header-safe"));
}

/// The answer to a successful insert.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inserted {
    #[serde(flatten)]
    pub student: Student,
    pub email_sent: bool,
    /// Why the confirmation was not sent; the student is stored either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// `POST /students` — `insertStudentData`.
pub struct InsertStudent<S, M> {
    store: S,
    mailer: M,
    respond: Responder,
    clock: Clock,
}

impl<S: StudentStore, M: Mailer> InsertStudent<S, M> {
    pub fn new(store: S, mailer: M, respond: Responder) -> Self {
        Self { store, mailer, respond, clock: OffsetDateTime::now_utc }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let result = self.insert(&request).await;
        self.respond.result(StatusCode::CREATED, result)
    }

    async fn insert(&self, request: &Request) -> Result<Inserted, ApiError> {
        require_method(request, Method::POST)?;
        require_json(request)?;
        let today = (self.clock)().date();
        let student = NewStudent::parse(read_student(request.body().as_ref())?, today)?;
        self.store.insert(&student).await.map_err(store_error)?;
        tracing::info!(studentid = %student.id, "student stored");

        let student = student.to_student();
        let warning = match self.mailer.send(mail::confirmation(&student)).await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(studentid = %student.studentid, error = ?e, "confirmation email not sent");
                Some(format!("confirmation email not sent: {e}"))
            }
        };
        Ok(Inserted { student, email_sent: warning.is_none(), warning })
    }
}

/// A body is JSON if it says so, or says nothing (older clients send no Content-Type).
fn require_json(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(CONTENT_TYPE) else { return Ok(()) };
    let essence = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// The answer to a backup: the backup as the notice tells it, and whether the notice went.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    #[serde(flatten)]
    pub backup: BackupRecord,
    pub email_sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// `POST /backup` and the daily schedule — `BackupDynamoDBAndSendEmail`.
pub struct Backup<S, M> {
    store: S,
    writer: BackupWriter,
    mailer: M,
    recipient: Email,
    respond: Responder,
    clock: Clock,
}

impl<S: StudentStore, M: Mailer> Backup<S, M> {
    pub fn new(store: S, writer: BackupWriter, mailer: M, recipient: Email, respond: Responder) -> Self {
        Self { store, writer, mailer, recipient, respond, clock: OffsetDateTime::now_utc }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let result = match require_method(&request, Method::POST) {
            Ok(()) => self.run().await,
            Err(e) => Err(e),
        };
        self.respond.result(StatusCode::OK, result)
    }

    pub fn responder(&self) -> &Responder {
        &self.respond
    }

    /// Backs up the table and emails the link. Only a written backup is announced.
    pub async fn run(&self) -> Result<BackupReport, ApiError> {
        let now = (self.clock)();
        let manifest = self.writer.write(&self.store, now).await.map_err(backup_error)?;
        tracing::info!(key = manifest.key, count = manifest.count, bytes = manifest.bytes, "backup written");
        let download_url = self.writer.download_link(&manifest.key).await.map_err(backup_error)?;
        let expires_at = (now + DOWNLOAD_LINK_LIFETIME).format(&Rfc3339).expect("RFC 3339 formats any UTC time");
        let backup = BackupRecord::new(manifest, download_url, expires_at);
        let warning = match self.mailer.send(mail::backup_notice(&self.recipient, &backup)).await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(key = backup.key, error = ?e, "backup notice not sent");
                Some(format!("backup notice not sent: {e}"))
            }
        };
        Ok(BackupReport { backup, email_sent: warning.is_none(), warning })
    }
}

fn backup_error(e: BackupError) -> ApiError {
    tracing::error!(error = ?e, "backup failed");
    let service = match e {
        BackupError::Read(_) => "the database",
        BackupError::Write(_) | BackupError::Spool(_) => "backup storage",
    };
    ApiError::from_failure(e.failure(), service)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let sent = BackupReport { backup: backup.clone(), email_sent: true, warning: None };
        assert_eq!(
            serde_json::to_string(&sent).unwrap(),
            r#"{"bucket":"b","key":"backups/k.json","count":3,"bytes":120,"sha256":"ab","downloadUrl":"https://d/k","expiresAt":"2025-07-06T10:08:07Z","emailSent":true}"#
        );
        let unsent = BackupReport { backup, email_sent: false, warning: Some("w".into()) };
        assert!(serde_json::to_string(&unsent).unwrap().ends_with(r#""emailSent":false,"warning":"w"}"#));
    }
}
