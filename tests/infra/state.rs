//! `infra state save|load` (scripts/dev's data across restarts): the students and the catalog
//! of backups come back; the one-backup-at-a-time lock does not.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client as Dynamo;
use aws_sdk_dynamodb::types::AttributeValue;
use system::backup::catalog;

use crate::app::TestApp;

const CATALOG: &str = "studentBackups";

fn entry(partition: &str, id: &str, status: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (catalog::PARTITION_KEY.to_owned(), AttributeValue::S(partition.into())),
        (catalog::SORT_KEY.to_owned(), AttributeValue::S(id.into())),
        ("status".to_owned(), AttributeValue::S(status.into())),
    ])
}

/// The catalog's items as (partition, id, status), sorted.
async fn catalog_items(db: &Dynamo) -> Vec<(String, String, String)> {
    let items: Vec<HashMap<String, AttributeValue>> =
        db.scan().table_name(CATALOG).into_paginator().items().send().try_collect().await.unwrap();
    let text = |item: &HashMap<String, AttributeValue>, k: &str| item[k].as_s().unwrap().clone();
    let mut rows: Vec<_> = items
        .iter()
        .map(|i| (text(i, catalog::PARTITION_KEY), text(i, catalog::SORT_KEY), text(i, "status")))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn the_catalog_is_saved_and_loaded_without_the_lock() {
    let app = TestApp::start().await;
    app.deploy().await;
    let db = Dynamo::new(&app.sdk);
    let backups = [("backup-20250706-020000-00000001", "succeeded"), ("backup-20250707-020000-00000002", "failed")];
    for (id, status) in backups {
        db.put_item().table_name(CATALOG).set_item(Some(entry(catalog::BACKUPS, id, status))).send().await.unwrap();
    }
    db.put_item()
        .table_name(CATALOG)
        .set_item(Some(entry(catalog::LOCK_PARTITION, catalog::LOCK, "running")))
        .send()
        .await
        .unwrap();
    let seeded = app.run(&["seed", "3"]).await;
    assert!(seeded.ok, "{}", seeded.stderr);

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let saved = app.run(&["state", "save", state.to_str().unwrap()]).await;
    assert!(saved.ok, "{}", saved.stderr);
    assert!(saved.stderr.contains("saved 3 students, 2 backups' records and 0 objects"), "{}", saved.stderr);

    // The emulator restarted: empty tables.
    for (partition, id) in
        backups.iter().map(|(id, _)| (catalog::BACKUPS, *id)).chain([(catalog::LOCK_PARTITION, catalog::LOCK)])
    {
        db.delete_item()
            .table_name(CATALOG)
            .key(catalog::PARTITION_KEY, AttributeValue::S(partition.into()))
            .key(catalog::SORT_KEY, AttributeValue::S(id.into()))
            .send()
            .await
            .unwrap();
    }
    assert!(catalog_items(&db).await.is_empty());

    let loaded = app.run(&["state", "load", state.to_str().unwrap()]).await;
    assert!(loaded.ok, "{}", loaded.stderr);
    assert!(loaded.stderr.contains("loaded 3 students, 2 backups' records and 0 objects"), "{}", loaded.stderr);
    let expected: Vec<_> = backups
        .iter()
        .map(|(id, status)| (catalog::BACKUPS.to_owned(), (*id).to_owned(), (*status).to_owned()))
        .collect();
    assert_eq!(catalog_items(&db).await, expected, "the backups' records, and no lock");
}
