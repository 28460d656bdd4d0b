//! What API Gateway does with a request, copied: routes, keys, CORS, the proxy event, errors.

use std::time::Duration;

use crate::app::TestApp;
use serde_json::json;

use crate::app::within;

#[tokio::test]
async fn the_whole_flow_through_the_gateway() {
    let app = TestApp::start(&[]).await;
    let key = app.api_key.clone();
    let student = json!({"studentid": "E2E-1", "name": "<b>Flow</b> Student", "class": "12A1", "birthdate": "2008-01-02", "email": "flow@example.com"});
    let inserted = app.call("POST", "/students", Some(&key), Some(&student.to_string())).await;
    assert_eq!(inserted.status, 201, "{}", inserted.body);
    assert_eq!(inserted.body["emailSent"], true);
    let listed = app.call("GET", "/students", Some(&key), None).await;
    assert_eq!(listed.status, 200);
    assert!(listed.body.as_array().unwrap().iter().any(|s| s["studentid"] == "E2E-1"));
    let duplicate = app.call("POST", "/students", Some(&key), Some(&student.to_string())).await;
    assert_eq!((duplicate.status, duplicate.body.clone()), (409, json!({"message": "student E2E-1 already exists"})));

    let backup = app.call("POST", "/backup", Some(&key), None).await;
    assert_eq!(backup.status, 200, "{}", backup.body);
    assert_eq!(backup.body["count"], 1);
    // The object, read back from the emulator.
    let s3 = aws_sdk_s3::Client::new(&app.sdk().await);
    let object = s3
        .get_object()
        .bucket(backup.body["bucket"].as_str().unwrap())
        .key(backup.body["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let students: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(students[0]["studentid"], "E2E-1");
    // The emails, read back from the mail emulator.
    let mails = app.mail().sent_emails().await;
    assert!(
        mails
            .iter()
            .any(|m| m.to == ["flow@example.com"] && m.body.contains("&#60;b&#62;Flow")
                || m.body.contains("&lt;b&gt;Flow")),
        "{mails:?}"
    );
    assert!(
        mails.iter().any(|m| m.subject == "Student backup: 1 students" && m.body.contains("X-Amz-Expires")),
        "{mails:?}"
    );
}

/// `scripts/dev --student-email-domains`: infra sets the variable, the stack's functions get it
/// (through the outputs), and a student elsewhere is stored without a confirmation.
#[tokio::test]
async fn confirmations_go_only_to_the_listed_domains() {
    let app = TestApp::start_with(&["--student-email-domains", "School.example.com"], &[]).await;
    let environment = &app.outputs().functions["insertStudentData"].environment;
    assert_eq!(environment["STUDENT_EMAIL_DOMAINS"], "school.example.com");
    let key = app.api_key.clone();
    let student = |id: &str, email: &str| {
        json!({"studentid": id, "name": "Ann", "class": "12A1", "birthdate": "2008-01-02", "email": email}).to_string()
    };
    let inside = app.call("POST", "/students", Some(&key), Some(&student("DOM-1", "ann@school.example.com"))).await;
    assert_eq!((inside.status, &inside.body["emailSent"]), (201, &json!(true)), "{}", inside.body);
    let outside = app.call("POST", "/students", Some(&key), Some(&student("DOM-2", "ann@elsewhere.example"))).await;
    assert_eq!((outside.status, &outside.body["emailSent"]), (201, &json!(false)), "{}", outside.body);
    assert_eq!(
        outside.body["warning"],
        "confirmation email not sent: confirmations go only to addresses at school.example.com, not elsewhere.example"
    );
    let listed = app.call("GET", "/students", Some(&key), None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2, "both stored: {}", listed.body);
    let to: Vec<Vec<String>> = app.mail().sent_emails().await.into_iter().map(|m| m.to).collect();
    assert_eq!(to, [vec!["ann@school.example.com".to_owned()]]);
}

#[tokio::test]
async fn requests_that_never_reach_a_function() {
    let app = TestApp::start(&[]).await;
    let key = app.roomy_key().await;
    let forbidden = |a: &crate::app::Answer| {
        a.status == 403
            && a.body == json!({"message": "Forbidden"})
            && a.header("x-amzn-errortype") == "ForbiddenException"
    };
    // No key, an unknown key: 403 Forbidden — with CORS (DEFAULT_4XX), so a browser can read it.
    let none = app.call("GET", "/students", None, None).await;
    assert!(forbidden(&none), "{}", none.body);
    assert_eq!(none.header("access-control-allow-origin"), "*");
    assert!(!none.header("x-amzn-requestid").is_empty() && !none.header("x-amz-apigw-id").is_empty());
    assert!(forbidden(&app.call("GET", "/students", Some("not-a-real-key-000000000"), None).await));
    // A key in no plan for this stage.
    let gw = app.gateway().await;
    let loose = gw.create_api_key().name("loose").value("loose-key-00000000000000").enabled(true).send().await.unwrap();
    assert!(forbidden(&app.call("GET", "/students", Some("loose-key-00000000000000"), None).await));
    let _ = loose;
    // Unknown route, method or stage: Missing Authentication Token.
    for (method, path) in [("GET", "/nowhere"), ("DELETE", "/students"), ("PUT", "/backup")] {
        let a = app.call(method, path, Some(&key), None).await;
        assert_eq!(
            (a.status, a.body.clone()),
            (403, json!({"message": "Missing Authentication Token"})),
            "{method} {path}"
        );
        assert_eq!(a.header("x-amzn-errortype"), "MissingAuthenticationTokenException");
    }
    let wrong_stage =
        app.http.get(format!("{}/dev/students", app.gateway_url)).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(wrong_stage.status(), 403);
    // A body over 10 MB.
    let big = "x".repeat(10 * 1024 * 1024 + 1);
    let too_big =
        app.http.post(format!("{}/students", app.api_url)).header("x-api-key", &key).body(big).send().await.unwrap();
    assert_eq!(too_big.status(), 413);
    // The preflight needs no key and answers with the CORS headers.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/students", app.api_url))
        .header("origin", "http://127.0.0.1:9999")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], "GET,POST,OPTIONS");
    assert!(h["access-control-allow-headers"].to_str().unwrap().contains("X-Api-Key"));
}

#[tokio::test]
async fn the_function_gets_the_rest_proxy_event_and_bad_answers_are_502() {
    let app = TestApp::start(&[]).await;
    let key = app.roomy_key().await;
    let key_id =
        app.gateway().await.get_api_keys().name_query("e2e").send().await.unwrap().items()[0].id().unwrap().to_owned();
    app.add_test_route("echo", "testEcho").await;
    app.add_test_route("malformed", "testMalformed").await;
    within(Duration::from_secs(5), "the new deployment is served", || async {
        app.call("GET", "/echo", Some(&key), None).await.status == 200
    })
    .await;

    let echoed = app.call("GET", "/echo?x=1&x=2&y=z", Some(&key), None).await;
    assert_eq!(echoed.status, 200);
    let event = &echoed.body;
    let context = &event["requestContext"];
    assert_eq!(event["resource"], "/echo");
    assert_eq!(event["path"], "/echo");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["queryStringParameters"], json!({"x": "2", "y": "z"}));
    assert_eq!(event["multiValueQueryStringParameters"], json!({"x": ["1", "2"], "y": ["z"]}));
    assert_eq!(event["headers"]["x-api-key"], key);
    assert_eq!(event["pathParameters"], serde_json::Value::Null);
    assert_eq!(event["stageVariables"], serde_json::Value::Null);
    assert_eq!(event["body"], serde_json::Value::Null);
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(context["stage"], "prod");
    assert_eq!(context["path"], "/prod/echo");
    assert_eq!(context["resourcePath"], "/echo");
    assert_eq!(context["httpMethod"], "GET");
    assert_eq!(context["identity"]["apiKey"], key);
    assert_eq!(context["identity"]["apiKeyId"], key_id);
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["requestId"], echoed.header("x-amzn-requestid"));
    assert_eq!(context["apiId"], app.outputs().api_id.as_str());
    assert!(context["requestTimeEpoch"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(!context["deploymentId"].as_str().unwrap().is_empty());

    for kind in ["string", "unknown-field", "error"] {
        let bad = app.call("GET", &format!("/malformed?kind={kind}"), Some(&key), None).await;
        assert_eq!((bad.status, bad.body.clone()), (502, json!({"message": "Internal server error"})), "{kind}");
        assert_eq!(bad.header("x-amzn-errortype"), "InternalServerErrorException");
        assert_eq!(bad.header("access-control-allow-origin"), "*", "DEFAULT_5XX carries CORS");
    }
}

#[tokio::test]
async fn method_changes_wait_for_a_deployment_as_in_api_gateway() {
    let app = TestApp::start(&[]).await;
    let gw = app.gateway().await;
    let api = app.outputs().api_id;
    let resources = gw.get_resources().rest_api_id(&api).send().await.unwrap();
    let students = resources.items().iter().find(|r| r.path() == Some("/students")).unwrap().id().unwrap().to_owned();
    // The key requirement dropped in the control plane, not yet deployed: still enforced.
    let method = gw.get_method().rest_api_id(&api).resource_id(&students).http_method("GET").send().await.unwrap();
    let uri = method.method_integration().unwrap().uri().unwrap().to_owned();
    gw.delete_method().rest_api_id(&api).resource_id(&students).http_method("GET").send().await.unwrap();
    harness::apigateway::put_proxy_method(&gw, &api, &students, "GET", false, &uri).await;
    // A negative can only be watched for a while: two control-plane reads, and still a 403.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.call("GET", "/students", None, None).await.status, 403);
    // Deployed: now it is open (the mistake `infra verify` reports).
    gw.create_deployment().rest_api_id(&api).stage_name("prod").send().await.unwrap();
    within(Duration::from_secs(5), "the redeployed method is served", || async {
        app.call("GET", "/students", None, None).await.status == 200
    })
    .await;
}
