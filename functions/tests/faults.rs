//! Faults the emulator cannot produce: throttling, an unreachable or silent database, an S3
//! part failing mid-backup and SES refusing mail. The AWS clients are the SDK's own, answered
//! by `aws-smithy-mocks` rules, or pointed at a loopback port that refuses or never answers.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::types::error::ThrottlingException;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_sesv2::operation::send_email::{SendEmailError, SendEmailOutput};
use aws_sdk_sesv2::types::error::MessageRejected;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use lambda_http::{Body, Request, Response, request::from_str};
use serde_json::{Value, json};
use students::api::Responder;
use students::aws::{retry_config, timeout_config};
use students::backup::BackupWriter;
use students::catalog::{MemoryCatalog, State};
use students::config::{AllowedOrigin, Timeouts};
use students::domain::{Email, Student};
use students::handlers::{Backup, BackupPorts, InsertStudent, ListStudents};
use students::handoff::RecordingHandoff;
use students::mail::{RecordingMailer, SesMailer};
use students::store::{DynamoStore, MemoryStore};
use time::macros::datetime;

const TABLE: &str = "studentData";
const BUCKET: &str = "student-backup-test";
const UNAVAILABLE: &str = "the database is unavailable, try again in a moment";

fn event(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn request(path: &str) -> Request {
    from_str(&event(path).to_string()).expect("a REST v1 proxy event")
}

fn insert_request() -> Request {
    request("insertStudentData/events/insert-student.json")
}

fn json_body(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).expect("JSON body")
}

fn respond() -> Responder {
    Responder::new(AllowedOrigin::any())
}

/// The student in `insert-student.json`.
fn sv001() -> Student {
    Student {
        studentid: "SV001".into(),
        name: "Nguyen Van A".into(),
        class: "12A1".into(),
        birthdate: "2008-05-17".into(),
        email: "nguyen.van.a@example.com".into(),
    }
}

/// The SDK's standard retry, three attempts; the first back-off is short so tests are quick.
fn retry(attempts: u32) -> RetryConfig {
    RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(5))
}

fn http(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body.to_owned()))
}

fn now() -> time::OffsetDateTime {
    datetime!(2026-11-29 12:00 UTC)
}

// ---------------------------------------------------------------------------------------------
// DynamoDB throttling.

/// What DynamoDB answers (awsJson1.0) when a table's provisioned throughput is exceeded.
fn throughput_exceeded() -> HttpResponse {
    http(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#,
    )
}

fn throttling() -> PutItemError {
    PutItemError::ThrottlingException(
        ThrottlingException::builder()
            .message("Rate of requests exceeds the allowed throughput.")
            .meta(ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build())
            .build(),
    )
}

/// A PutItem of SV001 into the table, conditional on the id being new.
fn put_sv001()
-> aws_smithy_mocks::RuleBuilder<aws_sdk_dynamodb::operation::put_item::PutItemInput, PutItemOutput, PutItemError> {
    mock!(aws_sdk_dynamodb::Client::put_item).match_requests(|r| {
        r.table_name() == Some(TABLE)
            && r.condition_expression() == Some("attribute_not_exists(#id)")
            && r.item().and_then(|i| i.get("studentid")).and_then(|v| v.as_s().ok()).map(String::as_str)
                == Some("SV001")
    })
}

#[tokio::test]
async fn throttled_twice_then_stored_is_a_201_after_retries() {
    let put = put_sv001()
        .sequence()
        .http_response(throughput_exceeded)
        .error(throttling)
        .output(|| PutItemOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |c| c.retry_config(retry(3)));
    let mailer = RecordingMailer::default();
    let app = InsertStudent::new(DynamoStore::new(client, TABLE), &mailer, respond()).with_clock(now);

    let r = app.handle(insert_request()).await;
    let body = json_body(&r);
    assert_eq!(r.status(), 201, "{body}");
    assert_eq!(body["studentid"], "SV001");
    assert_eq!(body["emailSent"], true);
    assert_eq!(put.num_calls(), 3, "two throttled attempts and the one that succeeded");
    assert_eq!(mailer.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn throttled_past_the_retry_budget_is_a_503_and_no_mail() {
    let put = put_sv001().sequence().http_response(throughput_exceeded).error(throttling).repeatedly().build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |c| c.retry_config(retry(3)));
    let mailer = RecordingMailer::default();
    let app = InsertStudent::new(DynamoStore::new(client, TABLE), &mailer, respond()).with_clock(now);

    let r = app.handle(insert_request()).await;
    assert_eq!(r.status(), 503);
    assert_eq!(json_body(&r), json!({ "message": UNAVAILABLE }));
    assert_eq!(put.num_calls(), 3, "every attempt of the budget was used");
    assert!(mailer.sent.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// DynamoDB unreachable.

fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(300),
        attempt: Duration::from_millis(300),
        operation: Duration::from_secs(1),
    }
}

/// A real client, as the functions build it, for a DynamoDB at `endpoint`.
fn dynamo_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "not-a-secret", None, None, "test"))
        .endpoint_url(endpoint)
        .timeout_config(timeout_config(short_timeouts()))
        .retry_config(retry_config())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A loopback port nothing listens on: connecting is refused at once.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A loopback port whose connections are accepted by the kernel but never answered.
fn silent_port() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

const BOUND: Duration = Duration::from_secs(5);

async fn assert_unavailable(endpoint: &str, at_least: Duration) {
    let mailer = RecordingMailer::default();
    let insert = InsertStudent::new(DynamoStore::new(dynamo_at(endpoint), TABLE), &mailer, respond()).with_clock(now);
    let started = Instant::now();
    let r = insert.handle(insert_request()).await;
    let took = started.elapsed();
    assert_eq!(r.status(), 503, "{}", json_body(&r));
    assert_eq!(json_body(&r), json!({ "message": UNAVAILABLE }));
    eprintln!("insert against {endpoint}: {} after {took:?}", r.status());
    assert!(took < BOUND && took >= at_least, "insert answered after {took:?}");
    assert!(mailer.sent.lock().unwrap().is_empty(), "nothing was stored, so nothing may be confirmed");

    let list = ListStudents::new(DynamoStore::new(dynamo_at(endpoint), TABLE), respond());
    let started = Instant::now();
    let r = list.handle(request("getStudentData/events/get-students.json")).await;
    let took = started.elapsed();
    assert_eq!(r.status(), 503, "{}", json_body(&r));
    assert_eq!(json_body(&r), json!({ "message": UNAVAILABLE }));
    eprintln!("list against {endpoint}: {} after {took:?}", r.status());
    assert!(took < BOUND && took >= at_least, "list answered after {took:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_503_within_the_timeout() {
    assert_unavailable(&closed_port(), Duration::ZERO).await;
}

#[tokio::test]
async fn a_database_that_never_answers_is_a_503_within_the_timeout() {
    let (_listener, url) = silent_port();
    // At least one whole attempt timed out before the answer.
    assert_unavailable(&url, short_timeouts().attempt).await;
}

// ---------------------------------------------------------------------------------------------
// A cursor naming a key DynamoDB cannot hold.

#[tokio::test]
async fn a_cursor_past_the_key_size_limit_is_a_400_not_a_scan() {
    // What DynamoDB answers for an ExclusiveStartKey over its 2048-byte partition key limit.
    let scan = mock!(aws_sdk_dynamodb::Client::scan)
        .match_requests(|r| {
            r.exclusive_start_key().and_then(|k| k.get("studentid")).and_then(|v| v.as_s().ok()).is_some_and(|k| k.len() > 2048)
        })
        .then_http_response(|| {
            http(
                400,
                r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"}"#,
            )
        });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&scan], |c| c.retry_config(retry(3)));
    let app = ListStudents::new(DynamoStore::new(client, TABLE), respond());
    // A client can forge any well-formed cursor: the checksum is not a secret.
    let cursor = students::domain::PageCursor::after("k".repeat(3_000)).encode();
    let mut e = event("getStudentData/events/get-students.json");
    e["queryStringParameters"] = json!({ "cursor": cursor });
    e["multiValueQueryStringParameters"] = json!({ "cursor": [cursor] });
    let r = app.handle(from_str(&e.to_string()).unwrap()).await;
    let body = json_body(&r);
    assert_eq!(r.status(), 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("cursor is not valid"), "{body}");
    assert_eq!(scan.num_calls(), 0, "the cursor was refused before DynamoDB saw it");
}

// ---------------------------------------------------------------------------------------------
// S3 failing mid-backup.

/// Students big enough that the backup needs three 5 MiB parts.
fn big_store(count: usize) -> MemoryStore {
    let name = "N".repeat(2_000);
    MemoryStore::with((0..count).map(|n| Student {
        studentid: format!("SV{n:05}"),
        name: name.clone(),
        class: "12A1".into(),
        birthdate: "2008-05-17".into(),
        email: format!("s{n}@example.com"),
    }))
}

fn s3_internal_error() -> HttpResponse {
    http(
        500,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>R1</RequestId></Error>",
    )
}

struct S3Rules {
    create: Rule,
    part1: Rule,
    part2: Rule,
    later_parts: Rule,
    complete: Rule,
    abort: Rule,
    put: Rule,
    key: Arc<Mutex<Option<String>>>,
}

impl S3Rules {
    /// Create answers upload id "u1"; parts 1 and 3+ succeed; part 2 answers `part2`; complete
    /// answers `complete` (success when `None`).
    fn new(part2: fn() -> HttpResponse, complete: Option<fn() -> HttpResponse>) -> Self {
        let key = Arc::new(Mutex::new(None));
        let created = key.clone();
        let create = mock!(aws_sdk_s3::Client::create_multipart_upload)
            .match_requests(|r| r.bucket() == Some(BUCKET) && r.key().is_some_and(|k| k.starts_with("backups/backup-")))
            .then_compute_output(move |r| {
                *created.lock().unwrap() = r.key().map(str::to_owned);
                CreateMultipartUploadOutput::builder().bucket(BUCKET).key(r.key().unwrap()).upload_id("u1").build()
            });
        let part = |n: i32| {
            mock!(aws_sdk_s3::Client::upload_part)
                .match_requests(move |r| r.upload_id() == Some("u1") && r.part_number() == Some(n))
        };
        let part1 = part(1).then_output(|| UploadPartOutput::builder().e_tag("\"etag-1\"").build());
        let part2 = part(2).then_http_response(part2);
        let later_parts = mock!(aws_sdk_s3::Client::upload_part)
            .match_requests(|r| r.part_number().is_some_and(|n| n > 2))
            .then_output(|| UploadPartOutput::builder().e_tag("\"etag-n\"").build());
        // Every completion is conditional: S3 must refuse it over an existing object.
        let conditional =
            mock!(aws_sdk_s3::Client::complete_multipart_upload).match_requests(|r| r.if_none_match() == Some("*"));
        let complete = match complete {
            Some(answer) => conditional.then_http_response(answer),
            None => conditional.then_output(|| CompleteMultipartUploadOutput::builder().build()),
        };
        let aborted = key.clone();
        let abort = mock!(aws_sdk_s3::Client::abort_multipart_upload)
            .match_requests(move |r| {
                r.bucket() == Some(BUCKET)
                    && r.upload_id() == Some("u1")
                    && r.key() == aborted.lock().unwrap().as_deref()
            })
            .then_output(|| AbortMultipartUploadOutput::builder().build());
        let put = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|r| r.if_none_match() == Some("*"))
            .then_output(|| PutObjectOutput::builder().build());
        Self { create, part1, part2, later_parts, complete, abort, put, key }
    }

    fn client(&self) -> aws_sdk_s3::Client {
        let rules = [&self.create, &self.part1, &self.part2, &self.later_parts, &self.complete, &self.abort, &self.put];
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules, |c| c.retry_config(retry(3)))
    }
}

type TestBackup<'a> = Backup<&'a MemoryStore, &'a RecordingMailer, MemoryCatalog, RecordingHandoff>;

fn backup_with<'a>(store: &'a MemoryStore, writer: BackupWriter, mailer: &'a RecordingMailer) -> TestBackup<'a> {
    let ports = BackupPorts {
        store,
        writer,
        mailer,
        recipient: Email::parse("admin@example.com").unwrap(),
        catalog: MemoryCatalog::default(),
        handoff: RecordingHandoff::default(),
    };
    Backup::new(ports, respond())
}

fn backup<'a>(
    store: &'a MemoryStore,
    s3: aws_sdk_s3::Client,
    mailer: &'a RecordingMailer,
    spool: &std::path::Path,
) -> TestBackup<'a> {
    let writer = BackupWriter::new(s3, BUCKET, TABLE).with_part_size(5 * 1024 * 1024).with_spool_dir(spool);
    backup_with(store, writer, mailer)
}

fn deadline() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + Duration::from_secs(300)
}

/// The failure a backup's catalog entry records.
fn failure_of(app: &TestBackup<'_>) -> (String, bool) {
    let entries = app.catalog().entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    match &entries[0].state {
        State::Failed { error, retryable, .. } => (error.clone(), *retryable),
        other => panic!("the backup did not fail: {other:?}"),
    }
}

#[tokio::test]
async fn a_part_failing_mid_backup_aborts_the_upload_and_sends_nothing() {
    let rules = S3Rules::new(s3_internal_error, None);
    // ~2.1 KB per student: about 11 MB, so three parts.
    let store = big_store(5_200);
    let mailer = RecordingMailer::default();
    let spool = tempfile::tempdir().unwrap();
    let app = backup(&store, rules.client(), &mailer, spool.path());

    let r = app.handle_and_run(request("BackupDynamoDBAndSendEmail/events/backup-http.json")).await;
    let body = json_body(&r);
    assert_eq!(r.status(), 500, "{body}");
    assert_eq!(body, json!({"message": "S3 UploadPart failed; see the function's log"}));
    assert_eq!(failure_of(&app), ("S3 UploadPart failed; see the function's log".into(), false));
    assert_eq!(app.catalog().lock_holder(), None, "the lock was released");
    assert!(rules.key.lock().unwrap().is_some(), "the upload was started");
    assert_eq!(rules.create.num_calls(), 1);
    assert_eq!(rules.part1.num_calls(), 1);
    assert_eq!(rules.part2.num_calls(), 3, "part 2 failed on every attempt of the retry budget");
    assert_eq!(rules.later_parts.num_calls(), 0, "the backup stopped at the failed part");
    assert_eq!(rules.abort.num_calls(), 1, "the multipart upload of that key was aborted");
    assert_eq!(rules.complete.num_calls(), 0, "no object was completed");
    assert_eq!(rules.put.num_calls(), 0, "no manifest was written");
    assert!(mailer.sent.lock().unwrap().is_empty(), "no backup notice for a failed backup");
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0, "the part file outlived the failed backup");
}

#[tokio::test]
async fn a_failing_complete_is_aborted_and_nothing_is_deleted() {
    // Small enough for a single part.
    let rules = S3Rules::new(s3_internal_error, Some(s3_internal_error));
    let store = big_store(10);
    let mailer = RecordingMailer::default();
    let spool = tempfile::tempdir().unwrap();
    let app = backup(&store, rules.client(), &mailer, spool.path());

    let ended = app.scheduled(deadline()).await.unwrap().expect("nothing else ran");
    assert!(matches!(ended.state, State::Failed { .. }), "{ended:?}");
    assert_eq!(rules.part1.num_calls(), 1);
    assert_eq!(rules.part2.num_calls(), 0);
    assert_eq!(rules.complete.num_calls(), 3);
    // The role may not delete: the abort is all it does (an upload that did complete stays,
    // without a manifest, which a restore refuses).
    assert_eq!(rules.abort.num_calls(), 1, "the upload was aborted");
    assert_eq!(rules.put.num_calls(), 0, "no manifest was written");
    assert!(mailer.sent.lock().unwrap().is_empty());
    assert_eq!(failure_of(&app), ("S3 CompleteMultipartUpload failed; see the function's log".into(), false));
}

/// What S3 answers a conditional write whose key exists (`If-None-Match: *`).
fn precondition_failed() -> HttpResponse {
    http(
        412,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition><RequestId>R2</RequestId></Error>",
    )
}

#[tokio::test]
async fn a_key_in_use_is_never_written_over() {
    let rules = S3Rules::new(s3_internal_error, Some(precondition_failed));
    let store = big_store(10);
    let mailer = RecordingMailer::default();
    let spool = tempfile::tempdir().unwrap();
    let app = backup(&store, rules.client(), &mailer, spool.path());

    app.scheduled(deadline()).await.unwrap().expect("nothing else ran");
    assert_eq!(rules.complete.num_calls(), 1, "a refused condition is not retried");
    assert_eq!(rules.abort.num_calls(), 1);
    assert_eq!(rules.put.num_calls(), 0, "no manifest over the other backup's either");
    let key = rules.key.lock().unwrap().clone().unwrap();
    assert_eq!(failure_of(&app), (format!("{key} exists already; a backup is never written over"), false));
    assert!(mailer.sent.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// SES failing after a successful insert.

fn message_rejected() -> SendEmailError {
    SendEmailError::MessageRejected(
        MessageRejected::builder()
            .message("Email address is not verified. The following identities failed the check: noreply@example.com")
            .meta(ErrorMetadata::builder().code("MessageRejected").build())
            .build(),
    )
}

fn ses_throttled() -> HttpResponse {
    let mut response = http(429, r#"{"message":"Maximum sending rate exceeded."}"#);
    response.headers_mut().insert("x-amzn-errortype", "TooManyRequestsException");
    response
}

async fn insert_with_failing_ses(send: Rule, warning: &str, calls: usize) {
    let ses = mock_client!(aws_sdk_sesv2, RuleMode::Sequential, [&send], |c| c.retry_config(retry(3)));
    let mailer = SesMailer::new(ses, Email::parse("noreply@example.com").unwrap());
    let store = MemoryStore::default();
    let app = InsertStudent::new(&store, mailer, respond()).with_clock(now);

    let r = app.handle(insert_request()).await;
    let body = json_body(&r);
    assert_eq!(r.status(), 201, "{body}");
    assert_eq!(body["studentid"], "SV001");
    assert_eq!(body["emailSent"], false);
    assert_eq!(body["warning"], format!("confirmation email not sent: {warning}"), "{body}");
    assert_eq!(send.num_calls(), calls);
    assert_eq!(store.all(), vec![sv001()], "the student is stored whatever happened to the mail");
}

fn send_to_sv001()
-> aws_smithy_mocks::RuleBuilder<aws_sdk_sesv2::operation::send_email::SendEmailInput, SendEmailOutput, SendEmailError>
{
    mock!(aws_sdk_sesv2::Client::send_email).match_requests(|r| {
        r.from_email_address() == Some("noreply@example.com")
            && r.destination().map(|d| d.to_addresses()) == Some(&["nguyen.van.a@example.com".to_owned()][..])
    })
}

#[tokio::test]
async fn a_rejected_confirmation_is_a_warning() {
    let send = send_to_sv001().then_error(message_rejected);
    insert_with_failing_ses(send, "the email service refused the message; is the sender address verified?", 1).await;
}

#[tokio::test]
async fn a_failing_email_service_is_a_warning() {
    let send =
        send_to_sv001().sequence().http_status(500, Some(r#"{"message":"internal"}"#.into())).repeatedly().build();
    insert_with_failing_ses(send, "the email could not be sent", 3).await;
}

#[tokio::test]
async fn a_throttled_email_service_is_a_warning() {
    let send = send_to_sv001().sequence().http_response(ses_throttled).repeatedly().build();
    insert_with_failing_ses(send, "the email service is unavailable", 3).await;
}

/// Every S3 call a backup makes names the account that must own the bucket, so a bucket that
/// changed hands is never written to (the emulator does not check the header; AWS does).
#[tokio::test]
async fn every_backup_call_names_the_expected_bucket_owner() {
    const OWNER: &str = "123456789012";
    let owned = |o: Option<&str>| o == Some(OWNER);
    let create = mock!(aws_sdk_s3::Client::create_multipart_upload)
        .match_requests(move |r| owned(r.expected_bucket_owner()))
        .then_compute_output(|r| CreateMultipartUploadOutput::builder().key(r.key().unwrap()).upload_id("u1").build());
    let part = mock!(aws_sdk_s3::Client::upload_part)
        .match_requests(move |r| owned(r.expected_bucket_owner()))
        .then_output(|| UploadPartOutput::builder().e_tag("\"etag-1\"").build());
    let complete = mock!(aws_sdk_s3::Client::complete_multipart_upload)
        .match_requests(move |r| owned(r.expected_bucket_owner()))
        .then_output(|| CompleteMultipartUploadOutput::builder().build());
    let manifest = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| owned(r.expected_bucket_owner()))
        .then_output(|| PutObjectOutput::builder().build());
    // The download link is signed, not sent: a header in it would have to come from the browser.
    let link = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.expected_bucket_owner().is_none())
        .then_output(|| aws_sdk_s3::operation::get_object::GetObjectOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&create, &part, &complete, &manifest, &link]);
    let store = big_store(10);
    let mailer = RecordingMailer::default();
    let spool = tempfile::tempdir().unwrap();
    let writer =
        BackupWriter::new(s3, BUCKET, TABLE).with_spool_dir(spool.path()).with_expected_owner(Some(OWNER.into()));
    let app = backup_with(&store, writer, &mailer);
    let ended = app.scheduled(deadline()).await.unwrap().expect("nothing else ran");
    let State::Succeeded { written, .. } = ended.state else { panic!("every call was answered: each named the owner") };
    assert_eq!(written.count, 10);
    assert_eq!((create.num_calls(), part.num_calls(), complete.num_calls(), manifest.num_calls()), (1, 1, 1, 1));
}
