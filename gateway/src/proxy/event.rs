//! The event a function receives: the REST API proxy event, payload format 1.0.
//!
//! Built in two steps. First the typed event — `aws_lambda_events`' `ApiGatewayProxyRequest`,
//! the type `lambda_http` parses it back into in the functions, so field names and types
//! cannot drift apart — serialized and brought to what API Gateway sends where the type writes
//! otherwise ([`as_api_gateway_sends`]). Then the header maps, written apart
//! ([`write_headers`]) from the (name, value) pairs [`super::headers::forwarded`] gives: the
//! type keeps headers in an `http::HeaderMap`, which holds names only in lowercase (API
//! Gateway passes `Content-Type`, `User-Agent`, ...) and fails to serialize a value that is
//! not UTF-8.

use std::collections::{BTreeMap, HashMap};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyRequestContext, ApiGatewayRequestIdentity};
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use http::{HeaderMap, Method};
use serde_json::{Map, Value, json};

use super::header_case::OriginalNames;
use super::headers::{self, Hop};
use super::trace::Trace;
use crate::query::url_pairs;

/// The account the emulator deploys into (moto's default).
const ACCOUNT_ID: &str = "123456789012";

/// What API Gateway knows about a request when it calls the function.
pub struct RequestFacts<'a> {
    pub method: &'a Method,
    pub resource_path: &'a str,
    pub resource_id: &'a str,
    /// Without the stage, as sent (`//students` too): `/students`.
    pub path: &'a str,
    pub stage: &'a str,
    pub api_id: &'a str,
    pub deployment_id: &'a str,
    pub request_id: &'a str,
    pub extended_request_id: &'a str,
    pub headers: &'a HeaderMap,
    /// The header names as the client sent them.
    pub header_names: &'a OriginalNames,
    pub query: Option<&'a str>,
    pub path_parameters: &'a [(String, String)],
    pub body: &'a [u8],
    pub source_ip: &'a str,
    /// The port the request arrived at (`X-Forwarded-Port`).
    pub port: u16,
    pub trace: &'a Trace,
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

/// Builds the event.
pub fn event(f: &RequestFacts<'_>) -> Value {
    let mut event = serde_json::to_value(typed(f)).expect("an event without headers serializes");
    as_api_gateway_sends(&mut event, f);
    let hop = Hop { client_ip: f.source_ip, port: f.port };
    write_headers(&mut event, headers::forwarded(f.headers, f.header_names, hop, f.trace));
    event
}

/// The typed event, all but its headers.
fn typed(f: &RequestFacts<'_>) -> ApiGatewayProxyRequest {
    let header = |name: &str| f.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);

    let mut identity = ApiGatewayRequestIdentity::default();
    identity.source_ip = Some(f.source_ip.to_owned());
    identity.user_agent = header("user-agent");
    identity.api_key = f.api_key.map(|k| k.value.to_owned());
    identity.api_key_id = f.api_key.map(|k| k.id.to_owned());

    let mut context = ApiGatewayProxyRequestContext::default();
    context.account_id = Some(ACCOUNT_ID.to_owned());
    context.apiid = Some(f.api_id.to_owned());
    context.stage = Some(f.stage.to_owned());
    context.request_id = Some(f.request_id.to_owned());
    context.request_time = Some(request_time(f.now));
    context.request_time_epoch = (f.now.unix_timestamp_nanos() / 1_000_000) as i64;
    context.resource_id = Some(f.resource_id.to_owned());
    context.resource_path = Some(f.resource_path.to_owned());
    context.http_method = f.method.clone();
    // The path as sent here; `path` below has its empty segments collapsed.
    context.path = Some(format!("/{}{}", f.stage, f.path));
    context.protocol = Some("HTTP/1.1".to_owned());
    context.domain_name = header("host");
    context.domain_prefix = context.domain_name.as_deref().map(domain_prefix);
    context.identity = identity;

    let (single_query, multi_query) = query_maps(f.query);
    let (body, is_base64_encoded) = body(f.body);
    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some(f.resource_path.to_owned());
    event.path = Some(collapsed(f.path));
    event.http_method = f.method.clone();
    event.query_string_parameters = single_query;
    event.multi_value_query_string_parameters = multi_query;
    event.path_parameters = f.path_parameters.iter().cloned().collect();
    event.request_context = context;
    event.body = body;
    event.is_base64_encoded = is_base64_encoded;
    event
}

/// `//a//b/` → `/a/b/`: API Gateway's `path` has no empty segments (a trailing `/` stays).
fn collapsed(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    if out.is_empty() { "/".to_owned() } else { out }
}

/// The first label of the host the request named (`abc123` of
/// `abc123.execute-api.us-east-1.amazonaws.com`; `127` of `127.0.0.1:4010`).
fn domain_prefix(host: &str) -> String {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| if port.parse::<u16>().is_ok() { name } else { host });
    name.split('.').next().unwrap_or(name).to_owned()
}

/// `30/Nov/2026:08:09:10 +0000`, the form API Gateway writes.
fn request_time(now: time::OffsetDateTime) -> String {
    now.format(time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"))
        .unwrap_or_default()
}

/// `queryStringParameters` and `multiValueQueryStringParameters`. A repeated key has its last
/// value in the first, as in API Gateway; the type writes the first value it holds for a key,
/// so the first map is given only the last.
fn query_maps(query: Option<&str>) -> (QueryMap, QueryMap) {
    let mut all: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in url_pairs(query.unwrap_or("")) {
        all.entry(key).or_default().push(value);
    }
    let last: HashMap<String, String> =
        all.iter().filter_map(|(key, values)| Some((key.clone(), values.last()?.clone()))).collect();
    (QueryMap::from(last), QueryMap::from(all))
}

/// The body as text, or in base64 when it is not UTF-8; none is `null`.
fn body(bytes: &[u8]) -> (Option<String>, bool) {
    if bytes.is_empty() {
        return (None, false);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_owned()), false),
        Err(_) => (Some(base64::engine::general_purpose::STANDARD.encode(bytes)), true),
    }
}

/// Where the type serializes otherwise than API Gateway sends.
fn as_api_gateway_sends(event: &mut Value, f: &RequestFacts<'_>) {
    // An absent map is `null`; the type writes `{}`.
    for name in ["queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables"] {
        if event[name].as_object().is_some_and(Map::is_empty) {
            event[name] = Value::Null;
        }
    }
    let context = &mut event["requestContext"];
    // Sent by API Gateway; the type has no field for them.
    context["extendedRequestId"] = json!(f.extended_request_id);
    context["deploymentId"] = json!(f.deployment_id);
    context["identity"]["principalOrgId"] = Value::Null;
}

/// Writes `headers` and `multiValueHeaders` from (name, value) pairs, in the order given and
/// with names as given: a repeated name has its last value in `headers` and all of them in
/// `multiValueHeaders`; no headers is `null`.
fn write_headers(event: &mut Value, headers: Vec<(String, String)>) {
    let mut single = Map::new();
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        single.insert(name.clone(), json!(value));
        multi.entry(name).or_default().push(value);
    }
    let (single, multi) = if single.is_empty() { (Value::Null, Value::Null) } else { (json!(single), json!(multi)) };
    event["headers"] = single;
    event["multiValueHeaders"] = multi;
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

    const TRACE: &str = "Root=1-6b0d2f26-000000000000000000000001;Parent=0000000000000002;Sampled=0";

    fn names() -> &'static OriginalNames {
        static NAMES: std::sync::OnceLock<OriginalNames> = std::sync::OnceLock::new();
        NAMES.get_or_init(OriginalNames::default)
    }

    fn trace() -> &'static Trace {
        static TRACE_ID: std::sync::OnceLock<Trace> = std::sync::OnceLock::new();
        TRACE_ID.get_or_init(|| Trace::fixed(TRACE))
    }

    /// A request with everything: headers, repeated query keys, a path parameter, a JSON body,
    /// a key.
    fn full<'a>(headers: &'a HeaderMap, path_parameters: &'a [(String, String)]) -> RequestFacts<'a> {
        RequestFacts {
            method: &Method::POST,
            resource_path: "/students/{id}",
            resource_id: "res123",
            path: "/students/SV%201",
            stage: "prod",
            api_id: "api123",
            deployment_id: "dep123",
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            extended_request_id: "AbCdEfGhIjKlMnOp",
            headers,
            header_names: names(),
            query: Some("x=1&x=2&q=a+b&flag"),
            path_parameters,
            body: br#"{"name":"A"}"#,
            source_ip: "127.0.0.1",
            port: 4010,
            trace: trace(),
            api_key: Some(AdmittedKey { value: "a-key-value-0000000000", id: "key123" }),
            now: time::macros::datetime!(2026-11-30 08:09:10.123 UTC),
        }
    }

    /// A request with nothing optional: no query, parameters or key, and `body` (none when
    /// empty).
    fn bare<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> RequestFacts<'a> {
        RequestFacts {
            method: &Method::GET,
            resource_path: "/students",
            resource_id: "res456",
            path: "/students",
            stage: "prod",
            api_id: "api123",
            deployment_id: "dep123",
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            extended_request_id: "AbCdEfGhIjKlMnOp",
            headers,
            header_names: names(),
            query: None,
            path_parameters: &[],
            body,
            source_ip: "127.0.0.1",
            port: 4010,
            trace: trace(),
            api_key: None,
            now: time::macros::datetime!(2026-11-30 08:09:10.123 UTC),
        }
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
        let event = event(&full(&full_headers(), &[("id".to_owned(), "SV 1".to_owned())]));
        let expected = json!({
            "resource": "/students/{id}",
            "path": "/students/SV%201",
            "httpMethod": "POST",
            // The last value of a repeated header; a value that is not UTF-8, decoded lossily;
            // standard names canonical; API Gateway's own added.
            "headers": {
                "Host": "127.0.0.1:4010", "User-Agent": "test/1.0", "Content-Type": "application/json",
                "x-api-key": "a-key-value-0000000000", "Accept": "application/json", "x-latin": "caf\u{fffd}",
                "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Port": "4010", "X-Forwarded-Proto": "http",
                "X-Amzn-Trace-Id": TRACE
            },
            "multiValueHeaders": {
                "Accept": ["text/plain", "application/json"], "Content-Type": ["application/json"],
                "Host": ["127.0.0.1:4010"], "User-Agent": ["test/1.0"],
                "X-Amzn-Trace-Id": [TRACE], "X-Forwarded-For": ["127.0.0.1"], "X-Forwarded-Port": ["4010"],
                "X-Forwarded-Proto": ["http"], "x-api-key": ["a-key-value-0000000000"], "x-latin": ["caf\u{fffd}"]
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
                "domainPrefix": "127",
                "identity": identity("127.0.0.1", json!("test/1.0"), json!("a-key-value-0000000000"), json!("key123"))
            },
            "body": "{\"name\":\"A\"}",
            "isBase64Encoded": false
        });
        assert_eq!(event, expected, "{event:#}");
    }

    #[test]
    fn absent_values_are_null_and_bodies_that_are_not_utf8_are_base64() {
        let event = event(&bare(&HeaderMap::new(), b""));
        let expected = json!({
            "resource": "/students",
            "path": "/students",
            "httpMethod": "GET",
            // Only API Gateway's own.
            "headers": {
                "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Port": "4010", "X-Forwarded-Proto": "http",
                "X-Amzn-Trace-Id": TRACE
            },
            "multiValueHeaders": {
                "X-Amzn-Trace-Id": [TRACE], "X-Forwarded-For": ["127.0.0.1"], "X-Forwarded-Port": ["4010"],
                "X-Forwarded-Proto": ["http"]
            },
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
                "domainPrefix": null,
                "identity": identity("127.0.0.1", Value::Null, Value::Null, Value::Null)
            },
            "body": null,
            "isBase64Encoded": false
        });
        assert_eq!(event, expected, "{event:#}");
        let binary = super::event(&bare(&HeaderMap::new(), &[0xff, 0x00, 0x41]));
        assert_eq!((&binary["body"], &binary["isBase64Encoded"]), (&json!("/wBB"), &json!(true)));
    }

    #[test]
    fn the_type_reads_the_event_back_as_built() {
        let (headers, parameters) = (full_headers(), [("id".to_owned(), "SV 1".to_owned())]);
        let facts = full(&headers, &parameters);
        let mut read: ApiGatewayProxyRequest = serde_json::from_value(event(&facts)).unwrap();
        // The header maps, written apart from the type, read back into its maps.
        assert_eq!(read.headers.keys_len(), headers.keys_len() + 4, "with API Gateway's own");
        assert_eq!(read.headers["accept"], "application/json");
        let accept: Vec<&str> =
            read.multi_value_headers.get_all("accept").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(accept, ["text/plain", "application/json"]);
        read.headers.clear();
        read.multi_value_headers.clear();
        assert_eq!(read, typed(&facts));
        // And `null` reads back as the empty maps it stands for.
        let none = HeaderMap::new();
        let facts = bare(&none, b"");
        let mut read = serde_json::from_value::<ApiGatewayProxyRequest>(event(&facts)).unwrap();
        read.headers.clear();
        read.multi_value_headers.clear();
        assert_eq!(read, typed(&facts));
    }

    #[test]
    fn path_collapses_empty_segments_while_the_context_keeps_them() {
        let none = HeaderMap::new();
        let mut facts = bare(&none, b"");
        facts.path = "//students//x/";
        let event = event(&facts);
        assert_eq!(event["path"], "/students/x/");
        assert_eq!(event["requestContext"]["path"], "/prod//students//x/");
        assert_eq!(collapsed("//"), "/");
        assert_eq!(domain_prefix("abc123.execute-api.us-east-1.amazonaws.com"), "abc123");
        assert_eq!(domain_prefix("localhost:4010"), "localhost");
    }

    #[test]
    fn lambda_http_reads_the_event_as_a_rest_api_request() {
        use lambda_http::request::RequestContext;
        use lambda_http::{Body, RequestExt as _};

        let (headers, parameters) = (full_headers(), [("id".to_owned(), "SV 1".to_owned())]);
        let request = lambda_http::request::from_str(&event(&full(&headers, &parameters)).to_string()).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri().path(), "/prod/students/SV%201");
        assert_eq!(request.headers()["content-type"], "application/json");
        assert_eq!(request.query_string_parameters().all("x"), Some(vec!["1", "2"]));
        assert_eq!(request.path_parameters().first("id"), Some("SV 1"));
        assert_eq!(request.body(), &Body::Text(r#"{"name":"A"}"#.to_owned()));
        let RequestContext::ApiGatewayV1(context) = request.request_context() else {
            panic!("not read as a REST API request: {:?}", request.request_context());
        };
        assert_eq!(context.identity.api_key.as_deref(), Some("a-key-value-0000000000"));
        assert_eq!(context.identity.api_key_id.as_deref(), Some("key123"));
        assert_eq!((context.stage.as_deref(), context.request_time_epoch), (Some("prod"), 1_796_026_150_123));

        let none = HeaderMap::new();
        let binary = lambda_http::request::from_str(&event(&bare(&none, &[0xff, 0x00, 0x41])).to_string()).unwrap();
        assert_eq!(binary.body(), &Body::Binary(vec![0xff, 0x00, 0x41]));
    }
}
