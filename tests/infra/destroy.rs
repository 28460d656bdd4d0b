//! `infra destroy`: it lists before it deletes, refuses without `--yes` when it cannot ask,
//! keeps the students and the backups (with their catalog) unless told, and deletes only what
//! carries its tag.

use aws_sdk_dynamodb::types::{AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType};

use crate::app::TestApp;

const TABLE: &str = "studentData";
const CATALOG: &str = "studentBackups";
const BUCKET: &str = "student-backup-20250706";

#[tokio::test]
async fn destroy_asks_first_keeps_the_data_and_deletes_the_rest() {
    let app = TestApp::start().await;
    app.deploy().await;
    let db = aws_sdk_dynamodb::Client::new(&app.sdk);
    let s3 = aws_sdk_s3::Client::new(&app.sdk);
    let table = db.describe_table().table_name(TABLE).send().await.unwrap();
    assert_eq!(table.table().unwrap().deletion_protection_enabled(), Some(true), "deletion protection");
    let refused = db.delete_table().table_name(TABLE).send().await;
    assert!(refused.is_err(), "the table cannot be deleted while protected");
    s3.put_object().bucket(BUCKET).key("backups/backup-x.json").body(b"[]".to_vec().into()).send().await.unwrap();

    // Off a terminal, without --yes: the list, a refusal, nothing touched.
    let asked = app.run(&["destroy"]).await;
    assert!(!asked.ok, "{}", asked.stdout);
    assert!(asked.stderr.contains("refusing to delete") && asked.stderr.contains("--yes"), "{}", asked.stderr);
    assert!(asked.lines().contains(&"delete rest-api student (with its stage)"), "{}", asked.stdout);
    assert!(asked.lines().contains(&"kept table studentData (students kept; --delete-data deletes them)"));
    assert!(!app.gateway.get_rest_apis().send().await.unwrap().items().is_empty(), "nothing was deleted");

    let destroyed = app.run(&["destroy", "--yes"]).await;
    assert!(destroyed.ok, "{}{}", destroyed.stdout, destroyed.stderr);
    assert!(
        destroyed
            .lines()
            .contains(&"kept bucket student-backup-20250706 (backups kept; --delete-backups removes them)")
    );
    assert!(destroyed.lines().contains(&"kept table studentData (students kept; --delete-data deletes them)"));
    assert!(app.gateway.get_rest_apis().send().await.unwrap().items().is_empty());
    assert!(app.gateway.get_api_keys().send().await.unwrap().items().is_empty());
    assert!(app.gateway.get_usage_plans().send().await.unwrap().items().is_empty());
    let lambda = aws_sdk_lambda::Client::new(&app.sdk);
    assert!(lambda.list_functions().send().await.unwrap().functions().is_empty());
    let iam = aws_sdk_iam::Client::new(&app.sdk);
    assert!(iam.list_roles().send().await.unwrap().roles().is_empty());
    let sm = aws_sdk_secretsmanager::Client::new(&app.sdk);
    assert!(sm.list_secrets().send().await.unwrap().secret_list().is_empty());
    let ses = aws_sdk_sesv2::Client::new(&app.sdk);
    for address in [crate::app::SENDER, crate::app::RECIPIENT] {
        let gone = ses.get_email_identity().email_identity(address).send().await.unwrap_err();
        assert!(gone.as_service_error().is_some_and(|e| e.is_not_found_exception()), "{address} still exists");
    }
    let mut tables = db.list_tables().send().await.unwrap().table_names().to_vec();
    tables.sort();
    assert_eq!(tables, [CATALOG, TABLE], "the students and the catalog of backups are kept");
    assert!(
        destroyed
            .lines()
            .contains(&"kept table studentBackups (the catalog of backups kept; --delete-backups deletes it)"),
        "{}",
        destroyed.stdout
    );
    let catalog = db.describe_table().table_name(CATALOG).send().await.unwrap();
    assert_eq!(catalog.table().unwrap().deletion_protection_enabled(), Some(true), "still protected");
    let objects = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(objects.contents().len(), 1, "the backup survived");

    // Again, with the data: the table's protection is lifted and it goes; what is gone is fine.
    let data = app.run(&["destroy", "--yes", "--delete-data"]).await;
    assert!(data.ok, "{}", data.stderr);
    assert!(data.lines().contains(&"deleted table studentData"), "{}", data.stdout);
    assert_eq!(db.list_tables().send().await.unwrap().table_names(), [CATALOG], "the catalog goes with the backups");
    assert!(
        data.lines().iter().all(|l| l.starts_with("absent") || l.starts_with("kept") || l.starts_with("deleted table")),
        "{}",
        data.stdout
    );

    let all = app.run(&["destroy", "--yes", "--delete-backups"]).await;
    assert!(all.ok);
    assert!(all.lines().contains(&"deleted bucket student-backup-20250706"), "{}", all.stdout);
    assert!(all.lines().contains(&"deleted table studentBackups"), "{}", all.stdout);
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    assert!(db.list_tables().send().await.unwrap().table_names().is_empty(), "protection lifted, catalog deleted");
}

#[tokio::test]
async fn resources_infra_did_not_make_are_left_alone() {
    let app = TestApp::start().await;
    // Someone's own table and bucket that happen to have the system's names (prefix look-).
    let db = aws_sdk_dynamodb::Client::new(&app.sdk);
    db.create_table()
        .table_name(format!("look-{TABLE}"))
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .key_schema(KeySchemaElement::builder().attribute_name("studentid").key_type(KeyType::Hash).build().unwrap())
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("studentid")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let s3 = aws_sdk_s3::Client::new(&app.sdk);
    s3.create_bucket().bucket(format!("look-{BUCKET}")).send().await.unwrap();

    let run = app.run(&["--prefix", "look-", "destroy", "--yes", "--delete-data", "--delete-backups"]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(
        run.lines().contains(
            &"left table look-studentData (not created by infra (no student-records:stack=look tag), left alone)"
        ),
        "{}",
        run.stdout
    );
    assert!(run.lines().iter().any(|l| l.starts_with("left bucket look-student-backup-20250706")), "{}", run.stdout);
    assert_eq!(db.list_tables().send().await.unwrap().table_names(), [format!("look-{TABLE}")]);
    assert_eq!(s3.list_buckets().send().await.unwrap().buckets().len(), 1);
}

/// At a terminal (here a pseudo-terminal from util-linux's `script`), destroy lists and asks:
/// anything but `yes` deletes nothing.
#[tokio::test]
async fn at_a_terminal_destroy_asks_first() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::start().await;
    app.deploy().await;
    let infra = harness::runtime::workspace_binary("infra");
    let answer = |text: &'static str| {
        let mut command = tokio::process::Command::new("script");
        command
            .args(["-qec", &format!("{} destroy", infra.display()), "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(app.emulator.function_env())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        async move {
            let mut child = command.spawn().expect("script runs");
            child.stdin.take().unwrap().write_all(text.as_bytes()).await.unwrap();
            let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("destroy answered within a minute")
                .unwrap();
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
        }
    };
    let declined = answer("no\n").await;
    assert!(declined.contains("delete") && declined.contains("rest-api student"), "{declined}");
    assert!(declined.contains("Type yes to delete") && declined.contains("nothing deleted"), "{declined}");
    assert_eq!(app.gateway.get_rest_apis().send().await.unwrap().items().len(), 1, "nothing was deleted");

    let accepted = answer("yes\n").await;
    assert!(accepted.contains("deleted") && accepted.contains("rest-api student"), "{accepted}");
    assert!(app.gateway.get_rest_apis().send().await.unwrap().items().is_empty());
}
