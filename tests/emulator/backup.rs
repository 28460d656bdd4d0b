//! POST /backup against the emulator.

use harness::events;
use serde_json::Value;
use sha2::{Digest, Sha256};
use students::domain::Student;
use system::backup::{Manifest, manifest_key};

use crate::app::{RECIPIENT, TestApp, big_student, json};

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
    let response = handler.handle(events::request(&events::proxy_event("POST", "/backup", &[], None))).await;
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
    let escaped_url = url.replace('&', "&#38;");
    assert!(
        mails[0].body.contains(&escaped_url) || mails[0].body.contains(&url.replace('&', "&amp;")),
        "{}",
        mails[0].body
    );
}

#[tokio::test]
async fn two_backups_in_one_second_do_not_overwrite_each_other() {
    let app = TestApp::start(true).await;
    app.seed(&(0..10).map(crate::app::student).collect::<Vec<_>>()).await;
    let handler = app.backup(app.backup_writer());
    let (a, b) = futures::join!(handler.run(), handler.run());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.backup.key, b.backup.key);
    assert_eq!(keys(&app).await.len(), 4);
    let empty: Value = serde_json::from_slice(&object(&app, &a.backup.key).await).unwrap();
    assert_eq!(empty.as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn an_empty_table_is_an_empty_array() {
    let app = TestApp::start(true).await;
    let report = app.backup(app.backup_writer()).run().await.unwrap();
    assert_eq!(report.backup.count, 0);
    let value: Value = serde_json::from_slice(&object(&app, &report.backup.key).await).unwrap();
    assert_eq!(value, serde_json::json!([]));
}

#[tokio::test]
async fn a_failed_read_leaves_no_object_no_upload_and_no_email() {
    let app = TestApp::start(true).await;
    // The table disappears: the scan fails after the multipart upload has started.
    app.dynamodb.delete_table().table_name(&app.table).send().await.unwrap();
    let response = app
        .backup(app.backup_writer())
        .handle(events::request(&events::proxy_event("POST", "/backup", &[], None)))
        .await;
    assert!(response.status().is_server_error(), "{}", response.status());
    let answer = json(&response);
    assert!(answer["message"].is_string());
    assert!(!answer.to_string().contains("arn:"), "internal detail leaked: {answer}");
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

    let report = app.backup(app.backup_writer()).run().await.unwrap();
    assert_eq!(report.backup.count, 10);
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
    let response = app.backup(writer).handle(events::request(&events::proxy_event("POST", "/backup", &[], None))).await;
    assert!(response.status().is_server_error());
    assert!(app.mail.sent_emails().await.is_empty());
}
