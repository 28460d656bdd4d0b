//! The backup function is reached two ways: through API Gateway (a REST proxy event, answered
//! with a proxy response) and by an EventBridge schedule (answered with the report itself).

use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_http::aws_lambda_events::encodings::Body as EventBody;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::handlers::Backup;
use crate::mail::Mailer;
use crate::store::StudentStore;

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("unrecognised event: neither an API Gateway request nor a scheduled event")]
    Unrecognised,
    #[error("scheduled backup failed: {0}")]
    Failed(String),
}

impl From<TriggerError> for lambda_runtime::Diagnostic {
    fn from(e: TriggerError) -> Self {
        let error_type = match e {
            TriggerError::Unrecognised => "UnrecognisedEvent",
            TriggerError::Failed(_) => "BackupFailed",
        };
        Self { error_type: error_type.into(), error_message: e.to_string() }
    }
}

fn is_proxy_request(event: &Value) -> bool {
    event.get("httpMethod").is_some() && event.get("requestContext").is_some()
}

fn is_schedule(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some("aws.events")
        || event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// Runs a backup for either trigger and answers in the trigger's own shape.
pub async fn backup<S: StudentStore, M: Mailer>(app: &Backup<S, M>, event: Value) -> Result<Value, TriggerError> {
    if is_proxy_request(&event) {
        let response = match serde_json::from_value::<ApiGatewayProxyRequest>(event) {
            Ok(proxy) => app.handle(Request::from(LambdaRequest::ApiGatewayV1(proxy))).await,
            Err(_) => app.responder().error(&crate::api::ApiError::Internal),
        };
        return Ok(serde_json::to_value(proxy_response(response)).expect("a proxy response serializes"));
    }
    if is_schedule(&event) {
        tracing::info!("scheduled backup");
        let report = app.run().await.map_err(|e| TriggerError::Failed(e.to_string()))?;
        return Ok(serde_json::to_value(report).expect("a report serializes"));
    }
    Err(TriggerError::Unrecognised)
}

fn proxy_response(response: Response<Body>) -> ApiGatewayProxyResponse {
    let (parts, body) = response.into_parts();
    let body = match body {
        Body::Empty => None,
        Body::Text(t) => Some(EventBody::Text(t)),
        Body::Binary(b) => Some(EventBody::Binary(b)),
        _ => None,
    };
    let mut proxy = ApiGatewayProxyResponse::default();
    proxy.status_code = i64::from(parts.status.as_u16());
    proxy.headers = parts.headers;
    proxy.body = body;
    proxy
}
