//! A student as stored in the table, returned by the API and written into backups, and its
//! mapping to a DynamoDB item. The mapping is generic over the attribute value type, so this
//! crate needs no AWS SDK: callers pass `AttributeValue::S` and a reader for their values.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The attributes by name, for code that reads a student field by field.
pub const STUDENTID: &str = "studentid";
pub const NAME: &str = "name";
pub const CLASS: &str = "class";
pub const BIRTHDATE: &str = "birthdate";
pub const EMAIL: &str = "email";
/// The table's partition key.
pub const KEY: &str = STUDENTID;
/// Every attribute of a student, in the order the API and the page show them.
pub const ATTRIBUTES: [&str; 5] = [STUDENTID, NAME, CLASS, BIRTHDATE, EMAIL];

/// Five strings. Values read back from the table are shown as they are stored; only new
/// students are validated (by the functions' domain).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Student {
    pub studentid: String,
    pub name: String,
    pub class: String,
    pub birthdate: String,
    pub email: String,
}

impl Student {
    /// The item, each attribute made a value by `value` (with the SDK: `AttributeValue::S`).
    pub fn into_item<V>(self, value: impl Fn(String) -> V) -> HashMap<String, V> {
        let Self { studentid, name, class, birthdate, email } = self;
        ATTRIBUTES
            .into_iter()
            .zip([studentid, name, class, birthdate, email])
            .map(|(k, v)| (k.to_owned(), value(v)))
            .collect()
    }

    /// Reads an item: `text(attribute, value)` turns each present value into a string (and
    /// decides what an unexpected kind of value becomes); absent attributes are empty.
    pub fn from_item<V>(mut item: HashMap<String, V>, mut text: impl FnMut(&'static str, V) -> String) -> Self {
        let mut take = |attribute: &'static str| item.remove(attribute).map(|v| text(attribute, v)).unwrap_or_default();
        Self {
            studentid: take(STUDENTID),
            name: take(NAME),
            class: take(CLASS),
            birthdate: take(BIRTHDATE),
            email: take(EMAIL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn student() -> Student {
        Student {
            studentid: "SV001".into(),
            name: "Nguyen Van A".into(),
            class: "12A1".into(),
            birthdate: "2008-05-17".into(),
            email: "a@example.com".into(),
        }
    }

    #[test]
    fn items_round_trip_and_name_every_attribute() {
        let item = student().into_item(|v| v);
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        let mut declared = ATTRIBUTES.to_vec();
        declared.sort();
        assert_eq!(names, declared);
        assert_eq!(item[KEY], "SV001");
        assert_eq!(Student::from_item(item, |_, v| v), student());
    }

    #[test]
    fn absent_attributes_read_as_empty_and_the_reader_sees_each_name() {
        let item = HashMap::from([("studentid".to_owned(), 7), ("class".to_owned(), 12)]);
        let mut seen = Vec::new();
        let s = Student::from_item(item, |name, v: i32| {
            seen.push(name);
            v.to_string()
        });
        assert_eq!((s.studentid.as_str(), s.class.as_str(), s.name.as_str()), ("7", "12", ""));
        assert_eq!(seen, ["studentid", "class"]);
    }

    #[test]
    fn the_json_shape_is_the_api_shape() {
        let json = serde_json::to_value(student()).unwrap();
        let mut fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort();
        let mut declared = ATTRIBUTES.to_vec();
        declared.sort();
        assert_eq!(fields, declared);
    }
}
