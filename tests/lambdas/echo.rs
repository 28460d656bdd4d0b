//! `testEcho`: answers 200 with the event it received as the body, so a test can see exactly
//! what the gateway sent — or, when the query says `answer=body`, answers with the request's
//! body (a proxy response written by the test), so a test can see how the gateway maps it.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move {
        let event = event.payload;
        if event["queryStringParameters"]["answer"] == "body" {
            let body = event["body"].as_str().unwrap_or("null");
            return Ok::<_, Error>(serde_json::from_str(body)?);
        }
        Ok(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json", "access-control-allow-origin": "*"},
            "body": event.to_string()
        }))
    }))
    .await
}
