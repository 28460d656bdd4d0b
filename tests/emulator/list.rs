//! GET /students against the emulator.

use harness::events;
use students::domain::Student;

use crate::app::{TestApp, big_student, json};

/// Follows `X-Next-Cursor` (bounded) and returns every student seen, in order.
async fn read_all(app: &TestApp, limit: &str) -> (Vec<Student>, usize) {
    let handler = app.list();
    let (mut all, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut query = vec![("limit", limit)];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let response = handler.handle(events::get("/students", &query)).await;
        assert_eq!(response.status(), 200, "{}", json(&response));
        let page: Vec<Student> = serde_json::from_value(json(&response)).unwrap();
        assert!(page.len() <= limit.parse().unwrap());
        all.extend(page);
        pages += 1;
        assert!(pages < 1000, "pagination does not end");
        match response.headers().get("x-next-cursor") {
            Some(next) => {
                let next = next.to_str().unwrap().to_owned();
                let link = response.headers()["link"].to_str().unwrap();
                assert!(
                    link.starts_with("</prod/students?limit=")
                        && link.contains(&next)
                        && link.ends_with("; rel=\"next\""),
                    "{link}"
                );
                cursor = Some(next);
            }
            None => break,
        }
    }
    (all, pages)
}

#[tokio::test]
async fn three_thousand_large_students_are_each_listed_exactly_once() {
    let app = TestApp::start(true).await;
    let students: Vec<Student> = (0..3000).map(big_student).collect();
    app.seed(&students).await;

    let (seen, pages) = read_all(&app, "1000").await;
    // 6 MB of items: DynamoDB's 1 MB page limit splits each 1,000-item request.
    assert!(pages >= 6, "only {pages} pages");
    let mut ids: Vec<&str> = seen.iter().map(|s| s.studentid.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "a student was listed twice");
    assert_eq!(ids.len(), 3000);
    let mut expected = students.clone();
    expected.sort_by(|a, b| a.studentid.cmp(&b.studentid));
    let mut got = seen;
    got.sort_by(|a, b| a.studentid.cmp(&b.studentid));
    assert_eq!(got, expected);
}

#[tokio::test]
async fn small_pages_and_the_default_limit() {
    let app = TestApp::start(true).await;
    app.seed(&(0..250).map(crate::app::student).collect::<Vec<_>>()).await;
    let (seen, pages) = read_all(&app, "7").await;
    assert_eq!(seen.len(), 250);
    assert!(pages >= 36);
    let response = app.list().handle(events::get("/students", &[])).await;
    assert_eq!(json(&response).as_array().unwrap().len(), 100, "default page size");
    assert!(response.headers().contains_key("x-next-cursor"));
}

#[tokio::test]
async fn an_empty_table_is_an_empty_array() {
    let app = TestApp::start(true).await;
    let response = app.list().handle(events::get("/students", &[])).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(&response), serde_json::json!([]));
    assert!(!response.headers().contains_key("x-next-cursor"));
}

#[tokio::test]
async fn bad_cursors_and_limits_are_400s() {
    let app = TestApp::start(true).await;
    app.seed(&[crate::app::student(1)]).await;
    let handler = app.list();
    for query in [
        vec![("cursor", "garbage")],
        vec![("cursor", "AQ")],
        vec![("limit", "abc")],
        vec![("limit", "1001")],
        vec![("limit", "-3")],
    ] {
        let response = handler.handle(events::get("/students", &query)).await;
        assert_eq!(response.status(), 400, "{query:?}");
        assert!(json(&response)["message"].is_string());
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
    }
}
