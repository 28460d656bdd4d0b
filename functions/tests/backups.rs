//! The backup function's routes and runs over the in-memory table and catalog, a recording
//! hand-off and mailer, and S3 answered by `aws-smithy-mocks`: the 202 and its status URL, one
//! backup at a time, the list, a run delivered twice, a run that ran out of time.

use std::time::Duration;

use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use lambda_http::{Body, Request, Response, request::from_str};
use serde_json::{Value, json};
use students::api::Responder;
use students::backup::BackupWriter;
use students::catalog::{MemoryCatalog, STOPPED, State};
use students::config::AllowedOrigin;
use students::domain::{Email, Student};
use students::handlers::{Backup, BackupPorts};
use students::handoff::RecordingHandoff;
use students::mail::RecordingMailer;
use students::store::MemoryStore;
use system::backup::BackupId;
use time::OffsetDateTime;

fn event(name: &str) -> Value {
    let path = format!("{}/BackupDynamoDBAndSendEmail/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request(e: &Value) -> Request {
    from_str(&e.to_string()).expect("a REST v1 proxy event")
}

fn post() -> Request {
    request(&event("backup-http.json"))
}

fn status_of(id: &str) -> Request {
    let mut e = event("backup-status.json");
    e["path"] = json!(format!("/backups/{id}"));
    e["pathParameters"] = json!({ "backupId": id });
    request(&e)
}

fn list(query: Value) -> Request {
    let mut e = event("list-backups.json");
    e["queryStringParameters"] = query.clone();
    e["multiValueQueryStringParameters"] = json!(
        query.as_object().unwrap().iter().map(|(k, v)| (k.clone(), json!([v]))).collect::<serde_json::Map<_, _>>()
    );
    request(&e)
}

fn json_body(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).expect("JSON body")
}

/// S3 that accepts every write the backup makes (each one conditional).
struct S3 {
    rules: Vec<Rule>,
}

impl S3 {
    fn accepting() -> Self {
        let create = mock!(aws_sdk_s3::Client::create_multipart_upload).then_compute_output(|r| {
            CreateMultipartUploadOutput::builder().key(r.key().unwrap()).upload_id("u1").build()
        });
        let part = mock!(aws_sdk_s3::Client::upload_part)
            .then_output(|| UploadPartOutput::builder().e_tag("\"etag-1\"").build());
        let complete = mock!(aws_sdk_s3::Client::complete_multipart_upload)
            .match_requests(|r| r.if_none_match() == Some("*"))
            .then_output(|| CompleteMultipartUploadOutput::builder().build());
        let put = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|r| r.if_none_match() == Some("*"))
            .then_output(|| PutObjectOutput::builder().build());
        // Presigning a download link runs the client's interceptors, though nothing is sent.
        let link = mock!(aws_sdk_s3::Client::get_object)
            .then_output(|| aws_sdk_s3::operation::get_object::GetObjectOutput::builder().build());
        Self { rules: vec![create, part, complete, put, link] }
    }

    fn client(&self) -> aws_sdk_s3::Client {
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, self.rules.iter().collect::<Vec<_>>())
    }

    fn completed(&self) -> usize {
        self.rules[2].num_calls()
    }
}

fn student(n: usize) -> Student {
    Student {
        studentid: format!("SV{n:04}"),
        name: format!("Student {n}"),
        class: "12A1".into(),
        birthdate: "2008-05-17".into(),
        email: format!("s{n}@example.com"),
    }
}

struct World {
    s3: S3,
    store: MemoryStore,
    mailer: RecordingMailer,
    spool: tempfile::TempDir,
}

type App<'a> = Backup<&'a MemoryStore, &'a RecordingMailer, MemoryCatalog, RecordingHandoff>;

impl World {
    fn new() -> Self {
        Self {
            s3: S3::accepting(),
            store: MemoryStore::with((0..3).map(student)),
            mailer: RecordingMailer::default(),
            spool: tempfile::tempdir().unwrap(),
        }
    }

    fn app(&self, wait: Duration) -> App<'_> {
        let ports = BackupPorts {
            store: &self.store,
            writer: BackupWriter::new(self.s3.client(), "student-backup-test", "studentData")
                .with_spool_dir(self.spool.path()),
            mailer: &self.mailer,
            recipient: Email::parse("admin@example.com").unwrap(),
            catalog: MemoryCatalog::default(),
            handoff: RecordingHandoff::default(),
        };
        Backup::new(ports, Responder::new(AllowedOrigin::any())).with_wait(wait)
    }
}

fn deadline() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::from_secs(300)
}

fn handed(app: &App<'_>) -> Vec<BackupId> {
    app.handoff().handed.lock().unwrap().clone()
}

#[tokio::test]
async fn a_backup_that_outlasts_the_wait_is_a_202_with_where_to_ask() {
    let world = World::new();
    let app = world.app(Duration::ZERO);

    let r = app.handle(post()).await;
    let body = json_body(&r);
    assert_eq!(r.status(), 202, "{body}");
    let id = body["backupId"].as_str().unwrap().to_owned();
    assert!(BackupId::parse(&id).is_some(), "{id}");
    assert_eq!(body["status"], "running");
    let status_url = format!("/prod/backups/{id}");
    assert_eq!(body["statusUrl"], status_url.as_str());
    assert_eq!(r.headers()["location"], status_url.as_str());
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(handed(&app), [BackupId::parse(&id).unwrap()], "handed to a run of its own, once");

    // Asked while it runs, then after the run.
    let r = app.handle(status_of(&id)).await;
    assert_eq!((r.status().as_u16(), json_body(&r)["status"].clone()), (200, json!("running")));
    assert_eq!(json_body(&r)["downloadUrl"], Value::Null);
    let ended = app.run(&app.handoff().next().await, deadline()).await.unwrap();
    assert!(matches!(ended.state, State::Succeeded { .. }), "{ended:?}");

    let r = app.handle(status_of(&id)).await;
    let view = json_body(&r);
    assert_eq!(r.status(), 200, "{view}");
    assert_eq!(view["status"], "succeeded");
    assert_eq!(view["count"], 3);
    assert_eq!(view["key"], format!("backups/{id}.json"));
    assert_eq!(view["sha256"].as_str().unwrap().len(), 64);
    assert!(view["downloadUrl"].as_str().unwrap().contains("X-Amz-Expires=3600"), "{view}");
    assert!(view["finishedAt"].is_string() && view["expiresAt"].is_string(), "{view}");
    assert_eq!(world.mailer.sent.lock().unwrap().len(), 1, "the notice went once");
    assert_eq!(app.catalog().lock_holder(), None, "the lock was released");
}

#[tokio::test]
async fn a_backup_that_ends_within_the_wait_is_a_200_with_its_report() {
    let world = World::new();
    let app = world.app(Duration::from_secs(20));
    let r = app.handle_and_run(post()).await;
    let body = json_body(&r);
    assert_eq!(r.status(), 200, "{body}");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["count"], 3);
    assert_eq!(body["bucket"], "student-backup-test");
    assert_eq!(body["emailSent"], true);
    assert!(body["downloadUrl"].as_str().unwrap().contains("X-Amz-Signature="), "{body}");
    assert_eq!(body["backupId"], handed(&app)[0].as_str());
}

#[tokio::test]
async fn a_second_post_while_one_runs_starts_nothing() {
    let world = World::new();
    let app = world.app(Duration::ZERO);
    let first = json_body(&app.handle(post()).await);
    let r = app.handle(post()).await;
    let second = json_body(&r);
    assert_eq!(r.status(), 202, "{second}");
    assert_eq!(second["backupId"], first["backupId"], "the running backup is named");
    assert_eq!(handed(&app).len(), 1, "nothing else was handed off");
    assert_eq!(app.catalog().entries().len(), 1, "nothing else was recorded");

    // Once it ends, the next POST starts a new one.
    app.run(&app.handoff().next().await, deadline()).await.unwrap();
    let third = json_body(&app.handle(post()).await);
    assert_ne!(third["backupId"], first["backupId"]);
    assert_eq!(handed(&app).len(), 2);
}

#[tokio::test]
async fn the_schedule_skips_while_a_backup_runs() {
    let world = World::new();
    let app = world.app(Duration::ZERO);
    app.handle(post()).await;
    assert!(app.scheduled(deadline()).await.unwrap().is_none());
    assert_eq!(app.catalog().entries().len(), 1);
    assert_eq!(world.s3.completed(), 0, "nothing was written");
}

#[tokio::test]
async fn a_run_delivered_twice_backs_up_once() {
    let world = World::new();
    let app = world.app(Duration::ZERO);
    app.handle(post()).await;
    let id = app.handoff().next().await;
    let first = app.run(&id, deadline()).await.unwrap();
    let again = app.run(&id, deadline()).await.unwrap();
    assert_eq!(first, again, "the second delivery found it ended and left it");
    assert_eq!(world.s3.completed(), 1);
    assert_eq!(world.mailer.sent.lock().unwrap().len(), 1);
    let unknown = BackupId::parse("backup-20250706-090807-00000000").unwrap();
    assert!(app.run(&unknown, deadline()).await.is_err(), "a run of a backup never recorded");
}

#[tokio::test]
async fn a_run_that_ran_out_of_time_reads_as_failed_and_frees_the_lock() {
    let world = World::new();
    // Handed off 17 minutes ago, its run never started: past the hand-off limit, it has stopped.
    let earlier = world.app(Duration::ZERO).with_clock(|| OffsetDateTime::now_utc() - Duration::from_secs(17 * 60));
    let id = json_body(&earlier.handle(post()).await)["backupId"].as_str().unwrap().to_owned();
    let now = earlier.with_clock(OffsetDateTime::now_utc);
    let view = json_body(&now.handle(status_of(&id)).await);
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["error"], STOPPED);
    let r = now.handle(post()).await;
    let body = json_body(&r);
    assert_eq!(r.status(), 202, "{body}");
    assert_ne!(body["backupId"], id.as_str(), "the lock had run out: a new backup started");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_named() {
    let world = World::new();
    let app = world.app(Duration::ZERO);
    let r = app.handle(status_of("backup-20250706-090807-00000000")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(json_body(&r), json!({"message": "backup backup-20250706-090807-00000000 not found"}));
    for bad in ["nope", "backup-20250706-090807-0000000G", "..%2F..%2Fetc"] {
        let r = app.handle(status_of(bad)).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(json_body(&r)["message"].as_str().unwrap().starts_with("backupId is not a backup id"));
    }
    let mut delete = event("backup-http.json");
    delete["httpMethod"] = json!("DELETE");
    let r = app.handle(request(&delete)).await;
    assert_eq!((r.status().as_u16(), json_body(&r)), (405, json!({"message": "method DELETE is not allowed here"})));
}

#[tokio::test]
async fn the_list_is_newest_first_and_pages_with_a_cursor() {
    let world = World::new();
    let app = world.app(Duration::ZERO);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = json_body(&app.handle(post()).await)["backupId"].as_str().unwrap().to_owned();
        app.run(&app.handoff().next().await, deadline()).await.unwrap();
        ids.push(id);
    }
    ids.sort();
    ids.reverse();

    let mut seen = Vec::new();
    let mut query = json!({"limit": "2"});
    for _ in 0..5 {
        let r = app.handle(list(query.clone())).await;
        assert_eq!(r.status(), 200);
        let page = json_body(&r);
        seen.extend(page.as_array().unwrap().iter().map(|v| v["backupId"].as_str().unwrap().to_owned()));
        assert!(page.as_array().unwrap().iter().all(|v| v["status"] == "succeeded" && v["downloadUrl"].is_string()));
        let Some(cursor) = r.headers().get("x-next-cursor") else { break };
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        assert!(link.starts_with("</prod/backups?limit=2&cursor="), "{link}");
        query = json!({"limit": "2", "cursor": cursor.to_str().unwrap()});
    }
    assert_eq!(seen, ids);

    let r = app.handle(list(json!({"limit": "0"}))).await;
    assert_eq!(r.status(), 400);
    let r = app.handle(list(json!({"cursor": "not-a-cursor"}))).await;
    assert_eq!(r.status(), 400);
}
