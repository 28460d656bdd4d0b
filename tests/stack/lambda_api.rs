//! The functions' own Lambda calls (their SDK's `AWS_ENDPOINT_URL_LAMBDA` is the gateway): the
//! Invoke API as Lambda answers it, through the real SDK, against cargo lambda watch.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::{Value, json};

use crate::app::{TestApp, within};

#[tokio::test]
async fn the_gateway_answers_the_invoke_api_as_lambda_does() {
    let app = TestApp::start(&[]).await;
    let config = aws_sdk_lambda::config::Builder::from(&app.sdk().await).endpoint_url(&app.gateway_url).build();
    let lambda = aws_sdk_lambda::Client::from_conf(config);
    let echo = "arn:aws:lambda:us-east-1:123456789012:function:testEcho";
    let invoke = |invocation_type: InvocationType, marker: &str| {
        lambda
            .invoke()
            .function_name(echo)
            .invocation_type(invocation_type)
            .payload(Blob::new(json!({"marker": marker}).to_string()))
            .send()
    };

    // RequestResponse: cargo lambda's answer, whole.
    let answered = invoke(InvocationType::RequestResponse, "sync").await.expect("a synchronous invocation");
    assert_eq!((answered.status_code(), answered.function_error()), (200, None));
    let payload: Value = serde_json::from_slice(answered.payload().unwrap().as_ref()).unwrap();
    let event: Value = serde_json::from_str(payload["body"].as_str().unwrap()).unwrap();
    assert_eq!(event, json!({"marker": "sync"}));

    // Event: 202 and nothing else at once; the function runs in the background.
    let accepted = invoke(InvocationType::Event, "async").await.expect("an asynchronous invocation");
    assert_eq!(accepted.status_code(), 202);
    assert!(accepted.payload().is_none_or(|p| p.as_ref().is_empty()));
    let log = app.dir.join("logs/gateway.log");
    within(Duration::from_secs(30), "the Event invocation ran", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().any(|l| l.contains("asynchronous invocation finished") && l.contains("testEcho"))
    })
    .await;
    assert!(!std::fs::read_to_string(&log).unwrap().contains("async\""), "the event is never logged");

    // DryRun: 204, nothing run.
    assert_eq!(invoke(InvocationType::DryRun, "dry").await.expect("a dry run").status_code(), 204);
}
