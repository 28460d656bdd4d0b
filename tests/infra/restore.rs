//! `infra restore`: a backup written by the backup function goes back into the table; a backup
//! that does not match its manifest is refused before anything is written.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use aws_sdk_s3::primitives::ByteStream;

use crate::app::{Run, TestApp};

const TABLE: &str = "studentData";
const BUCKET: &str = "student-backup-20250706";

type Item = HashMap<String, AttributeValue>;
/// An item as plain strings, ordered, for comparing tables.
type Row = BTreeMap<String, String>;

fn students(count: usize) -> Vec<Item> {
    (1..=count)
        .map(|n| {
            system::Student {
                studentid: format!("SV{n:05}"),
                name: format!("Nguyen Van {n} \"Đức\""),
                class: format!("{}A{}", 10 + n % 3, 1 + n % 6),
                birthdate: format!("{}-{:02}-{:02}", 2006 + n % 5, 1 + n % 12, 1 + n % 28),
                email: format!("sv{n}@school.example.com"),
            }
            .into_item(AttributeValue::S)
        })
        .collect()
}

/// BatchWriteItem, 25 at a time, until DynamoDB has processed every request.
async fn batch_write(db: &Dynamo, requests: Vec<WriteRequest>) {
    for chunk in requests.chunks(25) {
        let mut left = chunk.to_vec();
        for attempt in 0.. {
            assert!(attempt < 10, "unprocessed items after 10 attempts");
            let out = db.batch_write_item().request_items(TABLE, left).send().await.unwrap();
            left = out.unprocessed_items.and_then(|mut m| m.remove(TABLE)).unwrap_or_default();
            if left.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn put_all(db: &Dynamo, items: Vec<Item>) {
    let requests = items
        .into_iter()
        .map(|item| {
            WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
        })
        .collect();
    batch_write(db, requests).await;
}

async fn delete_where(db: &Dynamo, keep: impl Fn(&str) -> bool) {
    let requests = table(db)
        .await
        .into_iter()
        .filter(|row| !keep(&row["studentid"]))
        .map(|row| {
            let key = HashMap::from([("studentid".to_owned(), AttributeValue::S(row["studentid"].clone()))]);
            WriteRequest::builder().delete_request(DeleteRequest::builder().set_key(Some(key)).build().unwrap()).build()
        })
        .collect();
    batch_write(db, requests).await;
}

/// The whole table, sorted by id.
async fn table(db: &Dynamo) -> Vec<Row> {
    let items: Vec<Item> = db.scan().table_name(TABLE).into_paginator().items().send().try_collect().await.unwrap();
    let mut rows: Vec<Row> = items
        .into_iter()
        .map(|item| item.into_iter().map(|(k, v)| (k, v.as_s().expect("string attributes").clone())).collect())
        .collect();
    rows.sort_by(|a, b| a["studentid"].cmp(&b["studentid"]));
    rows
}

async fn set_name(db: &Dynamo, id: &str, name: &str) {
    db.update_item()
        .table_name(TABLE)
        .key("studentid", AttributeValue::S(id.into()))
        .update_expression("SET #n = :n")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":n", AttributeValue::S(name.into()))
        .send()
        .await
        .unwrap();
}

/// A deployed system holding `count` students and a backup of them, made by the backup
/// function's own writer.
async fn backed_up(count: usize) -> (TestApp, Dynamo, students::backup::Manifest, Vec<Row>) {
    let app = TestApp::start().await;
    app.deploy().await;
    let db = Dynamo::new(&app.sdk);
    let started = Instant::now();
    put_all(&db, students(count)).await;
    eprintln!("wrote {count} students in {:?}", started.elapsed());
    let before = table(&db).await;
    assert_eq!(before.len(), count);
    let started = Instant::now();
    let now = time::OffsetDateTime::now_utc();
    let manifest = students::backup::BackupWriter::new(aws_sdk_s3::Client::new(&app.sdk), BUCKET, TABLE)
        .write(&students::store::DynamoStore::new(db.clone(), TABLE), &students::backup::new_backup_id(now), now)
        .await
        .expect("the backup is written");
    eprintln!("backed up {} students ({} bytes) in {:?}", manifest.count, manifest.bytes, started.elapsed());
    assert_eq!(manifest.count, count as u64);
    (app, db, manifest, before)
}

async fn restore(app: &TestApp, args: &[&str]) -> Run {
    let started = Instant::now();
    let run = app.run(&[&["restore"][..], args].concat()).await;
    eprintln!("infra restore {} in {:?}:\n{}{}", args.join(" "), started.elapsed(), run.stdout, run.stderr);
    run
}

#[tokio::test]
async fn the_latest_backup_restores_an_emptied_table_item_by_item() {
    let (app, db, manifest, before) = backed_up(5000).await;
    delete_where(&db, |_| false).await;
    assert!(table(&db).await.is_empty());

    let run = restore(&app, &["--latest"]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.lines(), [format!("restored {}: 5000 written, 0 skipped, 0 failed", manifest.key)]);
    assert!(run.stderr.contains("1000 of 5000 students") && run.stderr.contains("5000 of 5000 students"));
    let after = table(&db).await;
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a, b);
    }
}

#[tokio::test]
async fn existing_students_are_kept_unless_overwrite() {
    let (app, db, manifest, before) = backed_up(5000).await;
    let key = manifest.key.as_str();

    let run = restore(&app, &["--key", key]).await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.lines(), [format!("restored {key}: 0 written, 5000 skipped, 0 failed")]);
    assert_eq!(table(&db).await, before);

    // A student changed since the backup keeps the change, unless --overwrite.
    set_name(&db, "SV04321", "Changed Since").await;
    delete_where(&db, |id| id != "SV00007").await;
    let run = restore(&app, &["--key", key]).await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.lines(), [format!("restored {key}: 1 written, 4999 skipped, 0 failed")]);
    let kept = table(&db).await;
    assert_eq!(kept.iter().find(|r| r["studentid"] == "SV04321").unwrap()["name"], "Changed Since");

    let run = restore(&app, &["--latest", "--overwrite"]).await;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.lines(), [format!("restored {key}: 5000 written, 0 skipped, 0 failed")]);
    assert_eq!(table(&db).await, before, "the name is back to the backup's");
}

#[tokio::test]
async fn a_backup_that_does_not_match_its_manifest_is_refused_and_nothing_is_written() {
    let (app, db, manifest, _) = backed_up(600).await;
    let s3 = aws_sdk_s3::Client::new(&app.sdk);
    let key = manifest.key.clone();
    let manifest_key = system::backup::manifest_key(&key);
    let original = s3.get_object().bucket(BUCKET).key(&key).send().await.unwrap().body.collect().await.unwrap();
    let original = original.into_bytes().to_vec();
    assert_eq!(original.len() as u64, manifest.bytes);

    // A table a restore would change: students missing, one renamed.
    delete_where(&db, |id| id > "SV00100").await;
    set_name(&db, "SV00200", "Changed Since").await;
    let before = table(&db).await;
    assert_eq!(before.len(), 500);

    let put = |bytes: Vec<u8>| s3.put_object().bucket(BUCKET).key(&key).body(ByteStream::from(bytes)).send();

    // One character changed: same length, another hash.
    let mut corrupt = original.clone();
    let at = corrupt.len() / 2 + corrupt[corrupt.len() / 2..].iter().position(u8::is_ascii_digit).unwrap();
    corrupt[at] = if corrupt[at] == b'1' { b'2' } else { b'1' };
    put(corrupt).await.unwrap();
    let run = restore(&app, &["--key", &key, "--overwrite"]).await;
    assert!(!run.ok);
    let expected = format!("refused: {key} does not match its manifest (sha256 ");
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("expected {}; {1} bytes, expected {1})", manifest.sha256, manifest.bytes)));
    assert!(!run.stdout.contains("restored"), "{}", run.stdout);
    assert_eq!(table(&db).await, before, "the table is untouched");

    // Truncated: the first half only.
    put(original[..original.len() / 2].to_vec()).await.unwrap();
    let run = restore(&app, &["--latest"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("{} bytes, expected {}", original.len() / 2, manifest.bytes)));
    assert_eq!(table(&db).await, before, "the table is untouched");

    // The original bytes again, but no manifest beside them.
    put(original).await.unwrap();
    s3.delete_object().bucket(BUCKET).key(&manifest_key).send().await.unwrap();
    let run = restore(&app, &["--key", &key]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("refused:") && run.stderr.contains(&manifest_key), "{}", run.stderr);
    assert_eq!(table(&db).await, before, "the table is untouched");

    // A manifest is not a backup, and exactly one of --key and --latest is needed.
    let run = restore(&app, &["--key", &manifest_key]).await;
    assert!(!run.ok && run.stderr.contains("not its manifest"), "{}", run.stderr);
    assert!(!restore(&app, &[]).await.ok);
    assert!(!restore(&app, &["--latest", "--key", &key]).await.ok);
    assert_eq!(table(&db).await, before);
}

/// A restore anchored to the digest the backup notice carried: any other backup is refused
/// before anything is written, even one whose manifest was rewritten to match it.
#[tokio::test]
async fn only_the_backup_with_the_expected_digest_is_restored() {
    let (app, db, manifest, before) = backed_up(300).await;
    let key = manifest.key.clone();
    delete_where(&db, |id| id <= "SV00100").await;
    let emptied = table(&db).await;
    assert_eq!(emptied.len(), 100);

    let wrong = "ab".repeat(32);
    let run = restore(&app, &["--key", &key, "--expect-sha256", &wrong]).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains(&format!(
            "refused: {key} is not the backup expected: its sha256 is {0} (its manifest says {0}), not {wrong} (--expect-sha256); nothing was written",
            manifest.sha256
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("restored"), "{}", run.stdout);
    assert_eq!(table(&db).await, emptied, "the table is untouched");
    let run = restore(&app, &["--latest", "--expect-sha256", "not-a-digest"]).await;
    assert!(!run.ok && run.stderr.contains("64 hexadecimal digits"), "{}", run.stderr);
    assert_eq!(table(&db).await, emptied, "the table is untouched");

    // The digest as the email gives it (case aside): restored.
    let run = restore(&app, &["--latest", "--expect-sha256", &manifest.sha256.to_ascii_uppercase()]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.lines(), [format!("restored {key}: 200 written, 100 skipped, 0 failed")]);
    assert!(run.stderr.contains("matches its manifest and the expected sha256"), "{}", run.stderr);
    assert_eq!(table(&db).await, before);
}
