//! What API Gateway does with a Lambda proxy request and answer, copied as recorded against
//! AWS (docs/api-gateway.md): the event's headers and paths, the trace header, how an answer
//! is mapped, integrations it refuses, gateway responses mapped from the request, throttles
//! per method and per stage, the emulator's quirks, and usage across a restart.

use std::time::Duration;

use aws_sdk_apigateway::types::{ApiStage, GatewayResponseType, Op, PatchOperation, ThrottleSettings};
use harness::workspace_root;
use serde_json::{Value, json};

use crate::app::{TestApp, within};

/// A root of the X-Ray form (`1-<8 hex>-<24 hex>`).
const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

fn port(url: &str) -> String {
    url.rsplit(':').next().unwrap().trim_end_matches('/').to_owned()
}

/// `GET path` written byte for byte (names in the given case; `Connection: close` and the
/// body's length added): the status, the answer's headers and its body.
async fn raw_get(host: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    request += &format!("Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(": ")).map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
    (status, headers, body.to_owned())
}

/// The header named exactly `name` in the event's `headers`.
fn event_header<'e>(event: &'e Value, name: &str) -> &'e Value {
    &event["headers"][name]
}

#[tokio::test]
async fn the_event_has_api_gateways_header_names_paths_and_trace() {
    let app = TestApp::start(&[]).await;
    let key = app.roomy_key().await;
    app.add_test_route_with(&["echo"], "testEcho", "POST").await;
    app.add_test_route_with(&["proxy", "{proxy+}"], "testEcho", "POST").await;
    app.redeploy().await;
    within(Duration::from_secs(5), "the new deployment is served", || async {
        app.call("GET", "/proxy/a", Some(&key), None).await.status == 200
    })
    .await;

    // Headers: names as the client sent them (written here byte for byte: HTTP clients
    // lowercase them), the standard ones canonical, hop-by-hop ones dropped, API Gateway's own
    // added; and `path` without the empty segment that `requestContext.path` keeps.
    let host = app.gateway_url.trim_start_matches("http://").to_owned();
    let (status, answer_headers, body) = raw_get(
        &host,
        "/prod//echo",
        &[
            ("hOsT", host.as_str()),
            ("x-api-key", key.as_str()),
            ("tEsT-HEADeR", "custom"),
            ("X-Custom-Header", "as sent"),
            ("USER-AGENT", "fidelity/1.0"),
            ("content-type", "text/plain"),
            ("authorization", "Bearer token"),
            ("x-forwarded-for", "10.1.2.3"),
            ("X-Amzn-Trace-Id", &format!("Root={ROOT};Sampled=1")),
            ("Max-Forwards", "5"),
            ("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
            ("TE", "trailers"),
            ("WWW-Authenticate", "Basic"),
            ("Server", "client"),
        ],
        "hello",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let trace = answer_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("x-amzn-trace-id")).unwrap().1.clone();
    let event: Value = serde_json::from_str(&body).unwrap();
    for (name, value) in [
        ("Content-Type", "text/plain"),
        ("Authorization", "Bearer token"),
        ("Host", host.as_str()),
        ("User-Agent", "fidelity/1.0"),
        ("X-Forwarded-For", "10.1.2.3, 127.0.0.1"),
        ("X-Forwarded-Port", port(&app.gateway_url).as_str()),
        ("X-Forwarded-Proto", "http"),
        ("x-api-key", key.as_str()),
        ("tEsT-HEADeR", "custom"),
        ("X-Custom-Header", "as sent"),
    ] {
        assert_eq!(event_header(&event, name), value, "{name} in {:#}", event["headers"]);
    }
    assert_eq!(event["requestContext"]["identity"]["userAgent"], "fidelity/1.0");
    assert_eq!(event["multiValueHeaders"]["Content-Type"], json!(["text/plain"]));
    let names: Vec<String> = event["headers"].as_object().unwrap().keys().map(|k| k.to_ascii_lowercase()).collect();
    for dropped in ["content-length", "connection", "max-forwards", "content-md5", "te", "www-authenticate", "server"] {
        assert!(!names.iter().any(|n| n == dropped), "{dropped} reached the function: {names:?}");
    }
    assert_eq!(event["body"], "hello");
    assert_eq!((&event["resource"], &event["path"]), (&json!("/echo"), &json!("/echo")));
    let context = &event["requestContext"];
    assert_eq!(context["path"], "/prod//echo");
    assert_eq!(context["domainName"], app.gateway_url.trim_start_matches("http://"));
    assert_eq!(context["domainPrefix"], "127");

    // The trace: the request's Root kept, a Parent of the gateway's own, in the event and on
    // the answer alike.
    let event_trace = event_header(&event, "X-Amzn-Trace-Id").as_str().unwrap();
    assert_eq!(event_trace, trace);
    let (root, rest) = trace.split_once(";Parent=").expect("a Parent is added");
    assert_eq!(root, format!("Root={ROOT}"));
    let (parent, sampled) = rest.split_once(';').unwrap();
    assert!(parent.len() == 16 && parent.chars().all(|c| c.is_ascii_hexdigit()), "{trace}");
    assert_eq!(sampled, "Sampled=1");
    // Without one, a new trace is started.
    let fresh = app.call("GET", "/echo", Some(&key), None).await;
    let fresh_trace = fresh.header("x-amzn-trace-id");
    assert!(fresh_trace.starts_with("Root=1-") && fresh_trace.contains(";Parent="), "{fresh_trace}");
    assert!(!fresh_trace.contains(ROOT));
    assert_eq!(fresh.body["headers"]["X-Amzn-Trace-Id"], fresh_trace);

    // A greedy variable takes the rest of the path as sent, `//` included.
    let greedy = app.call("GET", "/proxy/a//b/c", Some(&key), None).await;
    assert_eq!(greedy.status, 200);
    assert_eq!(greedy.body["resource"], "/proxy/{proxy+}");
    assert_eq!(greedy.body["pathParameters"], json!({"proxy": "a//b/c"}));
    assert_eq!(greedy.body["path"], "/proxy/a/b/c");
    assert_eq!(greedy.body["requestContext"]["path"], "/prod/proxy/a//b/c");
}

/// The function's answer is the request's body (testEcho with `answer=body`).
async fn answered(app: &TestApp, key: &str, answer: Value, accept: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/answer?answer=body", app.api_url))
        .header("x-api-key", key)
        .header("accept", accept)
        .body(answer.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn answers_are_mapped_and_misconfigurations_fail_as_in_api_gateway() {
    let app = TestApp::start(&[]).await;
    let key = app.roomy_key().await;
    let gw = app.gateway().await;
    let api = app.api_id();
    app.add_test_route_with(&["answer"], "testEcho", "POST").await;
    // A Lambda proxy integration invoked with GET: a deploy bug AWS answers with 500.
    app.add_test_route_with(&["wrongmethod"], "testEcho", "GET").await;
    // image/png is binary for this API (it applies with the next deployment).
    let binary = PatchOperation::builder().op(Op::Add).path("/binaryMediaTypes/image~1png").value("image/png").build();
    gw.update_rest_api().rest_api_id(&api).patch_operations(binary).send().await.unwrap();
    app.redeploy().await;
    // A gateway response with a header mapped from the request (and a literal one).
    gw.put_gateway_response()
        .rest_api_id(&api)
        .response_type(GatewayResponseType::MissingAuthenticationToken)
        .response_parameters("gatewayresponse.header.X-Requested-Accept", "method.request.header.Accept")
        .response_parameters("gatewayresponse.header.X-Requested-Custom", "method.request.header.X-Custom")
        .response_parameters("gatewayresponse.header.X-Static", "'static'")
        .send()
        .await
        .unwrap();
    within(Duration::from_secs(5), "the new deployment is served", || async {
        answered(&app, &key, json!({"statusCode": 200}), "*/*").await.status() == 200
    })
    .await;

    // `{}`: 200, empty, and (no Content-Type given) application/json.
    let empty = answered(&app, &key, json!({}), "*/*").await;
    assert_eq!(empty.status(), 200);
    assert_eq!(empty.headers()["content-type"], "application/json");
    assert!(empty.headers()["x-amzn-trace-id"].to_str().unwrap().starts_with("Root=1-"));
    assert_eq!(empty.bytes().await.unwrap().len(), 0);

    // A base64 body: decoded when the request's Accept is one of the API's binary media
    // types, else sent as the text it is.
    let png = json!({"statusCode": 200, "headers": {"content-type": "image/png"}, "body": "iVBORw0K", "isBase64Encoded": true});
    let decoded = answered(&app, &key, png.clone(), "image/png").await;
    assert_eq!(decoded.headers()["content-type"], "image/png");
    assert_eq!(decoded.bytes().await.unwrap().as_ref(), b"\x89PNG\r\n");
    let as_text = answered(&app, &key, png, "text/html, image/png").await;
    assert_eq!(as_text.bytes().await.unwrap().as_ref(), b"iVBORw0K");

    // A header in both maps: the multi-value values first. A Content-Type given is kept.
    let both = json!({"headers": {"x-h": "solo", "content-type": "text/plain"}, "multiValueHeaders": {"x-h": ["m1", "m2"]}, "body": "ok"});
    let joined = answered(&app, &key, both, "*/*").await;
    let values: Vec<&str> = joined.headers().get_all("x-h").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(values, ["m1", "m2", "solo"]);
    assert_eq!(joined.headers().get_all("content-type").iter().count(), 1);
    assert_eq!(joined.headers()["content-type"], "text/plain");

    // The integration that invokes with GET.
    let wrong = app.call("GET", "/wrongmethod", Some(&key), None).await;
    assert_eq!((wrong.status, wrong.body.clone()), (500, json!({"message": "Internal server error"})));

    // The gateway response takes the request's Accept; an unsent header is left out.
    let missing = app.http.get(format!("{}/nowhere", app.api_url)).header("accept", "application/xml");
    let missing = missing.header("x-custom", "sent").send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.headers()["x-requested-accept"], "application/xml");
    assert_eq!(missing.headers()["x-requested-custom"], "sent");
    assert_eq!(missing.headers()["x-static"], "static");
    let without = app.http.get(format!("{}/nowhere", app.api_url)).send().await.unwrap();
    assert_eq!(without.status(), 403);
    assert!(without.headers().get("x-requested-custom").is_none());
}

#[tokio::test]
async fn plans_throttle_per_method_and_stages_throttle_per_method_for_everyone() {
    let app = TestApp::start(&[]).await;
    let gw = app.gateway().await;
    let api = app.api_id();
    app.add_test_route("echo", "testEcho").await;
    let roomy = app.roomy_key().await;

    // A key whose plan allows 2 GET /echo (hardly refilled) beside a roomy plan-wide bucket.
    let value = format!("per-method-{}", uuid::Uuid::new_v4().simple());
    let key = gw.create_api_key().name("per-method").value(&value).enabled(true).send().await.unwrap();
    let two = ThrottleSettings::builder().rate_limit(0.001).burst_limit(2).build();
    let stage = ApiStage::builder().api_id(&api).stage("prod").throttle("/echo/GET", two).build();
    let plan = gw
        .create_usage_plan()
        .name("per-method")
        .throttle(ThrottleSettings::builder().rate_limit(1000.0).burst_limit(1000).build())
        .api_stages(stage)
        .send()
        .await
        .unwrap();
    harness::apigateway::link_key(&gw, plan.id().unwrap(), key.id().unwrap()).await;
    within(Duration::from_secs(5), "the new key works", || async {
        app.call("GET", "/students?limit=1", Some(&value), None).await.status == 200
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.call("GET", "/echo", Some(&value), None).await.status);
    }
    assert_eq!(statuses, [200, 200, 429, 429], "the method's own bucket of 2");
    assert_eq!(app.call("GET", "/students?limit=1", Some(&value), None).await.status, 200, "other methods: the plan's");
    assert_eq!(app.call("GET", "/echo", Some(&roomy), None).await.status, 200, "another key's plan: its own");

    // The stage's methodSettings for GET /students: one bucket of 3 for every client.
    for (path, value) in
        [("/~1students/GET/throttling/burstLimit", "3"), ("/~1students/GET/throttling/rateLimit", "0.001")]
    {
        let patch = PatchOperation::builder().op(Op::Replace).path(path).value(value).build();
        gw.update_stage().rest_api_id(&api).stage_name("prod").patch_operations(patch).send().await.unwrap();
    }
    within(Duration::from_secs(5), "the stage's throttle applies", || async {
        app.call("GET", "/students?limit=1", Some(&roomy), None).await.status == 429
    })
    .await;
    // The bucket is the stage's, not the key's: another key, in a roomy plan, finds it empty.
    let other = app.call("GET", "/students?limit=1", Some(&value), None).await;
    assert_eq!((other.status, other.body.clone()), (429, json!({"message": "Too Many Requests"})));
    assert_eq!(other.header("x-amzn-errortype"), "TooManyRequestsException");
    // Other methods of the stage are not limited by it.
    assert_eq!(app.call("GET", "/echo", Some(&roomy), None).await.status, 200);
}

/// `python -c <script>` with the venv's boto3 (the AWS CLI's library), the stack's
/// environment and the emulator's credentials.
async fn boto3(app: &TestApp, script: &str) -> std::process::Output {
    let credentials = harness::Emulator::attach(&app.env["AWS_ENDPOINT_URL"]).function_env();
    tokio::process::Command::new(workspace_root().join(".local/venv/bin/python"))
        .args(["-c", script])
        .env_clear()
        .envs(&app.env)
        .envs(credentials.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("python runs")
}

fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test]
async fn a_plan_changed_the_way_the_aws_cli_sends_it_breaks_nothing() {
    let app = TestApp::start(&[]).await;
    let plan = app.outputs().usage_plan_id;
    assert_eq!(app.call("GET", "/students?limit=1", Some(&app.api_key), None).await.status, 200);
    // `aws apigateway update-usage-plan --patch-operations op=replace,path=/quota/limit,value=2000`
    let script = format!(
        "import boto3; boto3.client('apigateway').update_usage_plan(usagePlanId='{plan}', \
         patchOperations=[{{'op': 'replace', 'path': '/quota/limit', 'value': '2000'}}])"
    );
    let patched = boto3(&app, &script).await;
    assert!(patched.status.success(), "{}", text(&patched));
    // The emulator now answers with "limit": "2000", which the SDK refuses.
    let gw = app.gateway().await;
    assert!(gw.get_usage_plans().send().await.is_err(), "the emulator's quirk is gone: simplify the lenient reads");

    // The gateway follows the new quota: 2000 - 1 remaining after one request.
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let key_id = app.outputs().key_id;
    let remaining = || async {
        let url =
            format!("{}/usageplans/{plan}/usage?keyId={key_id}&startDate={today}&endDate={today}", app.gateway_url);
        let usage: Value = app.http.get(url).send().await.unwrap().json().await.unwrap();
        usage["values"][&key_id][0][1].as_i64()
    };
    within(Duration::from_secs(5), "the gateway reads the patched quota", || async {
        remaining().await == Some(2000 - 1)
    })
    .await;
    assert_eq!(app.call("GET", "/students?limit=1", Some(&app.api_key), None).await.status, 200);

    // infra usage reads the day; verify names the drifted quota; deploy plans and repairs it.
    let usage = app.infra(&["usage", "--json"]).await;
    assert!(usage.status.success(), "{}", text(&usage));
    let report: Value = serde_json::from_slice(&usage.stdout).unwrap();
    assert_eq!(report["days"][0]["remaining"], 2000 - 2);
    let verify = app.infra(&["verify"]).await;
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(text(&verify).contains("2000"), "{}", text(&verify));
    let planned = app.infra(&["deploy", "--code", "stub", "--plan"]).await;
    assert_eq!(planned.status.code(), Some(2), "{}", text(&planned));
    assert!(text(&planned).contains("quota.limit"), "{}", text(&planned));
    let deployed = app.infra(&["deploy", "--code", "stub"]).await;
    assert!(deployed.status.success(), "{}", text(&deployed));
    let verify = app.infra(&["verify"]).await;
    assert!(verify.status.success(), "{}", text(&verify));
    within(Duration::from_secs(5), "the gateway reads the repaired quota", || async {
        remaining().await == Some(1000 - 2)
    })
    .await;
}

#[tokio::test]
async fn a_keys_usage_survives_a_restart_of_scripts_dev() {
    let mut app = TestApp::start(&[]).await;
    for _ in 0..3 {
        assert_eq!(app.call("GET", "/students?limit=1", Some(&app.api_key), None).await.status, 200);
    }
    let used = |app: &TestApp| {
        let (http, url) = (app.http.clone(), app.gateway_url.clone());
        let outputs = app.outputs();
        async move {
            let today = time::OffsetDateTime::now_utc().date().to_string();
            let (plan, key) = (outputs.usage_plan_id, outputs.key_id);
            let url = format!("{url}/usageplans/{plan}/usage?keyId={key}&startDate={today}&endDate={today}");
            let usage: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            (usage["values"][&key][0][0].as_i64(), usage["values"][&key][0][1].as_i64())
        }
    };
    assert_eq!(used(&app).await, (Some(3), Some(1000 - 3)));
    let before = app.outputs();

    app.restart().await;
    // A new emulator: the plan and the key have new ids, the same names and key value.
    assert_ne!(app.outputs().usage_plan_id, before.usage_plan_id);
    assert_eq!(used(&app).await, (Some(3), Some(1000 - 3)), "the day's count came back");
    assert_eq!(app.call("GET", "/students?limit=1", Some(&app.api_key), None).await.status, 200);
    assert_eq!(used(&app).await, (Some(4), Some(1000 - 4)));
}
