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
}
