//! POST /students against the emulator.

use harness::events;
use serde_json::{Value, json};

use crate::app::{SENDER, TestApp, json};

fn body(overrides: Value) -> String {
    let mut student = json!({"studentid": "SV001", "name": "Nguyen Van A", "class": "12A1",
                             "birthdate": "2008-05-17", "email": "nguyen.van.a@example.com"});
    for (k, v) in overrides.as_object().unwrap() {
        student[k] = v.clone();
    }
    student.to_string()
}

#[tokio::test]
async fn a_student_is_stored_and_confirmed_with_escaped_html() {
    let app = TestApp::start(true).await;
    let name = "<script>alert('x')</script> Ann & Bob";
    let response = app.insert().handle(events::post("/students", &body(json!({"name": name})))).await;
    assert_eq!(response.status(), 201, "{}", json(&response));
    assert_eq!(json(&response)["emailSent"], true);
    assert_eq!(json(&response)["name"], name);
    assert_eq!(app.table_ids().await, ["SV001"]);

    let mails = app.mail.sent_emails().await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.source, SENDER);
    assert_eq!(mail.to, ["nguyen.van.a@example.com"]);
    assert_eq!(mail.subject, "Your student record was created");
    assert!(!mail.body.contains("<script>"), "{}", mail.body);
    assert!(
        mail.body.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; Ann &#38; Bob")
            || mail.body.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Ann &amp; Bob"),
        "{}",
        mail.body
    );
    assert!(!mail.body.contains("12A1") && !mail.body.contains("SV001"), "only the name: {}", mail.body);
}

#[tokio::test]
async fn the_envelope_is_stored_too() {
    let app = TestApp::start(true).await;
    let envelope = json!({"body": body(json!({"studentid": "ENV-1"}))}).to_string();
    let response = app.insert().handle(events::post("/students", &envelope)).await;
    assert_eq!(response.status(), 201, "{}", json(&response));
    assert_eq!(app.table_ids().await, ["ENV-1"]);
}

#[tokio::test]
async fn twenty_concurrent_inserts_of_one_id_give_one_success() {
    let app = TestApp::start(true).await;
    let handler = app.insert();
    let attempts = (0..20).map(|i| {
        let request = events::post("/students", &body(json!({"name": format!("Attempt {i}")})));
        handler.handle(request)
    });
    let responses = futures::future::join_all(attempts).await;
    let created: Vec<_> = responses.iter().filter(|r| r.status() == 201).collect();
    let conflicts: Vec<_> = responses.iter().filter(|r| r.status() == 409).collect();
    assert_eq!((created.len(), conflicts.len()), (1, 19));
    assert_eq!(json(conflicts[0]), json!({"message": "student SV001 already exists"}));
    // The stored name is the winner's, and only one confirmation went out.
    let winner = json(created[0])["name"].as_str().unwrap().to_owned();
    let item = app
        .dynamodb
        .get_item()
        .table_name(&app.table)
        .key("studentid", aws_sdk_dynamodb::types::AttributeValue::S("SV001".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(item.item().unwrap()["name"].as_s().unwrap(), &winner);
    assert_eq!(app.mail.sent_emails().await.len(), 1);
}

#[tokio::test]
async fn an_unverified_sender_still_stores_the_student() {
    let app = TestApp::start(false).await;
    let response = app.insert().handle(events::post("/students", &body(json!({})))).await;
    assert_eq!(response.status(), 201);
    let answer = json(&response);
    assert_eq!(answer["emailSent"], false);
    assert!(answer["warning"].as_str().unwrap().starts_with("confirmation email not sent"), "{answer}");
    assert_eq!(app.table_ids().await, ["SV001"]);
    assert!(app.mail.sent_emails().await.is_empty());
}

#[tokio::test]
async fn every_rule_rejects_and_accepts_and_rejections_write_nothing() {
    let app = TestApp::start(true).await;
    let handler = app.insert();
    let long_name = "n".repeat(201);
    let rejected: Vec<(Value, &str)> = vec![
        (json!({"studentid": ""}), "studentid"),
        (json!({"studentid": "x".repeat(65)}), "studentid"),
        (json!({"studentid": "bad id!"}), "studentid"),
        (json!({"name": "   "}), "name"),
        (json!({"name": long_name}), "name"),
        (json!({"name": "bell\u{7}"}), "name"),
        (json!({"class": ""}), "class"),
        (json!({"class": "c".repeat(51)}), "class"),
        (json!({"birthdate": "2008-02-30"}), "birthdate"),
        (json!({"birthdate": "17/05/2008"}), "birthdate"),
        (json!({"birthdate": "2999-01-01"}), "birthdate"),
        (json!({"email": "no-at-sign"}), "email"),
        (json!({"email": format!("{}@example.com", "a".repeat(250))}), "email"),
        (json!({"studentid": 42}), "studentid"),
        (json!({"nickname": "extra"}), "nickname"),
    ];
    for (overrides, field) in &rejected {
        let response = handler.handle(events::post("/students", &body(overrides.clone()))).await;
        assert_eq!(response.status(), 400, "{overrides}");
        let answer = json(&response);
        assert!(answer["message"].is_string());
        assert_eq!(answer["errors"][0]["field"], *field, "{overrides}: {answer}");
    }
    for (raw, status) in [("", 400), ("not json", 400), ("[]", 400), (&"x".repeat(17 * 1024) as &str, 413)] {
        let response = handler.handle(events::post("/students", raw)).await;
        assert_eq!(response.status(), status, "{raw:.20}");
        assert!(json(&response)["message"].is_string());
    }
    assert!(app.table_ids().await.is_empty(), "a rejected request wrote something");
    assert!(app.mail.sent_emails().await.is_empty());

    let accepted = [
        json!({"studentid": "a"}),
        json!({"studentid": "x".repeat(64)}),
        json!({"studentid": "A-b_9", "name": "  Đặng Thị Ánh  "}),
        json!({"studentid": "long-name", "name": "n".repeat(200), "class": "c".repeat(50)}),
        json!({"studentid": "leap", "birthdate": "2004-02-29"}),
        json!({"studentid": "plus-mail", "email": "first.last+tag@mail.example.org"}),
    ];
    for overrides in &accepted {
        let response = handler.handle(events::post("/students", &body(overrides.clone()))).await;
        assert_eq!(response.status(), 201, "{overrides}: {}", json(&response));
    }
    assert_eq!(app.table_ids().await.len(), accepted.len());
    // Names are stored trimmed.
    let item = app
        .dynamodb
        .get_item()
        .table_name(&app.table)
        .key("studentid", aws_sdk_dynamodb::types::AttributeValue::S("A-b_9".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(item.item().unwrap()["name"].as_s().unwrap(), "Đặng Thị Ánh");
}
