//! API Gateway REST (v1) proxy events, shaped as API Gateway sends them to a Lambda proxy
//! integration (see shared/reference/api-gateway.md).

use lambda_http::Request;
use serde_json::{Map, Value, json};

/// A proxy event for `method` on `resource` (e.g. `/students`) of stage `prod`.
pub fn proxy_event(method: &str, resource: &str, query: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut headers = Map::new();
    headers.insert("Host".into(), json!("abc123.execute-api.us-east-1.amazonaws.com"));
    headers.insert("X-Forwarded-Proto".into(), json!("https"));
    if body.is_some() {
        headers.insert("Content-Type".into(), json!("application/json"));
    }
    let multi_headers: Map<String, Value> = headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let (qs, mqs) = if query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let qs: Map<String, Value> = query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        let mqs: Map<String, Value> = query.iter().map(|(k, v)| ((*k).to_owned(), json!([v]))).collect();
        (Value::Object(qs), Value::Object(mqs))
    };
    json!({
        "resource": resource,
        "path": resource,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": mqs,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "stage": "prod",
            "requestId": uuid::Uuid::new_v4().to_string(),
            "resourcePath": resource,
            "httpMethod": method,
            "path": format!("/prod{resource}"),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1", "apiKey": "test-key-value-0000000001", "apiKeyId": "testkeyid"}
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// The same event as `lambda_http` hands it to a handler.
pub fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("a REST v1 proxy event")
}

pub fn get(resource: &str, query: &[(&str, &str)]) -> Request {
    request(&proxy_event("GET", resource, query, None))
}

pub fn post(resource: &str, body: &str) -> Request {
    request(&proxy_event("POST", resource, &[], Some(body)))
}
