//! The rules for a new student's fields, by example: the shared table in
//! `system/cases/new-student.json`, which the web page's own checks (web/tests/validate.test.mjs)
//! must agree with too. Each case changes one field of a valid student and posts it through the
//! insert handler: an `ok` case is stored (201), any other is a 400 naming that field.

use lambda_http::request::from_str;
use serde_json::{Value, json};
use students::api::Responder;
use students::config::AllowedOrigin;
use students::handlers::InsertStudent;
use students::mail::RecordingMailer;
use students::store::MemoryStore;
use time::macros::datetime;

/// The `today` of the table: birth dates are judged against it.
const TODAY: &str = "2026-06-15";

fn cases() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../system/cases/new-student.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A case's value: a string, or `{"repeat", "times", "before", "after"}`.
fn expand(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        spec => {
            let part = |name: &str| spec[name].as_str().unwrap_or_default().to_owned();
            let times = spec["times"].as_u64().unwrap() as usize;
            format!("{}{}{}", part("before"), part("repeat").repeat(times), part("after"))
        }
    }
}

#[tokio::test]
async fn the_server_agrees_with_every_shared_case() {
    let table = cases();
    assert_eq!(table["today"], TODAY, "the table's today and this test's clock differ");
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/insertStudentData/events/insert-student.json"))
            .unwrap(),
    )
    .unwrap();
    let mut disagreements = Vec::new();
    for (n, case) in table["cases"].as_array().unwrap().iter().enumerate() {
        let field = case["field"].as_str().unwrap();
        let value = expand(&case["value"]);
        let mut student = table["valid"].clone();
        // A fresh id per case, unless the case is about the id.
        student["studentid"] = json!(format!("CASE{n}"));
        student[field] = json!(value);
        let mut e = event.clone();
        e["body"] = json!(student.to_string());
        let store = MemoryStore::default();
        let mailer = RecordingMailer::default();
        let handler = InsertStudent::new(&store, &mailer, Responder::new(AllowedOrigin::any()))
            .with_clock(|| datetime!(2026-06-15 12:00 UTC));
        let response = handler.handle(from_str(&e.to_string()).unwrap()).await;
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        let refused_field = body["errors"].as_array().is_some_and(|errors| errors.iter().any(|e| e["field"] == field));
        let agrees = match case["ok"].as_bool().unwrap() {
            true => response.status() == 201 && store.all().len() == 1,
            false => response.status() == 400 && refused_field && store.all().is_empty(),
        };
        if !agrees {
            disagreements.push(format!(
                "{field} = {value:?}: expected ok={}, got {} {body}",
                case["ok"],
                response.status()
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "the server disagrees with system/cases/new-student.json:\n{}",
        disagreements.join("\n")
    );
}
