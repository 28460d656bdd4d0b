//! `BackupDynamoDBAndSendEmail`: POST /backup, GET /backups[/{backupId}], the runs POST /backup
//! hands off, and the daily EventBridge schedule.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use students::api::Responder;
use students::aws::load_sdk_config;
use students::backup::BackupWriter;
use students::catalog::DynamoCatalog;
use students::config::{BackupConfig, ProcessEnv};
use students::handlers::{Backup, BackupPorts};
use students::handoff::LambdaHandoff;
use students::mail::SesMailer;
use students::store::DynamoStore;
use students::{telemetry, trigger};
use time::OffsetDateTime;

// Lambda hands an instance one event at a time: one thread is enough, and one malloc arena
// keeps the peak memory of a large backup page from being held once per worker thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = BackupConfig::from_source(&ProcessEnv).unwrap_or_else(|e| telemetry::fatal(&e));
    let sdk = load_sdk_config(config.common.timeouts).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = config.common.table_name;
    let ports = BackupPorts {
        store: DynamoStore::new(dynamodb.clone(), &table),
        writer: BackupWriter::new(aws_sdk_s3::Client::new(&sdk), config.bucket, table)
            .with_expected_owner(config.bucket_owner)
            .with_page_bytes(config.page_bytes),
        mailer: SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), config.sender),
        recipient: config.recipient,
        catalog: DynamoCatalog::new(dynamodb, config.catalog_table),
        handoff: LambdaHandoff::new(aws_sdk_lambda::Client::new(&sdk), config.function_name),
    };
    let responder = Responder::new(config.common.allowed_origin);
    let app: &'static _ = Box::leak(Box::new(Backup::new(ports, responder).with_wait(config.wait)));
    // Raw JSON in and out: a proxy request, a handed-off run or a schedule.
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = trigger::deadline(event.context.deadline, OffsetDateTime::now_utc());
        trigger::backup(app, event.payload, deadline).await
    }))
    .await
}
