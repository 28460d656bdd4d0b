//! Students and the parsing of untrusted input into them ("parse, don't validate"): a
//! [`NewStudent`] can only be built from values that passed every rule, so nothing past the
//! boundary checks again.

use std::fmt;

use email_address::{EmailAddress, Options as EmailOptions};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use system::Student;
use system::student::ATTRIBUTES as FIELDS;
use time::{Date, macros::format_description};

/// The largest request body the insert function reads (a student is well under 2 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

const MAX_ID_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 200;
const MAX_CLASS_CHARS: usize = 50;
const MAX_EMAIL_CHARS: usize = 254;
/// Dates before this are typing mistakes, not students.
const EARLIEST_BIRTHDATE: Date = time::macros::date!(1900 - 01 - 01);

/// One problem with one field of a request, as returned in the `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

/// Why a request body could not become a [`NewStudent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestBodyError {
    #[error("request body is empty")]
    Empty,
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("request body must be a JSON object")]
    NotAnObject,
    #[error("request body has the field {0:?} more than once")]
    DuplicateField(String),
    #[error("invalid student: {}", summary(.0))]
    Invalid(Vec<FieldError>),
}

fn summary(errors: &[FieldError]) -> String {
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    format!("check {}", fields.join(", "))
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// The table key: 1–64 characters of `[A-Za-z0-9_-]`.
    StudentId
);
string_newtype!(
    /// A display name: 1–200 characters after trimming, no control characters.
    StudentName
);
string_newtype!(
    /// A class: 1–50 characters after trimming, no control characters.
    ClassName
);
string_newtype!(
    /// A syntactically valid address of at most 254 characters, without display text.
    Email
);

impl StudentId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_ID_CHARS {
            return Err(format!("must be 1 to {MAX_ID_CHARS} characters"));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err("may contain only letters A-Z, a-z, digits, '_' and '-'".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

fn parse_text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err("must not be empty".into());
    }
    if chars > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

impl StudentName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_text(raw, MAX_NAME_CHARS).map(Self)
    }
}

impl ClassName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_text(raw, MAX_CLASS_CHARS).map(Self)
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_EMAIL_CHARS {
            return Err(format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        // The address syntax admits any non-ASCII character (RFC 6531); control characters
        // (C0 and C1) have no place in an address a person types.
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let options = EmailOptions::default().with_required_tld().without_domain_literal().without_display_text();
        EmailAddress::parse_with_options(raw, options)
            .map(|_| Self(raw.to_owned()))
            .map_err(|e| format!("must be a valid email address ({e})"))
    }
}

/// A real calendar date `YYYY-MM-DD`, not before 1900 and not after today (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate(Date);

impl BirthDate {
    pub fn parse(raw: &str, today: Date) -> Result<Self, String> {
        let format = format_description!("[year]-[month]-[day]");
        let shape_ok = raw.len() == 10
            && raw.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !shape_ok {
            return Err("must be a date written YYYY-MM-DD".into());
        }
        let date = Date::parse(raw, format).map_err(|_| "is not a real calendar date".to_string())?;
        if date > today {
            return Err("must not be in the future".into());
        }
        if date < EARLIEST_BIRTHDATE {
            return Err("must not be before 1900-01-01".into());
        }
        Ok(Self(date))
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = (self.0.year(), u8::from(self.0.month()), self.0.day());
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// A student that passed every rule; the only way to get one is [`NewStudent::from_body`]
/// or [`NewStudent::from_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStudent {
    pub id: StudentId,
    pub name: StudentName,
    pub class: ClassName,
    pub birthdate: BirthDate,
    pub email: Email,
}

impl NewStudent {
    /// Parses a request body: the student object itself, or the envelope
    /// `{"body": "<student JSON as a string>"}` that existing clients send.
    pub fn from_body(body: &[u8], today: Date) -> Result<Self, RequestBodyError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(RequestBodyError::TooLarge);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(RequestBodyError::Empty);
        }
        let mut object = parse_object(body)?;
        if let [(key, Value::String(inner))] = object.as_slice()
            && key == "body"
        {
            if inner.len() > MAX_BODY_BYTES {
                return Err(RequestBodyError::TooLarge);
            }
            if inner.trim().is_empty() {
                return Err(RequestBodyError::Empty);
            }
            object = parse_object(inner.as_bytes())?;
        }
        Self::from_fields(object, today)
    }

    /// Checks every field and reports every problem at once, so a form can show them all.
    pub fn from_fields(fields: Vec<(String, Value)>, today: Date) -> Result<Self, RequestBodyError> {
        let mut errors = Vec::new();
        let mut values: [Option<String>; 5] = Default::default();
        for (key, value) in fields {
            match FIELDS.iter().position(|f| *f == key) {
                None => errors.push(FieldError::new(&key, "is not a known field")),
                Some(i) => match value {
                    Value::String(s) => values[i] = Some(s),
                    other => {
                        errors.push(FieldError::new(FIELDS[i], format!("must be a string, not {}", json_type(&other))))
                    }
                },
            }
        }
        let mut take = |i: usize| -> Option<String> {
            let value = values[i].take();
            if value.is_none() && !errors.iter().any(|e| e.field == FIELDS[i]) {
                errors.push(FieldError::new(FIELDS[i], "is required"));
            }
            value
        };
        let raw: [Option<String>; 5] = [take(0), take(1), take(2), take(3), take(4)];
        fn check<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, String>) -> Option<T> {
            result.map_err(|message| errors.push(FieldError::new(field, message))).ok()
        }
        let id = raw[0].as_deref().and_then(|s| check(&mut errors, "studentid", StudentId::parse(s)));
        let name = raw[1].as_deref().and_then(|s| check(&mut errors, "name", StudentName::parse(s)));
        let class = raw[2].as_deref().and_then(|s| check(&mut errors, "class", ClassName::parse(s)));
        let birthdate = raw[3].as_deref().and_then(|s| check(&mut errors, "birthdate", BirthDate::parse(s, today)));
        let email = raw[4].as_deref().and_then(|s| check(&mut errors, "email", Email::parse(s)));
        match (id, name, class, birthdate, email) {
            (Some(id), Some(name), Some(class), Some(birthdate), Some(email)) if errors.is_empty() => {
                Ok(Self { id, name, class, birthdate, email })
            }
            _ => {
                errors.sort_by_key(|e| FIELDS.iter().position(|f| *f == e.field).unwrap_or(FIELDS.len()));
                Err(RequestBodyError::Invalid(errors))
            }
        }
    }

    /// The student as stored and returned.
    pub fn to_student(&self) -> Student {
        Student {
            studentid: self.id.to_string(),
            name: self.name.to_string(),
            class: self.class.to_string(),
            birthdate: self.birthdate.to_string(),
            email: self.email.to_string(),
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a JSON object keeping its fields in order and refusing duplicate keys, which
/// `serde_json::Value` would otherwise resolve silently by keeping the last one.
fn parse_object(bytes: &[u8]) -> Result<Vec<(String, Value)>, RequestBodyError> {
    match serde_json::from_slice::<TopLevel>(bytes) {
        Ok(TopLevel::Object(fields)) => {
            let mut seen = std::collections::HashSet::new();
            for (key, _) in &fields {
                if !seen.insert(key.as_str()) {
                    return Err(RequestBodyError::DuplicateField(key.clone()));
                }
            }
            Ok(fields)
        }
        Ok(TopLevel::Other) => Err(RequestBodyError::NotAnObject),
        Err(e) => Err(RequestBodyError::NotJson(e.to_string())),
    }
}

enum TopLevel {
    Object(Vec<(String, Value)>),
    Other,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
                let mut fields = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    fields.push((key, value));
                }
                Ok(TopLevel::Object(fields))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(TopLevel::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_unit<E>(self) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
        }
        deserializer.deserialize_any(TopVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 29);

    fn valid() -> Value {
        json!({"studentid": "SV001", "name": "Nguyen Van A", "class": "12A1", "birthdate": "2008-05-17", "email": "a@example.com"})
    }

    fn with(field: &str, value: Value) -> Vec<u8> {
        let mut v = valid();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    }

    fn field_errors(body: &[u8]) -> Vec<FieldError> {
        match NewStudent::from_body(body, TODAY) {
            Err(RequestBodyError::Invalid(errors)) => errors,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    fn rejects(field: &str, value: Value) -> String {
        let errors = field_errors(&with(field, value));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, field);
        errors[0].message.clone()
    }

    fn accepts(field: &str, value: Value) -> Student {
        NewStudent::from_body(&with(field, value), TODAY).expect("valid").to_student()
    }

    #[test]
    fn a_valid_student_parses_and_round_trips() {
        let s = NewStudent::from_body(valid().to_string().as_bytes(), TODAY).unwrap().to_student();
        assert_eq!(serde_json::to_value(&s).unwrap(), valid());
    }

    #[test]
    fn the_envelope_existing_clients_send_is_accepted() {
        let body = json!({"body": valid().to_string()}).to_string();
        assert_eq!(NewStudent::from_body(body.as_bytes(), TODAY).unwrap().id.as_str(), "SV001");
    }

    #[test]
    fn studentid_rules() {
        accepts("studentid", json!("a"));
        accepts("studentid", json!("A-z_09"));
        accepts("studentid", json!("x".repeat(64)));
        assert!(rejects("studentid", json!("")).contains("1 to 64"));
        assert!(rejects("studentid", json!("x".repeat(65))).contains("1 to 64"));
        assert!(rejects("studentid", json!("SV 001")).contains("only letters"));
        assert!(rejects("studentid", json!("SV/001")).contains("only letters"));
        assert!(rejects("studentid", json!("ŠV001")).contains("only letters"));
    }

    #[test]
    fn name_rules() {
        assert_eq!(accepts("name", json!("  Trần Thị B  ")).name, "Trần Thị B");
        accepts("name", json!("é".repeat(200)));
        assert!(rejects("name", json!("   ")).contains("empty"));
        assert!(rejects("name", json!("é".repeat(201))).contains("at most 200"));
        assert!(rejects("name", json!("a\u{0007}b")).contains("control"));
        assert!(rejects("name", json!("a\nb")).contains("control"));
    }

    #[test]
    fn class_rules() {
        accepts("class", json!("x".repeat(50)));
        assert!(rejects("class", json!("")).contains("empty"));
        assert!(rejects("class", json!("x".repeat(51))).contains("at most 50"));
        assert!(rejects("class", json!("1\t2")).contains("control"));
    }

    #[test]
    fn birthdate_rules() {
        accepts("birthdate", json!("2026-11-29"));
        accepts("birthdate", json!("2024-02-29"));
        accepts("birthdate", json!("1900-01-01"));
        assert!(rejects("birthdate", json!("2026-11-30")).contains("future"));
        assert!(rejects("birthdate", json!("2023-02-29")).contains("real calendar date"));
        assert!(rejects("birthdate", json!("2008-13-01")).contains("real calendar date"));
        assert!(rejects("birthdate", json!("17/05/2008")).contains("YYYY-MM-DD"));
        assert!(rejects("birthdate", json!("2008-5-17")).contains("YYYY-MM-DD"));
        assert!(rejects("birthdate", json!("+008-05-17")).contains("YYYY-MM-DD"));
        assert!(rejects("birthdate", json!("1899-12-31")).contains("1900"));
    }

    #[test]
    fn email_rules() {
        accepts("email", json!("first.last+tag@school.example.org"));
        let local = "a".repeat(64);
        let long = format!("{local}@{}.example.com", ["b".repeat(60), "c".repeat(60), "d".repeat(50)].join("."));
        assert!(long.len() <= 254, "{}", long.len());
        accepts("email", json!(long));
        assert!(rejects("email", json!("not-an-email")).contains("valid email"));
        assert!(rejects("email", json!("a@localhost")).contains("valid email"));
        assert!(rejects("email", json!("A <a@example.com>")).contains("valid email"));
        assert!(rejects("email", json!("a\u{85}b@example.com")).contains("control"));
        assert!(rejects("email", json!(format!("{}@example.com", "a".repeat(250)))).contains("254"));
    }

    #[test]
    fn wrong_types_missing_and_unknown_fields_are_reported_together() {
        let body =
            json!({"studentid": 7, "name": null, "birthdate": "2008-05-17", "email": "a@example.com", "extra": 1});
        let errors = field_errors(body.to_string().as_bytes());
        let pairs: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(
            pairs,
            vec![
                ("studentid", "must be a string, not a number"),
                ("name", "must be a string, not null"),
                ("class", "is required"),
                ("extra", "is not a known field"),
            ]
        );
    }

    #[test]
    fn bodies_that_are_not_a_student_object() {
        let parse = |b: &[u8]| NewStudent::from_body(b, TODAY).unwrap_err();
        assert_eq!(parse(b""), RequestBodyError::Empty);
        assert_eq!(parse(b"  \n"), RequestBodyError::Empty);
        assert_eq!(parse(br#"{"body": ""}"#), RequestBodyError::Empty);
        assert!(matches!(parse(b"{not json"), RequestBodyError::NotJson(_)));
        assert!(matches!(parse(&[0xff, 0xfe, b'{']), RequestBodyError::NotJson(_)));
        assert_eq!(parse(b"[1,2]"), RequestBodyError::NotAnObject);
        assert_eq!(parse(b"\"SV001\""), RequestBodyError::NotAnObject);
        assert_eq!(parse(br#"{"body": "[]"}"#), RequestBodyError::NotAnObject);
        assert_eq!(parse(&vec![b' '; MAX_BODY_BYTES + 1]), RequestBodyError::TooLarge);
        let dup = br#"{"studentid":"a","studentid":"b","name":"n","class":"c","birthdate":"2008-01-01","email":"a@example.com"}"#;
        assert_eq!(parse(dup), RequestBodyError::DuplicateField("studentid".into()));
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        assert_eq!(parse(deep.as_bytes()), RequestBodyError::NotAnObject);
        let deep_field = format!("{{\"name\": {}{}}}", "[".repeat(5_000), "]".repeat(5_000));
        assert!(matches!(parse(deep_field.as_bytes()), RequestBodyError::NotJson(_)));
    }
}
