//! The local gateway's cost: added latency over invoking the function directly through the
//! Invoke API, and the rate of rejected requests against a bare server's.

use std::time::{Duration, Instant};

use harness::events::proxy_event;

use crate::Stack;
use crate::stats::{Row, ms, percentile};

/// A key in a plan roomy enough not to throttle the measurement.
async fn roomy_key(stack: &Stack) -> String {
    let gw = aws_sdk_apigateway::Client::new(&stack.sdk);
    let value = format!("bench-{}", uuid::Uuid::new_v4().simple());
    harness::apigateway::key_in_own_plan(&gw, &stack.api_id, "bench", &value, 100_000, 100_000_000).await;
    // The gateway reads the control plane every second; wait (bounded) for the key to work.
    let url = format!("{}/students?limit=1", stack.api_url);
    harness::wait_until("the bench key", Duration::from_secs(10), || async {
        let r = stack.http.get(&url).header("x-api-key", &value).send().await;
        r.is_ok_and(|r| r.status() == 200)
    })
    .await;
    value
}

/// p50/p99 of GET /students?limit=1 through the gateway and of the same event sent straight
/// to the Invoke API, interleaved so both see the same machine noise.
pub async fn latency(stack: &Stack, requests: usize) -> Vec<Row> {
    let key = roomy_key(stack).await;
    let event = proxy_event("GET", "/students", &[("limit", "1")], None);
    let invoke = format!("{}/2015-03-31/functions/getStudentData/invocations", stack.lambda_endpoint);
    let via_gateway = format!("{}/students?limit=1", stack.api_url);
    let (mut direct, mut gateway) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
    for i in 0..requests + 20 {
        let t = Instant::now();
        let r = stack.http.post(&invoke).json(&event).send().await.expect("invoke");
        assert!(r.status().is_success());
        r.bytes().await.unwrap();
        let d = t.elapsed();
        let t = Instant::now();
        let r = stack.http.get(&via_gateway).header("x-api-key", &key).send().await.expect("gateway");
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        let g = t.elapsed();
        if i >= 20 {
            direct.push(d);
            gateway.push(g);
        }
    }
    direct.sort();
    gateway.sort();
    let mut rows = Vec::new();
    for p in [50.0, 99.0] {
        let (d, g) = (percentile(&direct, p), percentile(&gateway, p));
        rows.push(Row {
            what: format!("gateway GET /students p{p} (vs direct Invoke API)"),
            measured: ms(g),
            ceiling: ms(d),
            ratio: format!("{:.2}x (+{})", g.as_secs_f64() / d.as_secs_f64(), ms(g.saturating_sub(d))),
        });
    }
    rows
}

/// A server that answers every request with a fixed 403 body: the ceiling for "reject fast".
pub async fn serve_bare(port: u16) {
    let app = axum::Router::new().fallback(|| async {
        (axum::http::StatusCode::FORBIDDEN, [("content-type", "application/json")], r#"{"message":"Forbidden"}"#)
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind 127.0.0.1");
    axum::serve(listener, app).await.expect("serve");
}

/// Requests per second answered with `expected` by `url`, from `connections` concurrent
/// clients, bounded by `seconds` and a request count.
async fn rate(http: &reqwest::Client, url: &str, expected: u16, connections: usize, seconds: f64) -> f64 {
    const MAX_REQUESTS: usize = 2_000_000;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let per_task = MAX_REQUESTS / connections;
    let tasks = (0..connections).map(|_| {
        let (http, url) = (http.clone(), url.to_owned());
        tokio::spawn(async move {
            let mut ok = 0usize;
            for _ in 0..per_task {
                if Instant::now() >= deadline {
                    break;
                }
                let r = http.get(&url).send().await.expect("loopback answers");
                assert_eq!(r.status(), expected);
                r.bytes().await.unwrap();
                ok += 1;
            }
            ok
        })
    });
    let done: usize = futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).sum();
    done as f64 / start.elapsed().as_secs_f64()
}

pub async fn rejections(stack: &Stack, connections: usize, seconds: f64) -> Vec<Row> {
    // The bare server runs in a process of its own, as the gateway does.
    let port = harness::free_port();
    let mut bare = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["serve-bare", "--port", &port.to_string()])
        .kill_on_drop(true)
        .spawn()
        .expect("bare server");
    let bare_url = format!("http://127.0.0.1:{port}/prod/students");
    harness::wait_until("the bare server", Duration::from_secs(10), || async {
        stack.http.get(&bare_url).send().await.is_ok()
    })
    .await;
    let gateway_url = format!("{}/students", stack.api_url);
    let gateway = rate(&stack.http, &gateway_url, 403, connections, seconds).await;
    let ceiling = rate(&stack.http, &bare_url, 403, connections, seconds).await;
    let _ = bare.kill().await;
    vec![Row {
        what: format!("gateway 403 (no key), {connections} connections (vs bare server)"),
        measured: format!("{gateway:.0} req/s"),
        ceiling: format!("{ceiling:.0} req/s"),
        ratio: format!("{:.2}x", gateway / ceiling),
    }]
}
