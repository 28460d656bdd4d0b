//! The real function binaries, run as Lambda runs them (through the Runtime API), configured
//! only by the standard environment.

use harness::events::proxy_event;
use harness::runtime::{FakeRuntime, Outcome};
use serde_json::{Value, json};

use crate::app::{RECIPIENT, SENDER, TestApp};

fn env(app: &TestApp, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = app.function_env();
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

/// Status, headers (single- and multi-value merged, as API Gateway does) and JSON body.
fn proxy_body(outcome: Outcome) -> (i64, Value, Value) {
    let Outcome::Response(response) = outcome else { panic!("function error: {outcome:?}") };
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    let mut headers = response["headers"].as_object().cloned().unwrap_or_default();
    for (name, values) in response["multiValueHeaders"].as_object().into_iter().flatten() {
        headers.entry(name.clone()).or_insert_with(|| values[0].clone());
    }
    (response["statusCode"].as_i64().unwrap(), Value::Object(headers), body)
}

#[tokio::test]
async fn insert_then_list_through_the_real_binaries() {
    let app = TestApp::start(true).await;
    let runtime = FakeRuntime::start().await;
    let origin = [("ALLOWED_ORIGIN", "http://127.0.0.1:5173"), ("SENDER_EMAIL", SENDER)];
    let _insert = runtime.spawn_function("insertStudentData", &env(&app, &origin));
    let body = json!({"studentid": "BIN-1", "name": "Binary", "class": "1A", "birthdate": "2010-01-01", "email": "bin@example.com"});
    let (status, headers, answer) =
        proxy_body(runtime.invoke(proxy_event("POST", "/students", &[], Some(&body.to_string()))).await);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["emailSent"], true);
    assert_eq!(headers["access-control-allow-origin"], "http://127.0.0.1:5173");
    assert_eq!(headers["vary"], "Origin");
    drop(_insert);

    let runtime = FakeRuntime::start().await;
    let _list = runtime.spawn_function("getStudentData", &env(&app, &[]));
    let (status, headers, answer) = proxy_body(runtime.invoke(proxy_event("GET", "/students", &[], None)).await);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(answer[0]["studentid"], "BIN-1");
}

#[tokio::test]
async fn the_insert_binary_mails_only_the_domains_in_student_email_domains() {
    let app = TestApp::start(true).await;
    let runtime = FakeRuntime::start().await;
    let domains = [("SENDER_EMAIL", SENDER), ("STUDENT_EMAIL_DOMAINS", "pupils.example.org,School.Example.com")];
    let _insert = runtime.spawn_function("insertStudentData", &env(&app, &domains));
    let post = |id: &str, email: &str| {
        let body = json!({"studentid": id, "name": "Ann", "class": "1A", "birthdate": "2010-01-01", "email": email});
        runtime.invoke(proxy_event("POST", "/students", &[], Some(&body.to_string())))
    };

    let (status, _, answer) = proxy_body(post("DOM-1", "ann@school.EXAMPLE.com").await);
    assert_eq!((status, &answer["emailSent"]), (201, &json!(true)), "{answer}");
    let (status, _, answer) = proxy_body(post("DOM-2", "ann@elsewhere.example.net").await);
    assert_eq!((status, &answer["emailSent"]), (201, &json!(false)), "{answer}");
    assert_eq!(
        answer["warning"],
        "confirmation email not sent: confirmations go only to addresses at pupils.example.org, school.example.com, \
         not elsewhere.example.net"
    );
    let (_, _, answer) = proxy_body(post("DOM-3", "ann@sub.pupils.example.org").await);
    assert_eq!(answer["emailSent"], false, "a subdomain is not the domain: {answer}");

    // All three stored; SES was asked for the one at a listed domain only.
    let ids = app.table_ids().await;
    assert_eq!(ids, ["DOM-1", "DOM-2", "DOM-3"]);
    let mails = app.mail.sent_emails().await;
    let to: Vec<_> = mails.iter().map(|m| m.to.clone()).collect();
    assert_eq!(to, [vec!["ann@school.EXAMPLE.com".to_owned()]]);
}

#[tokio::test]
async fn the_backup_binary_hands_off_runs_and_answers_http_and_schedules() {
    let app = TestApp::start(true).await;
    app.seed(&[crate::app::student(1)]).await;
    let runtime = FakeRuntime::start().await;
    let lambda = runtime.lambda_endpoint();
    let _backup = runtime.spawn_function(
        "BackupDynamoDBAndSendEmail",
        &env(
            &app,
            &[
                ("SENDER_EMAIL", SENDER),
                ("RECIPIENT_EMAIL", RECIPIENT),
                ("BACKUP_WAIT_SECONDS", "0"),
                ("AWS_ENDPOINT_URL_LAMBDA", &lambda),
            ],
        ),
    );
    // POST /backup answers at once and hands the backup to an asynchronous run of itself.
    let (status, headers, accepted) = proxy_body(runtime.invoke(proxy_event("POST", "/backup", &[], None)).await);
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["backupId"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("/prod/backups/{id}"));
    let handed = runtime.handed_off();
    assert_eq!(handed, [("BackupDynamoDBAndSendEmail".to_owned(), json!({"backupRun": {"backupId": id}}))]);

    // Lambda delivers that event to the function.
    let Outcome::Response(ran) = runtime.invoke(handed[0].1.clone()).await else { panic!("the run failed") };
    assert_eq!((ran["status"].as_str(), ran["count"].as_u64()), (Some("succeeded"), Some(1)), "{ran}");
    let (status, _, view) = proxy_body(runtime.invoke(proxy_event("GET", &format!("/backups/{id}"), &[], None)).await);
    assert_eq!(status, 200, "{view}");
    assert_eq!((view["status"].as_str(), view["count"].as_u64()), (Some("succeeded"), Some(1)), "{view}");
    assert!(view["downloadUrl"].as_str().unwrap().starts_with(&app.emulator.endpoint), "{view}");

    let schedule: Value =
        serde_json::from_str(include_str!("../../functions/BackupDynamoDBAndSendEmail/events/backup-scheduled.json"))
            .unwrap();
    let Outcome::Response(report) = runtime.invoke(schedule).await else { panic!("scheduled backup failed") };
    assert_eq!(report["count"], 1);
    assert_eq!(report["emailSent"], true);

    let Outcome::Error(error) = runtime.invoke(json!({"hello": "world"})).await else {
        panic!("an unknown event succeeded")
    };
    assert_eq!(error["errorType"], "UnrecognisedEvent");
}

#[tokio::test]
async fn a_missing_required_setting_stops_the_function_at_init_naming_it() {
    let runtime = FakeRuntime::start().await;
    for (bin, missing, env) in [
        ("insertStudentData", "SENDER_EMAIL", vec![]),
        ("BackupDynamoDBAndSendEmail", "RECIPIENT_EMAIL", vec![("SENDER_EMAIL", "a@example.com".to_string())]),
    ] {
        let mut command = runtime.function_command(bin, &env);
        command.stderr(std::process::Stdio::piped());
        let output = tokio::time::timeout(std::time::Duration::from_secs(30), command.output())
            .await
            .expect("exits at init")
            .unwrap();
        assert!(!output.status.success(), "{bin} started without {missing}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("cannot start: environment variable {missing} is required but not set")),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_5xx_within_the_timeouts() {
    let mut app = TestApp::start(true).await;
    app.emulator.stop().await;
    let runtime = FakeRuntime::start().await;
    let env = env(
        &app,
        &[("AWS_CONNECT_TIMEOUT_MS", "500"), ("AWS_ATTEMPT_TIMEOUT_MS", "1000"), ("AWS_OPERATION_TIMEOUT_MS", "3000")],
    );
    let _list = runtime.spawn_function("getStudentData", &env);
    let started = std::time::Instant::now();
    let (status, headers, answer) = proxy_body(runtime.invoke(proxy_event("GET", "/students", &[], None)).await);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer, json!({"message": "the database is unavailable, try again in a moment"}));
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn at_trace_the_function_logs_neither_the_event_nor_its_key() {
    let app = TestApp::start(true).await;
    let key = "key-that-must-not-be-logged-7Qm2Vx9Lp4";
    let mut event = proxy_event("GET", "/students", &[], None);
    event["headers"]["x-api-key"] = json!(key);
    event["multiValueHeaders"]["x-api-key"] = json!([key]);
    event["requestContext"]["identity"]["apiKey"] = json!(key);
    // Lambda's own level control in JSON, and RUST_LOG naming the runtime outright.
    let levels: [&[(&'static str, &str)]; 2] = [
        &[("AWS_LAMBDA_LOG_LEVEL", "TRACE"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")],
        &[("RUST_LOG", "trace,lambda_runtime=trace,lambda_runtime_api_client=trace,aws_smithy_runtime=trace")],
    ];
    for level in levels {
        let runtime = FakeRuntime::start().await;
        let mut command = runtime.function_command("getStudentData", &env(&app, level));
        command.stdout(std::process::Stdio::piped());
        let mut function = command.spawn().unwrap();
        // Read as it comes: a full pipe would stop the function.
        let mut stdout = function.stdout.take().unwrap();
        let reader = tokio::spawn(async move {
            let mut logged = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut logged).await.unwrap();
            String::from_utf8_lossy(&logged).into_owned()
        });
        let (status, _, _) = proxy_body(runtime.invoke(event.clone()).await);
        assert_eq!(status, 200);
        function.kill().await.unwrap();
        let logged = reader.await.unwrap();
        assert!(logged.contains("TRACE"), "{level:?}: nothing at TRACE was logged:\n{logged}");
        assert!(!logged.contains(key), "{level:?}: the key was logged:\n{logged}");
        assert!(!logged.contains("raw JSON event"), "{level:?}: the event was logged");
    }
}
