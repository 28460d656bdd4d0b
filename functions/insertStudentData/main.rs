//! `insertStudentData`: POST /students, store a new student and email a confirmation.

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use students::api::Responder;
use students::aws::load_sdk_config;
use students::config::{InsertConfig, ProcessEnv};
use students::handlers::InsertStudent;
use students::mail::SesMailer;
use students::store::DynamoStore;
use students::telemetry;

// Lambda hands an instance one event at a time: one thread is enough, and one malloc arena
// keeps the peak memory of a large backup page from being held once per worker thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = InsertConfig::from_source(&ProcessEnv).unwrap_or_else(|e| telemetry::fatal(&e));
    let sdk = load_sdk_config(config.common.timeouts).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.common.table_name);
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), config.sender);
    let app: &'static _ = Box::leak(Box::new(
        InsertStudent::new(store, mailer, Responder::new(config.common.allowed_origin))
            .with_mail_domains(config.student_email_domains),
    ));
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(app.handle(request).await) })).await
}
