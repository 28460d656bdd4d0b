//! The backup function against the emulator: POST /backup and the run it hands off, the
//! catalog and its lock in DynamoDB, conditional writes in S3.

use std::time::Duration;

use harness::events;
use serde_json::Value;
use sha2::{Digest, Sha256};
use students::catalog::{Catalog, Entry, Lock, State, Trigger};
use students::domain::Student;
use system::backup::{BackupId, Manifest, manifest_key};
use time::OffsetDateTime;

use crate::app::{RECIPIENT, TestApp, big_student, json};

fn post() -> lambda_http::Request {
    events::request(&events::proxy_event("POST", "/backup", &[], None))
}

fn get(path: &str) -> lambda_http::Request {
    events::request(&events::proxy_event("GET", path, &[], None))
}

fn deadline() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::from_secs(300)
}

/// The written part of a backup that succeeded.
fn written(entry: Option<Entry>) -> students::catalog::Written {
    match entry.expect("the backup ran").state {
        State::Succeeded { written, .. } => written,
        other => panic!("the backup did not succeed: {other:?}"),
    }
}

async fn object(app: &TestApp, key: &str) -> Vec<u8> {
    let out = app.s3.get_object().bucket(&app.bucket).key(key).send().await.expect("get object");
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn keys(app: &TestApp) -> Vec<String> {
    let out = app.s3.list_objects_v2().bucket(&app.bucket).send().await.unwrap();
    let mut keys: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn three_thousand_students_are_backed_up_checked_and_announced() {
    let app = TestApp::start(true).await;
    let students: Vec<Student> = (0..3000).map(big_student).collect();
    app.seed(&students).await;

    // 5 MiB parts: the ~6 MB backup takes two parts, so the multipart path is exercised.
    let handler = app.backup(app.backup_writer().with_part_size(5 * 1024 * 1024));
    let response = handler.handle_and_run(post()).await;
    assert_eq!(response.status(), 200, "{}", json(&response));
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let report = json(&response);
    assert_eq!(report["count"], 3000);
    assert_eq!(report["bucket"], app.bucket.as_str());
    assert_eq!(report["emailSent"], true);
    let key = report["key"].as_str().unwrap();
    assert!(key.starts_with("backups/backup-") && key.ends_with(".json"), "{key}");

    // The object: every student exactly once, and the recorded size and digest match.
    let bytes = object(&app, key).await;
    assert!(bytes.len() > 5 * 1024 * 1024);
    assert_eq!(report["bytes"], bytes.len() as u64);
    let sha = format!("{:x}", Sha256::digest(&bytes));
    assert_eq!(report["sha256"], sha.as_str());
    let mut restored: Vec<Student> = serde_json::from_slice(&bytes).expect("a JSON array of students");
    restored.sort_by(|a, b| a.studentid.cmp(&b.studentid));
    let mut expected = students;
    expected.sort_by(|a, b| a.studentid.cmp(&b.studentid));
    assert_eq!(restored, expected);

    // The manifest beside it, where a restore finds it.
    let manifest: Manifest = serde_json::from_slice(&object(&app, &manifest_key(key)).await).unwrap();
    assert_eq!((manifest.count, manifest.bytes, manifest.sha256.as_str()), (3000, bytes.len() as u64, sha.as_str()));
    assert_eq!(manifest.table, app.table);
    assert_eq!(keys(&app).await, [key.to_owned(), manifest_key(key)]);
    assert_eq!(app.spool_files(), Vec::<String>::new(), "the part file outlived the backup");

    // The presigned link downloads the same bytes.
    let url = report["downloadUrl"].as_str().unwrap();
    assert!(url.starts_with(&app.emulator.endpoint), "{url}");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    let downloaded = app.emulator.http().get(url).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The notice went to the recipient with the count and the link.
    let mails = app.mail.sent_emails().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, [RECIPIENT]);
    assert_eq!(mails[0].subject, "Student backup: 3000 students");
    assert!(mails[0].body.contains("3000 students"));
    assert!(mails[0].body.contains(&sha), "the notice names the digest");
    // Its link (signed when the backup was written; the answer's is signed afresh) downloads
    // the same bytes.
    let (_, after) = mails[0].body.split_once("href=\"").expect("the notice has a link");
    let mailed = after.split('"').next().unwrap().replace("&#38;", "&").replace("&amp;", "&");
    assert!(mailed.starts_with(&app.emulator.endpoint) && mailed.contains(key), "{mailed}");
    let downloaded = app.emulator.http().get(&mailed).send().await.unwrap();
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn a_slow_backup_is_a_202_then_its_status_then_in_the_list() {
    let app = TestApp::start(true).await;
    app.seed(&(0..10).map(crate::app::student).collect::<Vec<_>>()).await;
    let handler = app.backup(app.backup_writer()).with_wait(Duration::ZERO);

    let response = handler.handle(post()).await;
    let accepted = json(&response);
    assert_eq!(response.status(), 202, "{accepted}");
    let id = accepted["backupId"].as_str().unwrap().to_owned();
    assert_eq!(accepted["statusUrl"], format!("/prod/backups/{id}"));
    let running = handler.handle(get(&format!("/backups/{id}"))).await;
    assert_eq!(json(&running)["status"], "running");

    // A second POST while it runs starts nothing: the same backup, handed off once.
    let again = json(&handler.handle(post()).await);
    assert_eq!(again["backupId"], id.as_str(), "{again}");
    assert_eq!(handler.handoff().handed.lock().unwrap().len(), 1);
    assert!(handler.scheduled(deadline()).await.unwrap().is_none(), "nor does the schedule");

    let ran = written(Some(handler.run(&handler.handoff().next().await, deadline()).await.unwrap()));
    assert_eq!(ran.count, 10);
    let status = handler.handle(get(&format!("/backups/{id}"))).await;
    let view = json(&status);
    assert_eq!(status.status(), 200, "{view}");
    assert_eq!((view["status"].as_str(), view["count"].as_u64()), (Some("succeeded"), Some(10)));
    let bytes = object(&app, view["key"].as_str().unwrap()).await;
    assert_eq!(view["sha256"], format!("{:x}", Sha256::digest(&bytes)).as_str());
    let downloaded = app.emulator.http().get(view["downloadUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let list = handler.handle(get("/backups")).await;
    let listed = json(&list);
    assert_eq!(list.status(), 200, "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["backupId"], id.as_str());
    let unknown = handler.handle(get("/backups/backup-20250706-090807-00000000")).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_lock_is_one_backup_at_a_time_until_it_runs_out() {
    let app = TestApp::start(true).await;
    let catalog = app.catalog();
    let now = OffsetDateTime::now_utc();
    let (a, b) = (BackupId::new(now, 1), BackupId::new(now, 2));
    let minute = Duration::from_secs(60);
    assert_eq!(catalog.lock(&a, now + minute, now).await.unwrap(), Lock::Taken);
    assert_eq!(catalog.lock(&b, now + minute, now).await.unwrap(), Lock::HeldBy(a.clone()));
    catalog.unlock(&b).await.unwrap();
    assert_eq!(catalog.lock(&b, now + minute, now).await.unwrap(), Lock::HeldBy(a.clone()), "only its holder frees it");
    // Two minutes on, a's lock has run out (its run was killed): b takes it.
    let later = now + 2 * minute;
    assert_eq!(catalog.lock(&b, later + minute, later).await.unwrap(), Lock::Taken);
    catalog.unlock(&a).await.unwrap();
    assert_eq!(catalog.lock(&a, later + minute, later).await.unwrap(), Lock::HeldBy(b.clone()));

    // Entries: recorded once, ended once.
    let entry = Entry::running(b.clone(), Trigger::Api, now, now + minute);
    catalog.create(&entry).await.unwrap();
    assert!(catalog.create(&entry).await.is_err(), "a backup is recorded once");
    let failed =
        Entry { state: State::Failed { finished_at: now, error: "x".into(), retryable: true }, ..entry.clone() };
    assert!(catalog.finish(&failed).await.unwrap());
    assert!(!catalog.finish(&failed).await.unwrap(), "an ended backup stays as it ended");
    assert!(!catalog.extend(&b, now + minute).await.unwrap());
    assert_eq!(catalog.get(&b).await.unwrap(), Some(failed));
}

#[tokio::test]
async fn an_existing_object_is_never_written_over() {
    let app = TestApp::start(true).await;
    app.seed(&(0..3).map(crate::app::student).collect::<Vec<_>>()).await;
    let id = BackupId::new(OffsetDateTime::now_utc(), 7);
    let key = id.object_key();
    app.s3.put_object().bucket(&app.bucket).key(&key).body(b"precious".to_vec().into()).send().await.unwrap();

    let result = app.backup_writer().write(&app.store(), &id, OffsetDateTime::now_utc()).await;
    let error = result.expect_err("S3 refused the completion");
    assert_eq!(error.to_string(), format!("{key} exists already; a backup is never written over"));
    assert_eq!(object(&app, &key).await, b"precious");
    let uploads = app.s3.list_multipart_uploads().bucket(&app.bucket).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "the refused upload was aborted");
    assert_eq!(keys(&app).await, [key], "no manifest either");
}

#[tokio::test]
async fn an_empty_table_is_an_empty_array() {
    let app = TestApp::start(true).await;
    let ran = written(app.backup(app.backup_writer()).scheduled(deadline()).await.unwrap());
    assert_eq!(ran.count, 0);
    let value: Value = serde_json::from_slice(&object(&app, &ran.key).await).unwrap();
    assert_eq!(value, serde_json::json!([]));
}

#[tokio::test]
async fn a_failed_read_leaves_no_object_no_upload_and_no_email() {
    let app = TestApp::start(true).await;
    // The table disappears: the scan fails after the multipart upload has started.
    app.dynamodb.delete_table().table_name(&app.table).send().await.unwrap();
    let handler = app.backup(app.backup_writer());
    let response = handler.handle_and_run(post()).await;
    assert!(response.status().is_server_error(), "{}", response.status());
    let answer = json(&response);
    assert!(answer["message"].is_string());
    assert!(!answer.to_string().contains("arn:"), "internal detail leaked: {answer}");
    let id = handler.handoff().handed.lock().unwrap()[0].clone();
    let view = json(&handler.handle(get(&format!("/backups/{id}"))).await);
    assert_eq!((view["status"].as_str(), &view["error"]), (Some("failed"), &answer["message"]), "{view}");
    assert!(keys(&app).await.is_empty());
    let uploads = app.s3.list_multipart_uploads().bucket(&app.bucket).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "the multipart upload was not aborted");
    assert!(app.mail.sent_emails().await.is_empty());
    assert_eq!(app.spool_files(), Vec::<String>::new(), "the part file outlived the failed backup");
}

#[tokio::test]
async fn part_files_abandoned_by_a_killed_process_are_removed_and_live_ones_kept() {
    let app = TestApp::start(true).await;
    app.seed(&(0..10).map(crate::app::student).collect::<Vec<_>>()).await;
    let spool = |name: &str, age_minutes: u64| {
        let path = app.spool.path().join(name);
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(1024).unwrap();
        file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(age_minutes * 60)).unwrap();
    };
    // Left by a process that Lambda killed at its timeout (at most 15 minutes ago)...
    spool(".student-backup-part-abandoned", 16);
    // ...and one a backup in another process is writing right now, and someone else's file.
    spool(".student-backup-part-live", 1);
    spool("unrelated-file", 60);

    let ran = written(app.backup(app.backup_writer()).scheduled(deadline()).await.unwrap());
    assert_eq!(ran.count, 10);
    let mut left = app.spool_files();
    left.sort();
    assert_eq!(left, [".student-backup-part-live", "unrelated-file"]);
}

#[tokio::test]
async fn a_missing_bucket_is_a_5xx_and_no_email() {
    let app = TestApp::start(true).await;
    let writer = students::backup::BackupWriter::new(
        aws_sdk_s3::Client::new(&app.emulator.sdk_config().await),
        "no-such-bucket",
        &app.table,
    );
    let response = app.backup(writer).handle_and_run(post()).await;
    assert!(response.status().is_server_error());
    assert!(app.mail.sent_emails().await.is_empty());
}
