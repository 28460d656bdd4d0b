//! `BackupDynamoDBAndSendEmail`: POST /backup, or the daily EventBridge schedule.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use students::api::Responder;
use students::aws::load_sdk_config;
use students::backup::BackupWriter;
use students::config::{BackupConfig, ProcessEnv};
use students::handlers::Backup;
use students::mail::SesMailer;
use students::store::DynamoStore;
use students::{telemetry, trigger};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = BackupConfig::from_source(&ProcessEnv).unwrap_or_else(|e| telemetry::fatal(&e));
    let sdk = load_sdk_config(config.common.timeouts).await;
    let table = config.common.table_name;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    let writer =
        BackupWriter::new(aws_sdk_s3::Client::new(&sdk), config.bucket, table).with_expected_owner(config.bucket_owner);
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), config.sender);
    let responder = Responder::new(config.common.allowed_origin);
    let app: &'static _ = Box::leak(Box::new(Backup::new(store, writer, mailer, config.recipient, responder)));
    // Raw JSON in and out: the event is either an API Gateway proxy request or a schedule.
    run(service_fn(move |event: LambdaEvent<Value>| async move { trigger::backup(app, event.payload).await })).await
}
