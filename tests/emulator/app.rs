//! `TestApp`: one test's AWS side (an emulator with a table, a bucket and a verified sender) and
//! the handlers wired to it exactly as the binaries wire them.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use harness::{Emulator, unique};
use lambda_http::{Body, Response};
use serde_json::Value;
use students::api::Responder;
use students::backup::BackupWriter;
use students::catalog::DynamoCatalog;
use students::config::AllowedOrigin;
use students::domain::{Email, Student};
use students::handlers::{Backup, BackupPorts, InsertStudent, ListStudents};
use students::handoff::RecordingHandoff;
use students::mail::SesMailer;
use students::store::DynamoStore;

pub const SENDER: &str = "registrar@school.example.com";
pub const RECIPIENT: &str = "admin@school.example.com";

pub type TestBackup = Backup<DynamoStore, SesMailer, DynamoCatalog, RecordingHandoff>;

pub struct TestApp {
    pub emulator: Emulator,
    /// SES runs in its own emulator process (reached with `AWS_ENDPOINT_URL_SESV2`): moto's
    /// state dump, where sent mail is read back, fails once S3 holds a multipart object.
    pub mail: Emulator,
    pub table: String,
    /// The catalog of backups.
    pub backups: String,
    pub bucket: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    /// Where this test's backups spool their parts, to look for leftovers.
    pub spool: tempfile::TempDir,
    sdk: aws_config::SdkConfig,
    mail_sdk: aws_config::SdkConfig,
}

impl TestApp {
    /// Emulator, table and bucket; the sender is verified unless `verified_sender` is false.
    pub async fn start(verified_sender: bool) -> Self {
        harness::logs();
        let (emulator, mail) = tokio::join!(Emulator::start(), Emulator::start());
        let (table, backups, bucket) = (unique("students"), unique("catalog"), unique("backups"));
        let dynamodb = emulator.create_table(&table).await;
        emulator.create_backups_table(&backups).await;
        let s3 = emulator.create_bucket(&bucket).await;
        if verified_sender {
            mail.verify_sender(SENDER).await;
            mail.verify_sender(RECIPIENT).await;
        }
        let (sdk, mail_sdk) = (emulator.sdk_config().await, mail.sdk_config().await);
        let spool = tempfile::tempdir().expect("a temporary directory");
        Self { emulator, mail, table, backups, bucket, dynamodb, s3, spool, sdk, mail_sdk }
    }

    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.table)
    }

    fn mailer(&self) -> SesMailer {
        SesMailer::new(aws_sdk_sesv2::Client::new(&self.mail_sdk), Email::parse(SENDER).unwrap())
    }

    /// The environment a function process needs: the SDK's standard variables only.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.emulator.function_env();
        env.push(("AWS_ENDPOINT_URL_SESV2", self.mail.endpoint.clone()));
        env.push((system::env::TABLE_NAME, self.table.clone()));
        env.push((system::env::S3_BUCKET_NAME, self.bucket.clone()));
        env.push((system::env::BACKUPS_TABLE_NAME, self.backups.clone()));
        env
    }

    pub fn list(&self) -> ListStudents<DynamoStore> {
        ListStudents::new(self.store(), Responder::new(AllowedOrigin::any()))
    }

    pub fn insert(&self) -> InsertStudent<DynamoStore, SesMailer> {
        InsertStudent::new(self.store(), self.mailer(), Responder::new(AllowedOrigin::any()))
    }

    pub fn backup_writer(&self) -> BackupWriter {
        BackupWriter::new(aws_sdk_s3::Client::new(&self.sdk), &self.bucket, &self.table)
            .with_spool_dir(self.spool.path())
    }

    /// The files in the spool directory.
    pub fn spool_files(&self) -> Vec<String> {
        let entries = std::fs::read_dir(self.spool.path()).expect("the spool directory");
        entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    pub fn catalog(&self) -> DynamoCatalog {
        DynamoCatalog::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.backups)
    }

    /// The backup function as its binary wires it, but for the hand-off: the test carries out
    /// (or not) the runs `POST /backup` hands off.
    pub fn backup(&self, writer: BackupWriter) -> TestBackup {
        let ports = BackupPorts {
            store: self.store(),
            writer,
            mailer: self.mailer(),
            recipient: Email::parse(RECIPIENT).unwrap(),
            catalog: self.catalog(),
            handoff: RecordingHandoff::default(),
        };
        Backup::new(ports, Responder::new(AllowedOrigin::any()))
    }

    /// Writes students straight into the table (25 per batch, as DynamoDB allows).
    pub async fn seed(&self, students: &[Student]) {
        for chunk in students.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|s| {
                    let item = s.clone().into_item(AttributeValue::S);
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                        .build()
                })
                .collect();
            // Retry what DynamoDB did not process, a bounded number of times.
            for _ in 0..10 {
                let out = self
                    .dynamodb
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .expect("batch write");
                requests = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
            }
            assert!(requests.is_empty(), "seeding left unprocessed items");
        }
    }

    /// Every item in the table, read with the SDK directly (independent of the functions).
    pub async fn table_ids(&self) -> Vec<String> {
        let pages = self.dynamodb.scan().table_name(&self.table).into_paginator().items().send();
        let items = pages.try_collect().await.expect("scan");
        let mut ids: Vec<String> = items.iter().map(|i| i[system::student::KEY].as_s().unwrap().clone()).collect();
        ids.sort();
        ids
    }
}

pub fn student(n: usize) -> Student {
    Student {
        studentid: format!("SV{n:05}"),
        name: format!("Student Number {n}"),
        class: format!("{}A{}", 10 + n % 3, n % 7),
        birthdate: format!("20{:02}-{:02}-{:02}", n % 10, 1 + n % 12, 1 + n % 28),
        email: format!("student{n}@school.example.com"),
    }
}

/// A student whose item is about 2 KB, so a 1 MB scan page holds about 500 of them.
pub fn big_student(n: usize) -> Student {
    let mut s = student(n);
    s.name = format!("{} {}", s.name, "x".repeat(1_900));
    s
}

pub fn json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
}
