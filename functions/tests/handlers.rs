//! The handlers driven by the API Gateway REST (v1) proxy events kept beside each function,
//! over the in-memory store and a recording mailer.

use lambda_http::{Body, Request, Response, request::from_str};
use serde_json::{Value, json};
use students::api::Responder;
use students::config::AllowedOrigin;
use students::domain::Student;
use students::handlers::{InsertStudent, ListStudents};
use students::mail::RecordingMailer;
use students::store::MemoryStore;
use time::macros::datetime;

fn event(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn request(event: &Value) -> Request {
    from_str(&event.to_string()).expect("a REST v1 proxy event")
}

fn with_body(mut e: Value, body: &str) -> Request {
    e["body"] = json!(body);
    request(&e)
}

fn json_body(r: &Response<Body>) -> Value {
    serde_json::from_slice(r.body().as_ref()).expect("JSON body")
}

fn student(n: usize) -> Student {
    Student {
        studentid: format!("SV{n:04}"),
        name: format!("Student {n}"),
        class: "12A1".into(),
        birthdate: "2008-05-17".into(),
        email: format!("s{n}@example.com"),
    }
}

fn list(store: MemoryStore) -> ListStudents<MemoryStore> {
    ListStudents::new(store, Responder::new(AllowedOrigin::any()))
}

type Insert = InsertStudent<&'static MemoryStore, &'static RecordingMailer>;

/// An insert handler over fresh ports that the test can look into afterwards.
fn insert(origin: AllowedOrigin, mailer_fails: bool) -> (Insert, &'static MemoryStore, &'static RecordingMailer) {
    // The handler borrows its ports for the whole test; leaking two tiny values keeps it simple.
    let store: &'static MemoryStore = Box::leak(Box::default());
    let mailer: &'static RecordingMailer =
        Box::leak(Box::new(RecordingMailer { fail: mailer_fails, ..Default::default() }));
    let app = InsertStudent::new(store, mailer, Responder::new(origin)).with_clock(|| datetime!(2026-11-29 12:00 UTC));
    (app, store, mailer)
}

#[tokio::test]
async fn get_returns_a_bare_array_with_cors() {
    let r = list(MemoryStore::with([student(1), student(2)]))
        .handle(request(&event("getStudentData/events/get-students.json")))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(json_body(&r), json!([student(1), student(2)]));
    assert!(r.headers().get("x-next-cursor").is_none());
}

#[tokio::test]
async fn following_the_cursor_yields_every_student_once() {
    let app = list(MemoryStore::with((0..7).map(student)));
    let mut e = event("getStudentData/events/get-students-page.json");
    let mut seen = Vec::new();
    for _ in 0..10 {
        let r = app.handle(request(&e)).await;
        assert_eq!(r.status(), 200);
        seen.extend(serde_json::from_value::<Vec<Student>>(json_body(&r)).unwrap());
        let Some(cursor) = r.headers().get("x-next-cursor") else { break };
        let cursor = cursor.to_str().unwrap().to_owned();
        let link = r.headers()["link"].to_str().unwrap();
        assert_eq!(link, format!("</prod/students?limit=2&cursor={cursor}>; rel=\"next\""));
        e["queryStringParameters"] = json!({"limit": "2", "cursor": cursor});
        e["multiValueQueryStringParameters"] = json!({"limit": ["2"], "cursor": [cursor]});
    }
    assert_eq!(seen, (0..7).map(student).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_bad_cursor_or_limit_is_a_400_naming_it() {
    let app = list(MemoryStore::with([student(1)]));
    let r = app.handle(request(&event("getStudentData/events/get-students-bad-cursor.json"))).await;
    assert_eq!(r.status(), 400);
    assert!(json_body(&r)["message"].as_str().unwrap().starts_with("cursor is not valid"));
    let mut e = event("getStudentData/events/get-students.json");
    e["queryStringParameters"] = json!({"limit": "0"});
    e["multiValueQueryStringParameters"] = json!({"limit": ["0"]});
    let r = app.handle(request(&e)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_body(&r)["message"], "limit must be a whole number from 1 to 1000");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn insert_stores_and_confirms() {
    let (app, store, mailer) = insert(AllowedOrigin::parse("https://students.example.com").unwrap(), false);
    let r = app.handle(request(&event("insertStudentData/events/insert-student.json"))).await;
    assert_eq!(r.status(), 201, "{}", json_body(&r));
    assert_eq!(
        json_body(&r),
        json!({"studentid": "SV001", "name": "Nguyen Van A", "class": "12A1", "birthdate": "2008-05-17",
               "email": "nguyen.van.a@example.com", "emailSent": true})
    );
    assert_eq!(r.headers()["access-control-allow-origin"], "https://students.example.com");
    assert_eq!(r.headers()["vary"], "Origin");
    // The same student again is a conflict.
    let r = app.handle(request(&event("insertStudentData/events/insert-student.json"))).await;
    assert_eq!(r.status(), 409);
    assert_eq!(json_body(&r), json!({"message": "student SV001 already exists"}));
    assert_eq!(store.all().len(), 1);
    let sent = mailer.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "nguyen.van.a@example.com");
}

#[tokio::test]
async fn insert_accepts_the_envelope() {
    let (app, _, _) = insert(AllowedOrigin::any(), false);
    let r = app.handle(request(&event("insertStudentData/events/insert-student-envelope.json"))).await;
    assert_eq!(r.status(), 201);
    assert_eq!(json_body(&r)["studentid"], "SV002");
}

#[tokio::test]
async fn invalid_input_lists_every_field_and_stores_nothing() {
    let (app, store, mailer) = insert(AllowedOrigin::any(), false);
    let r = app.handle(request(&event("insertStudentData/events/insert-student-invalid.json"))).await;
    assert_eq!(r.status(), 400);
    let body = json_body(&r);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["studentid", "name", "birthdate", "email", "age"]);
    assert!(body["message"].as_str().unwrap().starts_with("invalid student"));

    let base = event("insertStudentData/events/insert-student.json");
    for (body, status, message) in [
        ("", 400, "request body is empty"),
        ("{oops", 400, "request body is not valid JSON"),
        ("[]", 400, "request body must be a JSON object"),
        (&" ".repeat(16 * 1024 + 1), 413, "request body is larger than 16384 bytes"),
    ] {
        let r = app.handle(with_body(base.clone(), body)).await;
        assert_eq!(r.status(), status, "{body:.20}");
        assert!(json_body(&r)["message"].as_str().unwrap().starts_with(message), "{}", json_body(&r));
    }
    let mut form = base.clone();
    form["headers"]["Content-Type"] = json!("application/x-www-form-urlencoded");
    form["multiValueHeaders"]["Content-Type"] = json!(["application/x-www-form-urlencoded"]);
    let r = app.handle(request(&form)).await;
    assert_eq!(r.status(), 415);
    assert!(store.all().is_empty());
    assert!(mailer.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_email_is_a_warning_not_a_failure() {
    let (app, store, _) = insert(AllowedOrigin::any(), true);
    let r = app.handle(request(&event("insertStudentData/events/insert-student.json"))).await;
    assert_eq!(r.status(), 201);
    let body = json_body(&r);
    assert_eq!(body["emailSent"], false);
    assert!(body["warning"].as_str().unwrap().contains("sender address verified"), "{body}");
    assert_eq!(store.all().len(), 1);
}

#[tokio::test]
async fn wrong_methods_are_refused() {
    let mut e = event("getStudentData/events/get-students.json");
    e["httpMethod"] = json!("DELETE");
    let r = list(MemoryStore::default()).handle(request(&e)).await;
    assert_eq!(r.status(), 405);
}

/// An insert handler that mails only the listed domains, and the answer to one student.
async fn insert_to(domains: &str, email: &str) -> (Value, &'static MemoryStore, &'static RecordingMailer) {
    let (app, store, mailer) = insert(AllowedOrigin::any(), false);
    let app = app.with_mail_domains(system::mail::StudentEmailDomains::parse(domains).unwrap());
    let mut e = event("insertStudentData/events/insert-student.json");
    let mut student: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    student["email"] = json!(email);
    e["body"] = json!(student.to_string());
    let r = app.handle(request(&e)).await;
    assert_eq!(r.status(), 201, "{}", json_body(&r));
    (json_body(&r), store, mailer)
}

#[tokio::test]
async fn a_student_outside_the_listed_domains_is_stored_without_a_confirmation() {
    let (body, store, mailer) = insert_to("school.example.com,pupils.example.org", "ann@gmail.example").await;
    assert_eq!(body["emailSent"], false, "{body}");
    assert_eq!(
        body["warning"],
        "confirmation email not sent: confirmations go only to addresses at school.example.com, pupils.example.org, \
         not gmail.example"
    );
    assert_eq!(body["email"], "ann@gmail.example");
    assert_eq!(store.all().len(), 1, "stored all the same");
    assert!(mailer.sent.lock().unwrap().is_empty(), "nothing was mailed");

    // Exact domains: neither a subdomain nor the parent of a listed one.
    for elsewhere in ["ann@class.school.example.com", "ann@example.com", "ann@school.example.com.evil.example"] {
        let (body, _, mailer) = insert_to("school.example.com", elsewhere).await;
        assert_eq!(body["emailSent"], false, "{elsewhere}: {body}");
        assert!(mailer.sent.lock().unwrap().is_empty(), "{elsewhere}");
    }
}

#[tokio::test]
async fn a_student_at_a_listed_domain_is_confirmed_whatever_the_case() {
    for address in ["ann@school.example.com", "Ann@SCHOOL.Example.Com", "ann@pupils.example.org"] {
        let (body, _, mailer) = insert_to("school.example.com,Pupils.Example.org", address).await;
        assert_eq!(body["emailSent"], true, "{address}: {body}");
        assert!(body.get("warning").is_none(), "{body}");
        let sent = mailer.sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, address);
        assert_eq!(sent[0].subject, "Your student record was created");
    }
    // No list: any domain.
    let (body, _, mailer) = insert_to("", "ann@anywhere.example").await;
    assert_eq!(body["emailSent"], true, "{body}");
    assert_eq!(mailer.sent.lock().unwrap().len(), 1);
}
