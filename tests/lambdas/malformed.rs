//! `testMalformed`: answers what API Gateway must turn into a 502 — chosen by the query
//! parameter `kind`: a bare string, an unknown field, or a handler error (and `{}`, which
//! API Gateway answers with a 200 and an empty body).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move {
        let kind = event.payload["queryStringParameters"]["kind"].as_str().unwrap_or("string").to_owned();
        match kind.as_str() {
            "empty" => Ok(json!({})),
            "unknown-field" => Ok(json!({"statusCode": 200, "body": "x", "surprise": true})),
            "error" => Err(Error::from("the handler failed on purpose")),
            _ => Ok(json!("not a proxy response")),
        }
    }))
    .await
}
