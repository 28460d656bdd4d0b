//! The event a function receives: the REST API proxy event, payload format 1.0.

use std::collections::BTreeMap;

use base64::Engine as _;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::query::url_pairs;

/// What API Gateway knows about a request when it calls the function.
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub resource_path: &'a str,
    pub resource_id: &'a str,
    /// Without the stage: `/students`.
    pub path: &'a str,
    pub stage: &'a str,
    pub api_id: &'a str,
    pub deployment_id: &'a str,
    pub request_id: &'a str,
    pub extended_request_id: &'a str,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub path_parameters: &'a [(String, String)],
    pub body: &'a [u8],
    pub source_ip: &'a str,
    /// For methods that require a key.
    pub api_key: Option<AdmittedKey<'a>>,
    pub now: time::OffsetDateTime,
}

/// The key a request was admitted with (`identity.apiKey` and `apiKeyId`). No `Debug`: the
/// value is a secret, never logged.
#[derive(Clone, Copy)]
pub struct AdmittedKey<'a> {
    pub value: &'a str,
    pub id: &'a str,
}

fn map_or_null(m: Map<String, Value>) -> Value {
    if m.is_empty() { Value::Null } else { Value::Object(m) }
}

/// Builds the REST API proxy event (absent values are `null`, not `{}`).
pub fn event(f: &RequestFacts<'_>) -> Value {
    let mut headers = Map::new();
    let mut multi_headers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (name, value) in f.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.insert(name.as_str().to_owned(), json!(value));
        multi_headers.entry(name.as_str().to_owned()).or_default().push(json!(value));
    }
    let mut query = Map::new();
    let mut multi_query: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in url_pairs(f.query.unwrap_or("")) {
        query.insert(k.clone(), json!(v));
        multi_query.entry(k).or_default().push(json!(v));
    }
    let path_params: Map<String, Value> = f.path_parameters.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let (body, base64) = if f.body.is_empty() {
        (Value::Null, false)
    } else {
        match std::str::from_utf8(f.body) {
            Ok(text) => (json!(text), false),
            Err(_) => (json!(base64::engine::general_purpose::STANDARD.encode(f.body)), true),
        }
    };
    let header = |name: &str| f.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let request_time = f
        .now
        .format(time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"))
        .unwrap_or_default();
    json!({
        "resource": f.resource_path,
        "path": f.path,
        "httpMethod": f.method,
        "headers": map_or_null(headers),
        "multiValueHeaders": map_or_null(multi_headers.into_iter().map(|(k, v)| (k, Value::Array(v))).collect()),
        "queryStringParameters": map_or_null(query),
        "multiValueQueryStringParameters": map_or_null(multi_query.into_iter().map(|(k, v)| (k, Value::Array(v))).collect()),
        "pathParameters": map_or_null(path_params),
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": f.api_id,
            "stage": f.stage,
            "requestId": f.request_id,
            "extendedRequestId": f.extended_request_id,
            "requestTime": request_time,
            "requestTimeEpoch": (f.now.unix_timestamp_nanos() / 1_000_000) as i64,
            "resourceId": f.resource_id,
            "resourcePath": f.resource_path,
            "httpMethod": f.method,
            "path": format!("/{}{}", f.stage, f.path),
            "protocol": "HTTP/1.1",
            "deploymentId": f.deployment_id,
            "domainName": header("host"),
            "identity": {
                "sourceIp": f.source_ip,
                "userAgent": header("user-agent"),
                "apiKey": f.api_key.map(|k| k.value),
                "apiKeyId": f.api_key.map(|k| k.id),
                "accessKey": null, "accountId": null, "caller": null, "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null, "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
                "principalOrgId": null, "user": null, "userArn": null
            }
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Repeated names, and a value that is not UTF-8.
    fn full_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:4010".parse().unwrap());
        headers.insert("user-agent", "test/1.0".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("x-api-key", "a-key-value-0000000000".parse().unwrap());
        headers.append("accept", "text/plain".parse().unwrap());
        headers.append("accept", "application/json".parse().unwrap());
        headers.insert("x-latin", http::HeaderValue::from_bytes(b"caf\xe9").unwrap());
        headers
    }

    /// A request with everything: headers, repeated query keys, a path parameter, a JSON body,
    /// a key.
    fn full(headers: &HeaderMap, path_parameters: &[(String, String)]) -> Value {
        event(&RequestFacts {
            method: "POST",
            resource_path: "/students/{id}",
            resource_id: "res123",
            path: "/students/SV%201",
            stage: "prod",
            api_id: "api123",
            deployment_id: "dep123",
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            extended_request_id: "AbCdEfGhIjKlMnOp",
            headers,
            query: Some("x=1&x=2&q=a+b&flag"),
            path_parameters,
            body: br#"{"name":"A"}"#,
            source_ip: "127.0.0.1",
            api_key: Some(AdmittedKey { value: "a-key-value-0000000000", id: "key123" }),
            now: time::macros::datetime!(2026-11-30 08:09:10.123 UTC),
        })
    }

    /// The same request with nothing optional: no headers, query, parameters, body or key.
    fn bare(body: &[u8]) -> Value {
        event(&RequestFacts {
            method: "GET",
            resource_path: "/students",
            resource_id: "res456",
            path: "/students",
            stage: "prod",
            api_id: "api123",
            deployment_id: "dep123",
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            extended_request_id: "AbCdEfGhIjKlMnOp",
            headers: &HeaderMap::new(),
            query: None,
            path_parameters: &[],
            body,
            source_ip: "127.0.0.1",
            api_key: None,
            now: time::macros::datetime!(2026-11-30 08:09:10.123 UTC),
        })
    }

    fn identity(source_ip: &str, user_agent: Value, api_key: Value, api_key_id: Value) -> Value {
        json!({
            "sourceIp": source_ip, "userAgent": user_agent, "apiKey": api_key, "apiKeyId": api_key_id,
            "accessKey": null, "accountId": null, "caller": null, "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null, "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
            "principalOrgId": null, "user": null, "userArn": null
        })
    }

    #[test]
    fn the_event_is_the_rest_proxy_event() {
        let event = full(&full_headers(), &[("id".to_owned(), "SV 1".to_owned())]);
        let expected = json!({
            "resource": "/students/{id}",
            "path": "/students/SV%201",
            "httpMethod": "POST",
            // The last value of a repeated header; a value that is not UTF-8, decoded lossily.
            "headers": {
                "host": "127.0.0.1:4010", "user-agent": "test/1.0", "content-type": "application/json",
                "x-api-key": "a-key-value-0000000000", "accept": "application/json", "x-latin": "caf\u{fffd}"
            },
            "multiValueHeaders": {
                "host": ["127.0.0.1:4010"], "user-agent": ["test/1.0"], "content-type": ["application/json"],
                "x-api-key": ["a-key-value-0000000000"], "accept": ["text/plain", "application/json"],
                "x-latin": ["caf\u{fffd}"]
            },
            "queryStringParameters": {"x": "2", "q": "a b", "flag": ""},
            "multiValueQueryStringParameters": {"x": ["1", "2"], "q": ["a b"], "flag": [""]},
            "pathParameters": {"id": "SV 1"},
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api123",
                "stage": "prod",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "extendedRequestId": "AbCdEfGhIjKlMnOp",
                "requestTime": "30/Nov/2026:08:09:10 +0000",
                "requestTimeEpoch": 1_796_026_150_123_i64,
                "resourceId": "res123",
                "resourcePath": "/students/{id}",
                "httpMethod": "POST",
                "path": "/prod/students/SV%201",
                "protocol": "HTTP/1.1",
                "deploymentId": "dep123",
                "domainName": "127.0.0.1:4010",
                "identity": identity("127.0.0.1", json!("test/1.0"), json!("a-key-value-0000000000"), json!("key123"))
            },
            "body": "{\"name\":\"A\"}",
            "isBase64Encoded": false
        });
        assert_eq!(event, expected, "{event:#}");
    }

    #[test]
    fn absent_values_are_null_and_bodies_that_are_not_utf8_are_base64() {
        let event = bare(b"");
        let expected = json!({
            "resource": "/students",
            "path": "/students",
            "httpMethod": "GET",
            "headers": null,
            "multiValueHeaders": null,
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api123",
                "stage": "prod",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "extendedRequestId": "AbCdEfGhIjKlMnOp",
                "requestTime": "30/Nov/2026:08:09:10 +0000",
                "requestTimeEpoch": 1_796_026_150_123_i64,
                "resourceId": "res456",
                "resourcePath": "/students",
                "httpMethod": "GET",
                "path": "/prod/students",
                "protocol": "HTTP/1.1",
                "deploymentId": "dep123",
                "domainName": null,
                "identity": identity("127.0.0.1", Value::Null, Value::Null, Value::Null)
            },
            "body": null,
            "isBase64Encoded": false
        });
        assert_eq!(event, expected, "{event:#}");
        let binary = bare(&[0xff, 0x00, 0x41]);
        assert_eq!((&binary["body"], &binary["isBase64Encoded"]), (&json!("/wBB"), &json!(true)));
    }
}
