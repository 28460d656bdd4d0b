//! A backup that outlasts `POST /backup`'s wait (`scripts/dev --backup-wait 0`): the 202, the
//! run handed to the function through the local gateway's Lambda Invoke API, the status URL
//! followed to the end, the object's digest, and the list.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app::{TestApp, within};

#[tokio::test]
async fn a_backup_answered_at_once_runs_on_and_is_followed_to_its_end() {
    let app = TestApp::start_with(&["--backup-wait", "0"], &[]).await;
    let key = app.api_key.clone();
    let student = json!({"studentid": "BK-1", "name": "Backed Up", "class": "12A1", "birthdate": "2008-01-02", "email": "bk@example.com"});
    assert_eq!(app.call("POST", "/students", Some(&key), Some(&student.to_string())).await.status, 201);

    let accepted = app.call("POST", "/backup", Some(&key), None).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["backupId"].as_str().unwrap().to_owned();
    let status_url = accepted.body["statusUrl"].as_str().unwrap().to_owned();
    assert_eq!(status_url, format!("/prod/backups/{id}"));
    assert_eq!(accepted.header("location"), status_url);

    // The status URL is a path on the API's origin; asked with the key until the run ends.
    let below_stage = status_url.strip_prefix("/prod").unwrap().to_owned();
    let last = std::cell::RefCell::new(Value::Null);
    within(Duration::from_secs(60), "the backup ends", || {
        let (app, key, path, last) = (&app, &key, &below_stage, &last);
        async move {
            let answer = app.call("GET", path, Some(key), None).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            let running = answer.body["status"] == "running";
            *last.borrow_mut() = answer.body;
            !running
        }
    })
    .await;
    let view = last.into_inner();
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["count"], 1);

    // The link downloads the object the digest describes.
    let object = app.http.get(view["downloadUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(object.status(), 200);
    let bytes = object.bytes().await.unwrap();
    assert_eq!(view["sha256"], format!("{:x}", Sha256::digest(&bytes)).as_str());
    assert_eq!(view["bytes"], bytes.len() as u64);
    let students: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(students[0]["studentid"], "BK-1");

    let listed = app.call("GET", "/backups?limit=5", Some(&key), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body[0]["backupId"], id.as_str());
    let mails = app.mail().sent_emails().await;
    assert!(
        mails
            .iter()
            .any(|m| m.subject == "Student backup: 1 students" && m.body.contains(view["sha256"].as_str().unwrap())),
        "{mails:?}"
    );

    let unknown = app.call("GET", "/backups/backup-20250706-090807-00000000", Some(&key), None).await;
    assert_eq!(
        (unknown.status, unknown.body),
        (404, json!({"message": "backup backup-20250706-090807-00000000 not found"}))
    );
    let without_key = app.call("GET", &below_stage, None, None).await;
    assert_eq!(without_key.status, 403, "the status needs the key like every method");
}
