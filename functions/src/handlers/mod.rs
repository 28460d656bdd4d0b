//! The three functions as plain async methods over the ports, so they run the same in
//! Lambda, under `cargo lambda watch`, and in tests. The backup function's are in [`backup`].

mod backup;

pub use backup::{Backup, BackupPorts, BackupReport, RunError};

use http::header::{CONTENT_TYPE, HeaderValue, LINK};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use system::mail::StudentEmailDomains;
use time::OffsetDateTime;

use crate::api::{ApiError, Responder, read_student};
use crate::domain::{NewStudent, PageCursor, PageLimit, Student};
use crate::mail::{self, Mailer};
use crate::store::{StoreError, StudentStore};

/// The header carrying the next page's cursor (also in `Link: <...>; rel="next"`).
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// The clock, injectable so tests can pin "today".
pub type Clock = fn() -> OffsetDateTime;

pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists(id) => ApiError::AlreadyExists(id),
        StoreError::Aws(ref aws) => {
            tracing::error!(operation = aws.operation, error = ?e, "DynamoDB call failed");
            ApiError::from_failure(aws.failure, "the database")
        }
    }
}

pub(crate) fn require_method(request: &Request, method: Method) -> Result<(), ApiError> {
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

pub(crate) fn add_next_page_headers(
    response: &mut Response<Body>,
    request: &Request,
    (limit, cursor): &(PageLimit, PageCursor),
) {
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
    /// Where confirmations may go: the school's sender mails no other domain.
    mail_domains: StudentEmailDomains,
}

impl<S: StudentStore, M: Mailer> InsertStudent<S, M> {
    /// Confirmations go to any domain until [`Self::with_mail_domains`] limits them.
    pub fn new(store: S, mailer: M, respond: Responder) -> Self {
        Self { store, mailer, respond, clock: OffsetDateTime::now_utc, mail_domains: StudentEmailDomains::any() }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_mail_domains(mut self, domains: StudentEmailDomains) -> Self {
        self.mail_domains = domains;
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

        let warning = match self.refusal(&student) {
            Some(reason) => {
                tracing::info!(studentid = %student.id, "confirmation email not sent: domain not listed");
                Some(format!("confirmation email not sent: {reason}"))
            }
            None => match self.mailer.send(mail::confirmation(&student)).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(studentid = %student.id, error = ?e, "confirmation email not sent");
                    Some(format!("confirmation email not sent: {e}"))
                }
            },
        };
        Ok(Inserted { student: student.to_student(), email_sent: warning.is_none(), warning })
    }

    /// Why the confirmation must not go to this student's address, if it must not.
    fn refusal(&self, student: &NewStudent) -> Option<String> {
        if self.mail_domains.is_any() {
            return None;
        }
        let domain = student.email.ascii_domain();
        if domain.as_deref().is_some_and(|d| self.mail_domains.allows(d)) {
            return None;
        }
        let listed = self.mail_domains.domains().join(", ");
        Some(match domain {
            Some(domain) => format!("confirmations go only to addresses at {listed}, not {domain}"),
            None => format!("confirmations go only to addresses at {listed}"),
        })
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
