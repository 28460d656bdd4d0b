//! Malformed requests, generated with proptest, against the real insert and list handlers over
//! the in-memory ports. Every generated request is invalid by construction (it breaks at least
//! one rule), so each must be answered with a 4xx whose body is JSON with a string `message`,
//! must leave the store exactly as it was and must send no mail. A panic fails the case.

use std::collections::HashSet;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use lambda_http::{Body, Request, Response, request::from_str};
use proptest::collection::{hash_set, vec};
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};
use students::api::{MAX_BODY_BYTES, Responder};
use students::config::AllowedOrigin;
use students::domain::{PageCursor, Student};
use students::handlers::{InsertStudent, ListStudents};
use students::mail::RecordingMailer;
use students::store::MemoryStore;
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

const FIELDS: [&str; 5] = ["studentid", "name", "class", "birthdate", "email"];
const TODAY: Date = date!(2026 - 11 - 29);

fn now() -> OffsetDateTime {
    datetime!(2026-11-29 12:00 UTC)
}

/// No regression files are written next to the tests: a failure prints its minimal input.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn event(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

static POST_EVENT: LazyLock<Value> = LazyLock::new(|| event("insertStudentData/events/insert-student.json"));
static GET_EVENT: LazyLock<Value> = LazyLock::new(|| event("getStudentData/events/get-students.json"));

/// A JSON string literal, quotes included.
fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `{k:v,...}` from raw JSON key literals and raw JSON values, in this order, duplicates kept.
fn object(entries: &[(String, String)]) -> String {
    let inner: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// The envelope existing clients send: `{"body": "<student JSON as a string>"}`.
fn envelope(inner: &str) -> String {
    format!("{{\"body\":{}}}", lit(inner))
}

fn entries(s: &Student) -> Vec<(String, String)> {
    [&s.studentid, &s.name, &s.class, &s.birthdate, &s.email]
        .into_iter()
        .zip(FIELDS)
        .map(|(value, field)| (lit(field), lit(value)))
        .collect()
}

fn wrap(body: String, in_envelope: bool) -> String {
    if in_envelope { envelope(&body) } else { body }
}

fn short(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() > 160 {
        format!("{}… ({} bytes)", text.chars().take(160).collect::<String>(), bytes.len())
    } else {
        format!("{text:?}")
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and the invariant every malformed one must satisfy.

/// A POST as API Gateway delivers it; bytes that are not UTF-8 can only come base64-encoded.
fn post(body: &[u8], base64: bool, content_type: Option<&str>) -> Request {
    let mut e = POST_EVENT.clone();
    match std::str::from_utf8(body) {
        Ok(text) if !base64 => {
            e["body"] = json!(text);
            e["isBase64Encoded"] = json!(false);
        }
        _ => {
            e["body"] = json!(STANDARD.encode(body));
            e["isBase64Encoded"] = json!(true);
        }
    }
    for (map, value) in [("headers", json!(content_type)), ("multiValueHeaders", json!([content_type]))] {
        let headers = e[map].as_object_mut().unwrap();
        headers.remove("Content-Type");
        if content_type.is_some() {
            headers.insert("Content-Type".into(), value);
        }
    }
    from_str(&e.to_string()).expect("a REST v1 proxy event")
}

fn get(limit: Option<&str>, cursor: Option<&str>) -> Request {
    let mut e = GET_EVENT.clone();
    let (mut single, mut multi) = (Map::new(), Map::new());
    for (name, value) in [("limit", limit), ("cursor", cursor)] {
        if let Some(value) = value {
            single.insert(name.into(), json!(value));
            multi.insert(name.into(), json!([value]));
        }
    }
    let null_if_empty = |m: Map<String, Value>| if m.is_empty() { Value::Null } else { Value::Object(m) };
    e["queryStringParameters"] = null_if_empty(single);
    e["multiValueQueryStringParameters"] = null_if_empty(multi);
    from_str(&e.to_string()).expect("a REST v1 proxy event")
}

/// Content types a JSON body may be sent with (none at all is accepted for older clients).
fn json_content_type() -> impl Strategy<Value = Option<&'static str>> {
    select(vec![
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON"),
        Some("application/vnd.api+json"),
        None,
    ])
}

/// The status a request that breaks a body rule must get: size is checked before content.
fn status_for(body: &[u8]) -> u16 {
    if body.len() > MAX_BODY_BYTES { 413 } else { 400 }
}

/// One insert handler over a store seeded with two students; after every case the store must
/// still hold exactly those two and the mailer must have sent nothing.
struct Insert {
    rt: tokio::runtime::Runtime,
    store: MemoryStore,
    mailer: RecordingMailer,
    seed: Vec<Student>,
}

fn seed_student(id: &str) -> Student {
    Student {
        studentid: id.into(),
        name: "Seeded Student".into(),
        class: "12A1".into(),
        birthdate: "2008-05-17".into(),
        email: format!("{}@example.com", id.to_lowercase()),
    }
}

impl Insert {
    fn new() -> Self {
        let seed = vec![seed_student("SEED1"), seed_student("SEED2")];
        Self { rt: runtime(), store: MemoryStore::with(seed.clone()), mailer: RecordingMailer::default(), seed }
    }

    fn send(&self, request: Request) -> Response<Body> {
        let app = InsertStudent::new(&self.store, &self.mailer, Responder::new(AllowedOrigin::any())).with_clock(now);
        self.rt.block_on(app.handle(request))
    }

    /// Sends a malformed request; checks status, JSON `message`, untouched store and no mail.
    fn refused(
        &self,
        body: &[u8],
        base64: bool,
        content_type: Option<&str>,
        status: u16,
    ) -> Result<Value, TestCaseError> {
        let response = self.send(post(body, base64, content_type));
        let json = error_json(&response, status, &short(body))?;
        prop_assert_eq!(self.store.all(), self.seed.clone(), "the store changed for {}", short(body));
        prop_assert!(self.mailer.sent.lock().unwrap().is_empty(), "mail was sent for {}", short(body));
        Ok(json)
    }
}

/// The response is `status` with a JSON body holding a string `message`.
fn error_json(response: &Response<Body>, status: u16, input: &str) -> Result<Value, TestCaseError> {
    let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    prop_assert_eq!(response.status().as_u16(), status, "input {} answered {}", input, text);
    prop_assert_eq!(response.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"application/json"[..]));
    let json: Value =
        serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
    prop_assert!(json["message"].is_string(), "no string message in {}", text);
    Ok(json)
}

/// The `(field, message)` pairs of an `errors` array.
fn field_errors(json: &Value) -> Vec<(String, String)> {
    json["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["message"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn has_field_error(json: &Value, field: &str, message_start: &str) -> bool {
    field_errors(json).iter().any(|(f, m)| f == field && m.starts_with(message_start))
}

fn message(json: &Value) -> &str {
    json["message"].as_str().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Generators of valid students: every malformed body below is a valid one with a rule broken.

fn birthdate() -> impl Strategy<Value = String> {
    let first = date!(1900 - 01 - 01).to_julian_day();
    (first..=TODAY.to_julian_day()).prop_map(|day| {
        let d = Date::from_julian_day(day).unwrap();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    })
}

fn valid_student() -> impl Strategy<Value = Student> {
    (
        "[A-Za-z0-9_-]{1,64}",
        "[A-Za-zĀ-žẠ-ỹ][A-Za-zĀ-žẠ-ỹ😀-🙏 .'-]{0,60}",
        "[0-9]{1,2}[A-Z][0-9]?",
        birthdate(),
        "[a-z0-9]{1,16}(\\.[a-z0-9]{1,8})?@[a-z]{1,12}\\.(com|org|edu\\.vn)",
    )
        .prop_map(|(studentid, name, class, birthdate, email)| Student {
            studentid,
            name,
            class,
            birthdate,
            email,
        })
}

/// A valid student body, as the object itself or in the envelope.
fn valid_body() -> impl Strategy<Value = String> {
    (valid_student(), any::<bool>()).prop_map(|(s, env)| wrap(object(&entries(&s)), env))
}

/// The generator really makes valid students: each is created (so the bodies broken below
/// were valid before they were broken).
#[test]
fn generated_valid_students_are_created() {
    let rt = runtime();
    proptest!(config(100), |(s in valid_student(), env in any::<bool>(), ct in json_content_type())| {
        let (store, mailer) = (MemoryStore::default(), RecordingMailer::default());
        let app = InsertStudent::new(&store, &mailer, Responder::new(AllowedOrigin::any())).with_clock(now);
        let body = wrap(object(&entries(&s)), env);
        let r = rt.block_on(app.handle(post(body.as_bytes(), false, ct)));
        let text = String::from_utf8_lossy(r.body().as_ref()).into_owned();
        prop_assert_eq!(r.status().as_u16(), 201, "{} -> {}", body, text);
        let stored = Student { name: s.name.trim().to_owned(), ..s };
        prop_assert_eq!(store.all(), vec![stored]);
        prop_assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    });
}

// ---------------------------------------------------------------------------------------------
// POST bodies.

/// Bytes that never occur in UTF-8: a body holding one is not JSON text.
const NEVER_UTF8: [u8; 6] = [0xC0, 0xC1, 0xF5, 0xF8, 0xFE, 0xFF];

#[test]
fn random_bytes_and_text_are_refused() {
    let app = Insert::new();
    // Random bytes with at least one byte that UTF-8 never uses, sent base64-encoded.
    let bytes = (
        prop_oneof![vec(any::<u8>(), 0..512), vec(any::<u8>(), 0..20_000)],
        select(NEVER_UTF8.to_vec()),
        any::<Index>(),
    )
        .prop_map(|(mut bytes, bad, at)| {
            let i = at.index(bytes.len() + 1);
            bytes.insert(i, bad);
            bytes
        });
    proptest!(config(150), |(body in bytes, ct in json_content_type())| {
        let json = app.refused(&body, true, ct, status_for(&body))?;
        if body.len() <= MAX_BODY_BYTES {
            // serde_json skips the strings of an array it ignores without checking their UTF-8.
            let m = message(&json);
            prop_assert!(m.starts_with("request body is not valid JSON") || m == "request body must be a JSON object", "{}", json);
        }
    });
    // Random text (any chars, controls included) that does not end the way a JSON object must.
    let text = (
        prop_oneof![vec(any::<char>(), 0..2_000), vec(any::<char>(), 0..6_000)],
        select(vec!['x', ',', '"', '[', '{', ':', '1', '\0', 'é', '😀']),
    )
        .prop_map(|(chars, last)| chars.into_iter().chain([last]).collect::<String>());
    proptest!(config(150), |(body in text, ct in json_content_type(), base64 in any::<bool>())| {
        app.refused(body.as_bytes(), base64, ct, status_for(body.as_bytes()))?;
    });
}

#[test]
fn truncated_valid_json_is_refused() {
    let app = Insert::new();
    // A valid body cut anywhere before its end; a cut inside a multi-byte char is sent base64.
    let cut = (valid_body(), any::<Index>()).prop_map(|(body, at)| body.as_bytes()[..at.index(body.len())].to_vec());
    proptest!(config(200), |(body in cut, ct in json_content_type(), base64 in any::<bool>())| {
        let json = app.refused(&body, base64, ct, 400)?;
        let m = message(&json);
        prop_assert!(m.starts_with("request body is not valid JSON") || m == "request body is empty", "{}", json);
    });
    // An intact envelope around a truncated student.
    let inner_cut = (valid_student(), any::<Index>()).prop_map(|(s, at)| {
        let inner = object(&entries(&s));
        let mut end = at.index(inner.len());
        while !inner.is_char_boundary(end) {
            end -= 1;
        }
        envelope(&inner[..end])
    });
    proptest!(config(100), |(body in inner_cut)| {
        let json = app.refused(body.as_bytes(), false, Some("application/json"), 400)?;
        let m = message(&json);
        prop_assert!(m.starts_with("request body is not valid JSON") || m == "request body is empty", "{}", json);
    });
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Arrays,
    Objects,
    Mixed,
}

fn deep(depth: usize, shape: Shape, closed: bool) -> String {
    let mut text = String::with_capacity(depth * 6);
    let mut closers = Vec::with_capacity(depth);
    for level in 0..depth {
        let as_object = match shape {
            Shape::Arrays => false,
            Shape::Objects => true,
            Shape::Mixed => level % 2 == 1,
        };
        if as_object {
            text.push_str("{\"a\":");
            closers.push('}');
        } else {
            text.push('[');
            closers.push(']');
        }
    }
    if closed {
        text.push('0');
        text.extend(closers.into_iter().rev());
    }
    text
}

#[test]
fn deeply_nested_json_is_refused() {
    let app = Insert::new();
    let nested = (
        100usize..=10_000,
        select(vec![Shape::Arrays, Shape::Objects, Shape::Mixed]),
        any::<bool>(),
        0..4usize,
        any::<Index>(),
        valid_student(),
    )
        .prop_map(|(depth, shape, closed, placement, field, s)| {
            let value = deep(depth, shape, closed);
            let mut fields = entries(&s);
            match placement {
                // The whole body.
                0 => value,
                // The value of one of the student's fields.
                1 => {
                    fields[field.index(5)].1 = value;
                    object(&fields)
                }
                // An extra field next to a valid student.
                2 => {
                    fields.insert(field.index(6), (lit("extra"), value));
                    object(&fields)
                }
                // Inside the envelope's string.
                _ => envelope(&value),
            }
        });
    proptest!(config(150), |(body in nested, ct in json_content_type())| {
        app.refused(body.as_bytes(), false, ct, status_for(body.as_bytes()))?;
    });
}

/// A JSON value that is not a string (strings may appear inside arrays and objects).
fn non_string_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[ -~]{0,12}".prop_map(Value::String),
    ];
    let any_value = leaf.clone().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-z]{0,6}", inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    let modeled = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        vec(any_value.clone(), 0..4).prop_map(Value::Array),
        vec(("[a-z]{0,6}", any_value), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
    ]
    .prop_map(|v| v.to_string());
    // Valid JSON number literals beyond what i64/u64 hold (parsed as f64), as a client might send.
    let raw_numbers = "-?(0|[1-9][0-9]{18,39})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,2})?";
    prop_oneof![4 => modeled, 1 => raw_numbers]
}

#[test]
fn wrong_types_for_each_field_are_refused() {
    let app = Insert::new();
    let wrong = (valid_student(), subsequence(FIELDS.to_vec(), 1..=5), vec(non_string_value(), 5), any::<bool>());
    proptest!(config(250), |((s, broken, values, env) in wrong)| {
        let mut fields = entries(&s);
        for (field, value) in broken.iter().zip(values) {
            let i = FIELDS.iter().position(|f| f == field).unwrap();
            fields[i].1 = value;
        }
        let body = wrap(object(&fields), env);
        let json = app.refused(body.as_bytes(), false, Some("application/json"), 400)?;
        for field in &broken {
            prop_assert!(has_field_error(&json, field, "must be a string, not"), "{} not reported in {}", field, json);
        }
    });
}

#[test]
fn huge_strings_and_bodies_are_refused() {
    let app = Insert::new();
    let huge =
        (valid_student(), 0..7usize, 1usize..=20_000, select(vec!['x', '7', '_', 'é', '字', '😀']), any::<bool>())
            .prop_map(|(s, target, n, fill, env)| {
                let mut fields = entries(&s);
                let long = |min: usize| fill.to_string().repeat(n.max(min));
                let field = match target {
                    0 => {
                        fields[0].1 = lit(&long(65));
                        Some("studentid")
                    }
                    1 => {
                        fields[1].1 = lit(&long(201));
                        Some("name")
                    }
                    2 => {
                        fields[2].1 = lit(&long(51));
                        Some("class")
                    }
                    3 => {
                        fields[3].1 = lit(&long(11));
                        Some("birthdate")
                    }
                    4 => {
                        fields[4].1 = lit(&format!("{}@example.com", long(255)));
                        Some("email")
                    }
                    5 => {
                        fields.push((lit("notes"), lit(&long(1))));
                        Some("notes")
                    }
                    // A valid student padded with whitespace past the limit.
                    _ => {
                        let body = object(&fields);
                        let pad = " ".repeat((MAX_BODY_BYTES + 1 - body.len()).max(n));
                        return (format!("{{{pad}{}", &body[1..]), None);
                    }
                };
                (wrap(object(&fields), env), field)
            });
    proptest!(config(150), |((body, field) in huge, ct in json_content_type())| {
        let status = status_for(body.as_bytes());
        prop_assert!(field.is_some() || status == 413);
        let json = app.refused(body.as_bytes(), false, ct, status)?;
        match (status, field) {
            (413, _) => prop_assert_eq!(message(&json), "request body is larger than 16384 bytes"),
            (_, Some("notes")) => prop_assert!(has_field_error(&json, "notes", "is not a known field"), "{}", json),
            (_, Some(field)) => prop_assert!(has_field_error(&json, field, ""), "{} not reported in {}", field, json),
            _ => unreachable!(),
        }
    });
}

#[test]
fn invalid_utf8_is_refused_also_when_base64_encoded() {
    let app = Insert::new();
    // Each is invalid wherever it is put between two whole characters.
    let invalid: Vec<Vec<u8>> = vec![
        vec![0xFF],
        vec![0xFE],
        vec![0x80],
        vec![0xBF],
        vec![0xC0, 0x80],
        vec![0xC1, 0xBF],
        vec![0xE0, 0x80, 0xAF],
        vec![0xE2, 0x82],
        vec![0xED, 0xA0, 0x80],
        vec![0xED, 0xBF, 0xBF],
        vec![0xF0, 0x9F, 0x98],
        vec![0xF4, 0x90, 0x80, 0x80],
        vec![0xF8, 0x88, 0x80, 0x80, 0x80],
    ];
    let broken = (valid_body(), vec((select(invalid), any::<Index>()), 1..4)).prop_map(|(body, inserts)| {
        // Each at its own boundary between whole characters of the valid text, so no two inserts
        // touch (two that touch can make a valid character: E2 82 then 80 is U+2080).
        let boundaries: Vec<usize> = body.char_indices().map(|(i, _)| i).chain([body.len()]).collect();
        let mut at: Vec<(usize, Vec<u8>)> = inserts
            .into_iter()
            .map(|(sequence, index)| (boundaries[index.index(boundaries.len())], sequence))
            .collect();
        at.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
        at.dedup_by_key(|(i, _)| *i);
        let mut bytes = body.into_bytes();
        // From the end, so the positions still to come are unmoved.
        for (i, sequence) in at {
            bytes.splice(i..i, sequence);
        }
        bytes
    });
    proptest!(config(200), |(body in broken, ct in json_content_type())| {
        prop_assert!(std::str::from_utf8(&body).is_err());
        let json = app.refused(&body, true, ct, 400)?;
        prop_assert!(message(&json).starts_with("request body is not valid JSON"), "{}", json);
    });
}

/// One piece of text inside a JSON string literal: a character, written as itself or as
/// `\uXXXX` escapes, or an escape that names half a surrogate pair (which is not a character).
#[derive(Debug, Clone)]
enum Piece {
    Char(char, bool),
    Surrogate(&'static str),
}

impl Piece {
    fn raw(&self) -> String {
        match self {
            Piece::Char(c, false) => {
                let quoted = lit(&c.to_string());
                quoted[1..quoted.len() - 1].to_owned()
            }
            Piece::Char(c, true) => c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("\\u{u:04x}")).collect(),
            // The 'x' keeps it from pairing with a surrogate escape that follows it.
            Piece::Surrogate(s) => format!("{s}x"),
        }
    }
}

const EDGE_CHARS: &[char] = &[
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{2060}',
    '\u{FEFF}', // zero-width
    '\u{200E}',
    '\u{200F}',
    '\u{202A}',
    '\u{202B}',
    '\u{202D}',
    '\u{202E}',
    '\u{2066}',
    '\u{2069}',
    '\u{061C}', // direction marks
    '😀',
    '👩',
    '\u{1F1FB}',
    '\u{1F1F3}',
    '\u{1F3FD}', // emoji, flag halves, skin tone
    '\u{0301}',
    '\u{0338}',
    '\u{036F}',
    '\u{20DD}', // combining marks
    '\u{2028}',
    '\u{2029}',
    '\u{00A0}',
    '\u{3000}',
    '\u{FFFE}',
    '\u{FFFF}',
    '\u{E000}',
    '\u{10FFFF}',
    '\u{FFFD}',
    'Å',
];
const ASCII_CONTROLS: &[char] = &['\0', '\x01', '\x07', '\x08', '\t', '\n', '\r', '\x1B', '\x1F', '\x7F'];
const C1_CONTROLS: &[char] = &['\u{80}', '\u{85}', '\u{9F}'];
const SURROGATE_ESCAPES: &[&str] =
    &[r"\ud800", r"\udbff", r"\udc00", r"\udfff", r"\ud83d", r"\ude00\ud83d", r"\ud800\u0041", r"\ud800\ud800"];

fn piece_from(chars: &'static [char]) -> impl Strategy<Value = Piece> {
    (select(chars), any::<bool>()).prop_map(|(c, escaped)| Piece::Char(c, escaped))
}

fn surrogate() -> impl Strategy<Value = Piece> {
    select(SURROGATE_ESCAPES).prop_map(Piece::Surrogate)
}

/// Anything from the edge cases: zero-width, direction marks, emoji, combining marks, controls
/// and lone surrogate escapes.
fn edge_piece() -> impl Strategy<Value = Piece> {
    prop_oneof![6 => piece_from(EDGE_CHARS), 2 => piece_from(ASCII_CONTROLS), 1 => piece_from(C1_CONTROLS), 1 => surrogate()]
}

fn raw(pieces: &[Piece]) -> String {
    pieces.iter().map(Piece::raw).collect()
}

#[test]
fn unicode_edge_cases_are_refused() {
    let app = Insert::new();
    let any_control = prop_oneof![piece_from(ASCII_CONTROLS), piece_from(C1_CONTROLS), surrogate()];
    let ascii_control = prop_oneof![piece_from(ASCII_CONTROLS), surrogate()];
    let cases = (
        valid_student(),
        0..6usize,
        vec(edge_piece(), 1..8),
        vec(edge_piece(), 0..8),
        any_control,
        ascii_control,
        any::<Index>(),
        any::<bool>(),
    )
        .prop_map(|(s, target, junk, more, control, ascii, at, env)| {
            let mut fields = entries(&s);
            // Each target gets the junk where it must break that field's rule.
            let (field, used): (String, Vec<Piece>) = match target {
                // An id allows only ASCII letters, digits, '_' and '-'.
                0 => {
                    fields[0].1 = format!("\"SV{}\"", raw(&junk));
                    ("studentid".into(), junk)
                }
                // A name or class may hold anything printable, but never a control character.
                1 | 2 => {
                    let used: Vec<Piece> = junk.iter().cloned().chain([control]).chain(more).collect();
                    fields[target].1 = format!("\"A{}B\"", raw(&used));
                    (FIELDS[target].into(), used)
                }
                // A date is exactly ten ASCII characters.
                3 => {
                    let date = &s.birthdate;
                    let i = at.index(date.len() + 1);
                    fields[3].1 = format!("\"{}{}{}\"", &date[..i], raw(&junk), &date[i..]);
                    ("birthdate".into(), junk)
                }
                // An address never holds an ASCII control character.
                4 => {
                    let used: Vec<Piece> = junk.iter().cloned().chain([ascii]).collect();
                    fields[4].1 = format!("\"a{}b@example.com\"", raw(&used));
                    ("email".into(), used)
                }
                // A key that only looks like "studentid".
                _ => {
                    let key = format!("\"stud{}entid\"", raw(&junk));
                    let decoded = serde_json::from_str::<String>(&key).unwrap_or_default();
                    fields[0].0 = key;
                    (decoded, junk)
                }
            };
            let lone_surrogate = used.iter().any(|p| matches!(p, Piece::Surrogate(_)));
            (wrap(object(&fields), env), field, lone_surrogate)
        });
    proptest!(config(300), |((body, field, lone_surrogate) in cases, ct in json_content_type())| {
        let json = app.refused(body.as_bytes(), false, ct, 400)?;
        if lone_surrogate {
            prop_assert!(message(&json).starts_with("request body is not valid JSON"), "{}", json);
        } else if field.starts_with("stud") && field != "studentid" {
            prop_assert!(has_field_error(&json, &field, "is not a known field"), "{:?} in {}", field, json);
            prop_assert!(has_field_error(&json, "studentid", "is required"), "{}", json);
        } else {
            prop_assert!(has_field_error(&json, &field, ""), "{} not reported in {}", field, json);
        }
    });
}

#[test]
fn duplicate_keys_are_refused() {
    let app = Insert::new();
    let dup_value = prop_oneof![
        Just(None),
        valid_student().prop_map(|s| Some(entries(&s))),
        non_string_value().prop_map(|v| Some(vec![(String::new(), v); 5])),
    ];
    let cases = (valid_student(), 0..6usize, dup_value, any::<Index>(), any::<Index>(), any::<bool>(), any::<bool>())
        .prop_map(|(s, which, other, at, escape_at, escape, env)| {
            let fields = entries(&s);
            if which == 5 {
                // The envelope's own key twice.
                let inner = object(&fields);
                return (object(&[(lit("body"), lit(&inner)), (lit("body"), lit(&inner))]), "body");
            }
            let field = FIELDS[which];
            let value = match &other {
                None => fields[which].1.clone(),
                Some(values) => values[which].1.clone(),
            };
            // The second key may be spelled with an escape: it is still the same key.
            let key = if escape {
                let i = escape_at.index(field.len());
                format!("\"{}\\u{:04x}{}\"", &field[..i], field.as_bytes()[i], &field[i + 1..])
            } else {
                lit(field)
            };
            let mut with_dup = fields;
            with_dup.insert(at.index(6), (key, value));
            (wrap(object(&with_dup), env), field)
        });
    proptest!(config(200), |((body, field) in cases, ct in json_content_type())| {
        let json = app.refused(body.as_bytes(), false, ct, 400)?;
        prop_assert_eq!(message(&json), format!("request body has the field {field:?} more than once"));
        prop_assert_eq!(field_errors(&json), vec![(field.to_owned(), "appears more than once".to_owned())]);
    });
}

#[test]
fn extra_fields_are_refused() {
    let app = Insert::new();
    let key = prop_oneof![
        "[a-zA-Z_$][a-zA-Z0-9_$]{0,12}",
        vec(any::<char>(), 0..16).prop_map(String::from_iter),
        select(vec![
            "StudentID",
            "studentId",
            "STUDENTID",
            " studentid",
            "studentid ",
            "student_id",
            "name\0",
            "e-mail",
            "Email",
            "birthDate",
            "body",
            "__proto__",
            "constructor",
            "id",
            "age",
            "",
            "studentid\u{200B}",
        ])
        .prop_map(String::from),
    ]
    .prop_filter("a known field is not extra", |k| !FIELDS.contains(&k.as_str()));
    let cases = (valid_student(), hash_set(key, 1..5), vec((non_string_value(), any::<Index>()), 5), any::<bool>());
    proptest!(config(200), |((s, extra, values, env) in cases, ct in json_content_type())| {
        let mut fields = entries(&s);
        for (k, (v, at)) in extra.iter().zip(values) {
            let i = at.index(fields.len() + 1);
            fields.insert(i, (lit(k), v));
        }
        let body = wrap(object(&fields), env);
        let json = app.refused(body.as_bytes(), false, ct, 400)?;
        let mut reported: Vec<(String, String)> = field_errors(&json);
        reported.sort();
        let mut expected: Vec<(String, String)> = extra.iter().map(|k| (k.clone(), "is not a known field".to_owned())).collect();
        expected.sort();
        prop_assert_eq!(reported, expected);
    });
}

#[test]
fn wrong_content_types_are_refused_even_with_a_valid_body() {
    let app = Insert::new();
    let fixed = select(vec![
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=----form7MA4YWxkTrZu0gW",
        "text/json",
        "text/html",
        "application/xml",
        "application/javascript",
        "application/jsonp",
        "application/json-patch",
        "application/octet-stream",
        "json",
        "application",
        "",
        " ",
        ";application/json",
        "application/ json",
        "application/json+",
        "application/jsön",
        "applicatión/json",
    ])
    .prop_map(String::from);
    let random = ("[a-zA-Z]{1,12}/[a-zA-Z0-9.+-]{1,20}", prop::option::of("; ?[a-z]{1,8}=[a-zA-Z0-9-]{1,10}"))
        .prop_map(|(essence, params)| format!("{essence}{}", params.unwrap_or_default()))
        .prop_filter("accepted JSON types are not wrong", |ct| {
            let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            essence != "application/json" && !essence.ends_with("+json")
        });
    let form = valid_student().prop_map(|s| {
        [
            ("studentid", &s.studentid),
            ("name", &s.name),
            ("class", &s.class),
            ("birthdate", &s.birthdate),
            ("email", &s.email),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&")
    });
    let multipart = valid_student().prop_map(|s| {
        let parts: String = entries(&s)
            .iter()
            .map(|(k, v)| {
                format!(
                    "------form7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name={k}\r\n\r\n{}\r\n",
                    &v[1..v.len() - 1]
                )
            })
            .collect();
        format!("{parts}------form7MA4YWxkTrZu0gW--\r\n")
    });
    let bodies = prop_oneof![3 => valid_body(), 1 => form, 1 => multipart];
    proptest!(config(200), |(body in bodies, ct in prop_oneof![fixed, random], base64 in any::<bool>())| {
        let json = app.refused(body.as_bytes(), base64, Some(&ct), 415)?;
        prop_assert_eq!(message(&json), "Content-Type must be application/json");
    });
}

// ---------------------------------------------------------------------------------------------
// GET ?limit= and ?cursor=.

struct List {
    rt: tokio::runtime::Runtime,
    store: MemoryStore,
    ids: Vec<String>,
}

impl List {
    fn new() -> Self {
        let ids: Vec<String> = ["A1", "SV001", "SV002", "sv003", "zz-9", "Ωmega"].map(String::from).to_vec();
        Self { rt: runtime(), store: MemoryStore::with(ids.iter().map(|id| seed_student(id))), ids }
    }

    fn send(&self, limit: Option<&str>, cursor: Option<&str>) -> Response<Body> {
        let app = ListStudents::new(&self.store, Responder::new(AllowedOrigin::any()));
        self.rt.block_on(app.handle(get(limit, cursor)))
    }

    fn refused(&self, limit: Option<&str>, cursor: Option<&str>) -> Result<String, TestCaseError> {
        let input = format!("limit={:.80?} cursor={:.80?}", limit, cursor);
        let response = self.send(limit, cursor);
        let json = error_json(&response, 400, &input)?;
        prop_assert!(response.headers().get("x-next-cursor").is_none());
        Ok(message(&json).to_owned())
    }
}

const LIMIT_MESSAGE: &str = "limit must be a whole number from 1 to 1000";

/// Limits that are not a whole number from 1 to 1000 written with at most four ASCII digits.
fn bad_limit() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(any::<char>(), 0..40).prop_map(String::from_iter).prop_filter("not a valid limit", |s| {
            !(1..=4).contains(&s.len())
                || !s.bytes().all(|b| b.is_ascii_digit())
                || !(1..=1000).contains(&s.parse::<u32>().unwrap_or(0))
        }),
        "-[0-9]{1,6}",
        "[0-9]{0,4}\\.[0-9]{0,4}",
        "[0-9]{1,3}[eE][+-]?[0-9]{1,3}",
        (1001u32..=9999).prop_map(|n| n.to_string()),
        "[0-9]{5,40}",
        "0{1,4}",
        "[ \t+]{1,3}[1-9][0-9]{0,2}",
        "[1-9][0-9]{0,2}[ \t]{1,3}",
        "(%[0-9A-Fa-f]{2}){1,12}",
        "[١-٩]{1,3}|[１-９]{1,3}|[¹²³]{1,3}",
        "0x[0-9a-f]{1,3}|1_000|10,5|NaN|Infinity|null|true|\\[1\\]",
        Just(String::new()),
        "[0-9]{1,3}(&limit=1)?[;#?/][0-9]{1,3}",
    ]
}

#[test]
fn bad_limits_are_refused() {
    let app = List::new();
    proptest!(config(400), |(limit in bad_limit(), with_cursor in any::<bool>())| {
        let cursor = with_cursor.then(|| PageCursor::after("SV001").encode());
        let m = app.refused(Some(&limit), cursor.as_deref())?;
        prop_assert_eq!(m, LIMIT_MESSAGE);
    });
}

/// A valid cursor's bytes changed somewhere: base64url(version ‖ checksum ‖ key).
fn flipped_cursor() -> impl Strategy<Value = String> {
    ("\\PC{1,40}", any::<Index>(), 1u8..=255).prop_map(|(key, at, mask)| {
        let mut bytes = URL_SAFE_NO_PAD.decode(PageCursor::after(key).encode()).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= mask;
        URL_SAFE_NO_PAD.encode(bytes)
    })
}

/// Cursors that no page ever hands out.
fn bad_cursor() -> impl Strategy<Value = String> {
    let not_base64url = select(vec!['!', '+', '/', '=', '%', ' ', '.', '~', '\0', '\n', 'é', '😀', '\u{200B}']);
    prop_oneof![
        // Arbitrary text with at least one character outside the base64url alphabet.
        (vec(any::<char>(), 0..200), not_base64url, any::<Index>()).prop_map(|(mut chars, bad, at)| {
            let i = at.index(chars.len() + 1);
            chars.insert(i, bad);
            String::from_iter(chars)
        }),
        "(%[0-9A-Fa-f]{2}){1,30}",
        "-?[0-9]{1,30}(\\.[0-9]{1,10})?",
        // Base64url of garbage: an unknown version, or too short to hold a checksum and a key.
        (any::<u8>().prop_filter("not version 1", |v| *v != 1), vec(any::<u8>(), 0..100))
            .prop_map(|(v, rest)| { URL_SAFE_NO_PAD.encode([vec![v], rest].concat()) }),
        vec(any::<u8>(), 0..=8).prop_map(|rest| URL_SAFE_NO_PAD.encode([vec![1u8], rest].concat())),
        flipped_cursor(),
        // A valid cursor with one character replaced, some removed, padding or junk added.
        ("[A-Za-z0-9]{1,20}", any::<Index>(), "[A-Za-z0-9_-]").prop_filter_map("changed", |(key, at, c)| {
            let text = PageCursor::after(key).encode();
            let i = at.index(text.len());
            let replaced = format!("{}{c}{}", &text[..i], &text[i + 1..]);
            (replaced != text).then_some(replaced)
        }),
        ("[A-Za-z0-9]{1,20}", 1usize..6).prop_map(|(key, n)| {
            let text = PageCursor::after(key).encode();
            text[..text.len().saturating_sub(n)].to_owned()
        }),
        ("[A-Za-z0-9]{1,20}", "=|==|%3D|\\.|~|!").prop_map(|(key, junk)| PageCursor::after(key).encode() + &junk),
        // Too long to name any key.
        "[A-Za-z0-9_-]{8193,9000}",
        // Well formed (anyone can compute the checksum) but naming a key longer than the 2048
        // bytes a DynamoDB partition key may have.
        prop_oneof!["[A-Za-z0-9]{2049,6000}", "[é字😀]{683,2000}"]
            .prop_filter("longer than a key can be", |key| key.len() > 2048)
            .prop_map(|key| PageCursor::after(key).encode()),
        Just(String::new()),
    ]
}

#[test]
fn bad_cursors_are_refused() {
    let app = List::new();
    proptest!(config(400), |(cursor in bad_cursor(), limit in prop::option::of((1u16..=1000).prop_map(|n| n.to_string())))| {
        let m = app.refused(limit.as_deref(), Some(&cursor))?;
        prop_assert!(m.starts_with("cursor is not valid: "), "{}", m);
    });
}

#[test]
fn valid_limits_and_cursors_page_through_the_table() {
    let app = List::new();
    let mut sorted = app.ids.clone();
    sorted.sort();
    let key = prop_oneof![select(app.ids.clone()), "\\PC{1,30}"];
    // Up to four digits, leading zeros allowed ("0042").
    let limit = (1u16..=1000, 0usize..=3).prop_map(|(n, width)| format!("{n:0width$}"));
    proptest!(config(200), |(limit in prop::option::of(limit), after in prop::option::of(key))| {
        let cursor = after.as_ref().map(|k| PageCursor::after(k.as_str()).encode());
        let response = app.send(limit.as_deref(), cursor.as_deref());
        let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        prop_assert_eq!(response.status().as_u16(), 200, "{}", text);
        let n = limit.as_deref().map_or(100, |l| l.parse::<usize>().unwrap());
        let expected: Vec<&String> =
            sorted.iter().filter(|id| after.as_ref().is_none_or(|k| id.as_str() > k.as_str())).take(n).collect();
        let got: Vec<Student> = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got_ids: Vec<&String> = got.iter().map(|s| &s.studentid).collect();
        prop_assert_eq!(&got_ids, &expected);
        let next = response.headers().get("x-next-cursor").map(|v| v.to_str().unwrap().to_owned());
        let expected_next = (expected.len() == n).then(|| PageCursor::after(expected[n - 1].as_str()).encode());
        prop_assert_eq!(next, expected_next);
    });
}

/// Sanity for the duplicate-key generator: escaped spellings decode to the plain key.
#[test]
fn an_escaped_key_is_the_same_key() {
    let keys: HashSet<String> = ["\"studentid\"", "\"\\u0073tudentid\"", "\"student\\u0069d\""]
        .iter()
        .map(|k| serde_json::from_str::<String>(k).unwrap())
        .collect();
    assert_eq!(keys.len(), 1);
}
