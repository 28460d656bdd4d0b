//! `getStudentData`: GET /students, one page of the table.

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use students::api::Responder;
use students::aws::load_sdk_config;
use students::config::{CommonConfig, ProcessEnv};
use students::handlers::ListStudents;
use students::store::DynamoStore;
use students::telemetry;

// Lambda hands an instance one event at a time: one thread is enough, and one malloc arena
// keeps the peak memory of a large backup page from being held once per worker thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = CommonConfig::from_source(&ProcessEnv).unwrap_or_else(|e| telemetry::fatal(&e));
    let sdk = load_sdk_config(config.timeouts).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    // Built once; lives as long as the process, like the Lambda execution environment.
    let app: &'static _ = Box::leak(Box::new(ListStudents::new(store, Responder::new(config.allowed_origin))));
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(app.handle(request).await) })).await
}
