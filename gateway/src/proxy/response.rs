//! What a function answers, read strictly, as API Gateway reads a Lambda proxy response
//! (payload 1.0): anything it would refuse is a 502.

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use serde_json::Value;

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

impl ProxyResponse {
    /// The client's response: the function's status, headers (a repeated name sent once per
    /// value) and body, nothing added.
    pub fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                response.headers_mut().append(n, v);
            }
        }
        response
    }
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
}
