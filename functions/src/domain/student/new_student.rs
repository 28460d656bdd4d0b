//! A new student: the fields as submitted, read by name, and the checked student they become.

use serde::Serialize;
use serde_json::Value;
use system::student::{BIRTHDATE, CLASS, EMAIL, NAME, STUDENTID};
use time::Date;

use super::{BirthDate, ClassName, Email, Student, StudentId, StudentName};

/// One problem with one field of a request, as returned in the `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Every problem with a submitted student: the known fields' in their order, then each unknown
/// field, so a form can show them all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid student: check {}", fields(.0))]
pub struct InvalidStudent(pub Vec<FieldError>);

fn fields(errors: &[FieldError]) -> String {
    errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>().join(", ")
}

/// A student as submitted, before any rule: each field's JSON value if it was given, and the
/// names of the fields a student does not have, in the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawStudent {
    pub studentid: Option<Value>,
    pub name: Option<Value>,
    pub class: Option<Value>,
    pub birthdate: Option<Value>,
    pub email: Option<Value>,
    pub unknown: Vec<String>,
}

/// Files each named value under its field. A repeated name keeps its last value (the request
/// body reader refuses repeats before they get here).
impl FromIterator<(String, Value)> for RawStudent {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(fields: I) -> Self {
        let mut raw = Self::default();
        for (field, value) in fields {
            let slot = match field.as_str() {
                STUDENTID => &mut raw.studentid,
                NAME => &mut raw.name,
                CLASS => &mut raw.class,
                BIRTHDATE => &mut raw.birthdate,
                EMAIL => &mut raw.email,
                _ => {
                    raw.unknown.push(field);
                    continue;
                }
            };
            *slot = Some(value);
        }
        raw
    }
}

/// A student that passed every rule; the only way to get one is [`NewStudent::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStudent {
    pub id: StudentId,
    pub name: StudentName,
    pub class: ClassName,
    pub birthdate: BirthDate,
    pub email: Email,
}

impl NewStudent {
    /// Checks every field and reports every problem at once.
    pub fn parse(raw: RawStudent, today: Date) -> Result<Self, InvalidStudent> {
        let RawStudent { studentid, name, class, birthdate, email, unknown } = raw;
        let mut errors = Vec::new();
        let id = check(&mut errors, STUDENTID, studentid, StudentId::parse);
        let name = check(&mut errors, NAME, name, StudentName::parse);
        let class = check(&mut errors, CLASS, class, ClassName::parse);
        let birthdate = check(&mut errors, BIRTHDATE, birthdate, |s| BirthDate::parse(s, today));
        let email = check(&mut errors, EMAIL, email, Email::parse);
        errors.extend(unknown.into_iter().map(|field| FieldError::new(field, "is not a known field")));
        match (id, name, class, birthdate, email) {
            (Some(id), Some(name), Some(class), Some(birthdate), Some(email)) if errors.is_empty() => {
                Ok(Self { id, name, class, birthdate, email })
            }
            _ => Err(InvalidStudent(errors)),
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

/// One field: present, a string, and passing `parse`; or one error saying which it is not.
fn check<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<Value>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let message = match value {
        None => "is required".to_owned(),
        Some(Value::String(s)) => match parse(&s) {
            Ok(parsed) => return Some(parsed),
            Err(message) => message,
        },
        Some(other) => format!("must be a string, not {}", json_type(&other)),
    };
    errors.push(FieldError::new(field, message));
    None
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use system::student::ATTRIBUTES;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 29);

    fn valid() -> Value {
        json!({"studentid": "SV001", "name": "Nguyen Van A", "class": "12A1", "birthdate": "2008-05-17", "email": "a@example.com"})
    }

    fn raw(object: Value) -> RawStudent {
        object.as_object().expect("a JSON object").clone().into_iter().collect()
    }

    fn with(field: &str, value: Value) -> RawStudent {
        let mut v = valid();
        v[field] = value;
        raw(v)
    }

    fn field_errors(raw: RawStudent) -> Vec<FieldError> {
        match NewStudent::parse(raw, TODAY) {
            Err(InvalidStudent(errors)) => errors,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    fn rejects(field: &str, value: Value) -> String {
        let errors = field_errors(with(field, value));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, field);
        errors[0].message.clone()
    }

    fn accepts(field: &str, value: Value) -> Student {
        NewStudent::parse(with(field, value), TODAY).expect("valid").to_student()
    }

    #[test]
    fn a_valid_student_parses_and_round_trips() {
        let s = NewStudent::parse(raw(valid()), TODAY).unwrap().to_student();
        assert_eq!(serde_json::to_value(&s).unwrap(), valid());
    }

    #[test]
    fn every_attribute_is_read_by_its_name() {
        let raw: RawStudent = ATTRIBUTES.iter().map(|a| (a.to_string(), json!(a))).collect();
        let RawStudent { studentid, name, class, birthdate, email, unknown } = raw;
        assert_eq!([studentid, name, class, birthdate, email], ATTRIBUTES.map(|a| Some(json!(a))));
        assert!(unknown.is_empty(), "{unknown:?}");
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
        let errors = field_errors(raw(body));
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
}
