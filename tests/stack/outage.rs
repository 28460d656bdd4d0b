//! The emulator stops answering while the gateway serves: 5xx answers within the functions'
//! timeouts, no crash; when it answers again, so does everything else.

use std::time::{Duration, Instant};

use crate::app::TestApp;

use crate::app::within;

#[tokio::test]
async fn a_frozen_emulator_gives_5xx_and_the_stack_recovers() {
    let app = TestApp::start(&[
        ("AWS_CONNECT_TIMEOUT_MS", "300"),
        ("AWS_ATTEMPT_TIMEOUT_MS", "500"),
        ("AWS_OPERATION_TIMEOUT_MS", "2000"),
    ])
    .await;
    let key = app.api_key.clone();
    assert_eq!(app.call("GET", "/students", Some(&key), None).await.status, 200);
    let moto: i32 = std::fs::read_to_string(app.dir.join("moto.pid")).unwrap().trim().parse().unwrap();

    // Frozen: connections are accepted by the kernel and never answered.
    harness::stack::signal(-moto, libc::SIGSTOP);
    let start = Instant::now();
    let answer = app.call("GET", "/students", Some(&key), None).await;
    let took = start.elapsed();
    harness::stack::signal(-moto, libc::SIGCONT);
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body["message"], "the database is unavailable, try again in a moment");
    assert_eq!(answer.header("access-control-allow-origin"), "*");
    assert!(took < Duration::from_secs(10), "answered in {took:?}");
    // The gateway kept serving from its last view of the control plane.
    let health = app.http.get(format!("{}/_gateway/health", app.gateway_url)).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // Answering again: so is the API.
    within(Duration::from_secs(10), "the app recovers", || async {
        app.call("GET", "/students", Some(&key), None).await.status == 200
    })
    .await;
    let inserted = app
        .call(
        "POST",
        "/students",
        Some(&key),
        Some(r#"{"studentid":"AFTER-1","name":"After","class":"1A","birthdate":"2010-01-01","email":"after@example.com"}"#),
    )
    .await;
    assert_eq!(inserted.status, 201, "{}", inserted.body);
}
