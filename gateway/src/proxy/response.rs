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
    /// `multiValueHeaders`' values first, then `headers`' (recorded against AWS).
    pub headers: Vec<(String, String)>,
    /// The body as the function wrote it (base64 text when `base64`).
    pub body: String,
    /// `isBase64Encoded`.
    pub base64: bool,
}

const FIELDS: [&str; 5] = ["statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"];

/// `None` for anything API Gateway would answer with 502: not an object, an unknown field, a
/// non-numeric status, a non-list multi-value header, a body that is not a string. `{}` is
/// a 200 with an empty body.
pub fn read_response(payload: &[u8]) -> Option<ProxyResponse> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let object = value.as_object()?;
    if object.keys().any(|k| !FIELDS.contains(&k.as_str())) {
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
    if let Some(h) = object.get("multiValueHeaders").filter(|h| !h.is_null()) {
        for (k, values) in h.as_object()? {
            for v in values.as_array()? {
                headers.push((k.clone(), scalar(v)?));
            }
        }
    }
    if let Some(h) = object.get("headers").filter(|h| !h.is_null()) {
        for (k, v) in h.as_object()? {
            let v = scalar(v)?;
            // In both maps: the values are joined, the multi-value ones first (each sent once).
            if !headers.iter().any(|(hk, hv)| hk.eq_ignore_ascii_case(k) && *hv == v) {
                headers.push((k.clone(), v));
            }
        }
    }
    let base64 = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return None,
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return None,
    };
    Some(ProxyResponse { status, headers, body, base64 })
}

impl ProxyResponse {
    /// The client's response: the function's status, headers (a repeated name sent once per
    /// value; `Content-Type: application/json` when it gave none) and body. A base64 body is
    /// decoded only when `binary` (the API's `binaryMediaTypes` match the request's `Accept`),
    /// else sent as the text it is; one that does not decode is `None` (a 502).
    pub fn into_response(self, binary: bool) -> Option<Response> {
        let body = if self.base64 && binary {
            base64::engine::general_purpose::STANDARD.decode(&self.body).ok()?
        } else {
            self.body.into_bytes()
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                response.headers_mut().append(n, v);
            }
        }
        if !response.headers().contains_key(http::header::CONTENT_TYPE) {
            response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Some(response)
    }
}

/// Whether a response to a request that accepts `accept` is binary: its first media type
/// (API Gateway honours only the first) matches one of `binary_media_types` (`type/subtype`,
/// `type/*`, `*/*`).
pub fn is_binary(accept: Option<&str>, binary_media_types: &[String]) -> bool {
    let Some(first) = accept.and_then(|a| a.split(',').next()) else { return false };
    let media = first.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let Some((kind, sub)) = media.split_once('/') else { return false };
    binary_media_types.iter().any(|t| {
        let t = t.to_ascii_lowercase();
        let Some((tk, ts)) = t.split_once('/') else { return false };
        (tk == "*" || tk == kind) && (ts == "*" || ts == sub)
    })
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
        let ok = read_response(br#"{"statusCode": 201, "headers": {"a": "1"}, "multiValueHeaders": {"a": ["2", "1"], "b": ["x"]}, "body": "hi"}"#).unwrap();
        assert_eq!(ok.status, 201);
        assert_eq!(ok.headers, [("a".into(), "2".into()), ("a".into(), "1".into()), ("b".into(), "x".into())]);
        assert_eq!(ok.body, "hi");
        assert_eq!(read_response(br#"{"statusCode": "404", "body": null}"#).unwrap().status, 404);
        assert_eq!(read_response(br#"{"body": "no status"}"#).unwrap().status, 200);
        let empty = read_response(b"{}").unwrap();
        assert_eq!((empty.status, empty.body.as_str(), empty.headers.len()), (StatusCode::OK, "", 0));
        for bad in [
            &br#""a bare string""#[..],
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

    #[tokio::test]
    async fn base64_bodies_are_decoded_only_for_binary_media_types() {
        let b64 = read_response(br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}"#).unwrap();
        let body = |r: Response| async { axum::body::to_bytes(r.into_body(), 100).await.unwrap() };
        assert_eq!(body(b64.clone().into_response(true).unwrap()).await, "hi");
        let text = b64.clone().into_response(false).unwrap();
        assert_eq!(text.headers()["content-type"], "application/json");
        assert_eq!(body(text).await, "aGk=");
        let broken = read_response(br#"{"body": "*", "isBase64Encoded": true}"#).unwrap();
        assert!(broken.into_response(true).is_none());

        let types = ["image/png".to_owned(), "application/*".to_owned()];
        assert!(is_binary(Some("image/png"), &types));
        assert!(is_binary(Some("application/octet-stream; q=1, text/html"), &types));
        assert!(!is_binary(Some("text/html, image/png"), &types), "only the first counts");
        assert!(!is_binary(None, &types));
        assert!(is_binary(Some("text/plain"), &["*/*".to_owned()]));
    }
}
