//! The insert request's body as transported: at most [`MAX_BODY_BYTES`], one JSON object with
//! no repeated field, sent bare or inside the envelope `{"body": "<student JSON as a string>"}`
//! that existing clients send. What the fields must hold is the domain's business.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::domain::RawStudent;

/// The largest request body the insert function reads (a student is well under 2 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a request body holds no student object to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
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
}

/// Reads the student object out of a request body, bare or in its envelope.
pub fn read_student(body: &[u8]) -> Result<RawStudent, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let mut object = parse_object(body)?;
    if let [(key, Value::String(inner))] = object.as_slice()
        && key == "body"
    {
        if inner.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        if inner.trim().is_empty() {
            return Err(BodyError::Empty);
        }
        object = parse_object(inner.as_bytes())?;
    }
    Ok(object.into_iter().collect())
}

/// Parses a JSON object keeping its fields in order and refusing duplicate keys, which
/// `serde_json::Value` would otherwise resolve silently by keeping the last one.
fn parse_object(bytes: &[u8]) -> Result<Vec<(String, Value)>, BodyError> {
    match serde_json::from_slice::<TopLevel>(bytes) {
        Ok(TopLevel::Object(fields)) => {
            let mut seen = HashSet::new();
            for (key, _) in &fields {
                if !seen.insert(key.as_str()) {
                    return Err(BodyError::DuplicateField(key.clone()));
                }
            }
            Ok(fields)
        }
        Ok(TopLevel::Other) => Err(BodyError::NotAnObject),
        Err(e) => Err(BodyError::NotJson(e.to_string())),
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

    use crate::domain::NewStudent;

    fn valid() -> Value {
        json!({"studentid": "SV001", "name": "Nguyen Van A", "class": "12A1", "birthdate": "2008-05-17", "email": "a@example.com"})
    }

    #[test]
    fn the_envelope_existing_clients_send_is_accepted() {
        let body = json!({"body": valid().to_string()}).to_string();
        let student = NewStudent::parse(read_student(body.as_bytes()).unwrap(), date!(2026 - 11 - 29)).unwrap();
        assert_eq!(student.id.as_str(), "SV001");
    }

    #[test]
    fn fields_keep_their_order_and_unknown_ones_their_names() {
        let raw = read_student(br#"{"zeta": 1, "email": "a@example.com", "alpha": 2}"#).unwrap();
        assert_eq!(raw.email, Some(json!("a@example.com")));
        assert_eq!(raw.unknown, ["zeta", "alpha"]);
    }

    #[test]
    fn bodies_that_are_not_a_student_object() {
        let parse = |b: &[u8]| read_student(b).unwrap_err();
        assert_eq!(parse(b""), BodyError::Empty);
        assert_eq!(parse(b"  \n"), BodyError::Empty);
        assert_eq!(parse(br#"{"body": ""}"#), BodyError::Empty);
        assert!(matches!(parse(b"{not json"), BodyError::NotJson(_)));
        assert!(matches!(parse(&[0xff, 0xfe, b'{']), BodyError::NotJson(_)));
        assert_eq!(parse(b"[1,2]"), BodyError::NotAnObject);
        assert_eq!(parse(b"\"SV001\""), BodyError::NotAnObject);
        assert_eq!(parse(br#"{"body": "[]"}"#), BodyError::NotAnObject);
        assert_eq!(parse(&vec![b' '; MAX_BODY_BYTES + 1]), BodyError::TooLarge);
        let dup = br#"{"studentid":"a","studentid":"b","name":"n","class":"c","birthdate":"2008-01-01","email":"a@example.com"}"#;
        assert_eq!(parse(dup), BodyError::DuplicateField("studentid".into()));
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        assert_eq!(parse(deep.as_bytes()), BodyError::NotAnObject);
        let deep_field = format!("{{\"name\": {}{}}}", "[".repeat(5_000), "]".repeat(5_000));
        assert!(matches!(parse(deep_field.as_bytes()), BodyError::NotJson(_)));
    }
}
