//! The Lambda proxy integration, payload format 1.0: the event a function receives, and the
//! strict reading of what it answers.

use std::collections::BTreeMap;

use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

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
    /// The key's value and id, for methods that require one.
    pub api_key: Option<(&'a str, &'a str)>,
    pub now: time::OffsetDateTime,
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
                "apiKey": f.api_key.map(|(value, _)| value),
                "apiKeyId": f.api_key.map(|(_, id)| id),
                "accessKey": null, "accountId": null, "caller": null, "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null, "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
                "principalOrgId": null, "user": null, "userArn": null
            }
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

/// Decodes `application/x-www-form-urlencoded`-style pairs (as API Gateway decodes them:
/// `+` is a space, a malformed escape stays as written).
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// A function's answer, read as API Gateway reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

const FIELDS: [&str; 5] = ["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"];

/// `None` for anything API Gateway would answer with 502: not an object, `{}`, an unknown
/// field, a non-numeric status, a non-list multi-value header, a body that is not a string.
pub fn read_response(payload: &[u8]) -> Option<ProxyResponse> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let object = value.as_object()?;
    if object.is_empty() || object.keys().any(|k| !FIELDS.contains(&k.as_str())) {
        return None;
    }
    let status = match object.get("statusCode") {
        None | Some(Value::Null) => 200,
        Some(Value::Number(n)) => u16::try_from(n.as_u64()?).ok()?,
        Some(Value::String(s)) => s.trim().parse::<u16>().ok()?,
        Some(_) => return None,
    };
    let status = StatusCode::from_u16(status).ok()?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(h) = object.get("headers").filter(|h| !h.is_null()) {
        for (k, v) in h.as_object()? {
            headers.push((k.clone(), scalar(v)?));
        }
    }
    if let Some(h) = object.get("multiValueHeaders").filter(|h| !h.is_null()) {
        for (k, values) in h.as_object()? {
            for v in values.as_array()? {
                let v = scalar(v)?;
                // In both maps: the values are joined (sent once each).
                if !headers.iter().any(|(hk, hv)| hk.eq_ignore_ascii_case(k) && *hv == v) {
                    headers.push((k.clone(), v));
                }
            }
        }
    }
    let base64 = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return None,
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 => base64::engine::general_purpose::STANDARD.decode(s).ok()?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return None,
    };
    Some(ProxyResponse { status, headers, body })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_as_api_gateway_reads_them() {
        let ok = read_response(br#"{"statusCode": 201, "headers": {"a": "1"}, "multiValueHeaders": {"a": ["1", "2"], "b": ["x"]}, "body": "hi"}"#).unwrap();
        assert_eq!(ok.status, 201);
        assert_eq!(ok.headers, [("a".into(), "1".into()), ("a".into(), "2".into()), ("b".into(), "x".into())]);
        assert_eq!(ok.body, b"hi");
        assert_eq!(read_response(br#"{"statusCode": "404", "body": null}"#).unwrap().status, 404);
        assert_eq!(read_response(br#"{"body": "no status"}"#).unwrap().status, 200);
        let b64 = read_response(br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}"#).unwrap();
        assert_eq!(b64.body, b"hi");
        for bad in [
            &br#"{}"#[..],
            br#""a bare string""#,
            br#"[1]"#,
            br#"not json"#,
            br#"{"statusCode": "abc"}"#,
            br#"{"statusCode": 200, "extra": 1}"#,
            br#"{"statusCode": 200, "multiValueHeaders": {"a": "not a list"}}"#,
            br#"{"statusCode": 200, "body": {"an": "object"}}"#,
            br#"{"statusCode": 99999}"#,
        ] {
            assert!(read_response(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            url_pairs("limit=2&cursor=a%2Bb&q=a+b&flag&limit=3"),
            [
                ("limit".into(), "2".into()),
                ("cursor".into(), "a+b".into()),
                ("q".into(), "a b".into()),
                ("flag".into(), "".into()),
                ("limit".into(), "3".into())
            ]
        );
        assert_eq!(url_pairs("x=%zz%4"), [("x".into(), "%zz%4".into())]);
    }

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
            api_key: Some(("a-key-value-0000000000", "key123")),
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
