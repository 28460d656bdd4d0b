//! The usage plan as API Gateway enforces it: the token bucket, the quota, and changes to
//! the plan taking effect without a restart.

use std::time::{Duration, Instant};

use crate::app::TestApp;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use serde_json::json;

use crate::app::within;

async fn burst(app: &TestApp, n: usize) -> Vec<crate::app::Answer> {
    let calls = (0..n).map(|_| app.call("GET", "/students?limit=1", Some(&app.api_key), None));
    futures::future::join_all(calls).await
}

/// Patches the plan's quota. The emulator applies it but answers with the limit as a string
/// (`"limit": "16"`), which the SDK cannot parse: a parse failure of the answer is expected;
/// any other failure is not.
async fn set_quota(gw: &aws_sdk_apigateway::Client, plan: &str, limit: &str) {
    let patch = PatchOperation::builder().op(Op::Replace).path("/quota/limit").value(limit).build();
    match gw.update_usage_plan().usage_plan_id(plan).patch_operations(patch).send().await {
        Ok(_) => {}
        Err(e) => assert!(format!("{e:?}").contains("DeserializeError"), "{e:?}"),
    }
}

fn count(answers: &[crate::app::Answer], status: u16) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

#[tokio::test]
async fn the_product_plan_throttles_counts_and_follows_the_control_plane() {
    let app = TestApp::start(&[]).await;
    let gw = app.gateway().await;
    let outputs = app.outputs();
    let plan = outputs.usage_plan_id.clone();
    let key_id = outputs.key_id.clone();

    // A full bucket of 10: of 30 at once, exactly 10 pass.
    let first_sent = Instant::now();
    let answers = burst(&app, 30).await;
    let drained = Instant::now();
    assert_eq!((count(&answers, 200), count(&answers, 429)), (10, 20));
    let throttled = answers.iter().find(|a| a.status == 429).unwrap();
    assert_eq!(throttled.body, json!({"message": "Too Many Requests"}));
    assert_eq!(throttled.header("x-amzn-errortype"), "TooManyRequestsException");
    assert_eq!(throttled.header("access-control-allow-origin"), "*", "a browser can read a 429");

    // Tokens come back at 5 a second. The bucket ran dry somewhere between the first burst's
    // start and its end, and the second burst's requests reach the gateway somewhere between its
    // own start and end (spread out when the machine is busy): the tokens they find lie between
    // what the shortest and the longest of those spans refill, ±1 for rounding.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let least = drained.elapsed().as_secs_f64();
    let answers = burst(&app, 10).await;
    let most = first_sent.elapsed().as_secs_f64();
    let passed = count(&answers, 200);
    let (low, high) = (((least * 5.0).floor() as usize).min(10), ((most * 5.0).ceil() as usize).min(10));
    assert!(
        (low.saturating_sub(1)..=high + 1).contains(&passed),
        "{passed} passed, refilled {least:.2} to {most:.2} s: expected {low} to {high} (±1)"
    );

    // GetUsage (infra usage's call) counts what passed the throttle.
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let usage: serde_json::Value = app
        .http
        .get(format!("{}/usageplans/{plan}/usage?keyId={key_id}&startDate={today}&endDate={today}", app.gateway_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let used = usage["values"][&key_id][0][0].as_u64().unwrap();
    assert!(used >= 10 + passed as u64, "{usage}");
    assert_eq!(usage["values"][&key_id][0][1].as_i64().unwrap(), 1000 - used as i64);
    // `infra usage --json` reads the same day through the SDK (no request to the API between).
    let run = app.infra(&["usage", "--json"]).await;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("usage --json prints JSON");
    assert_eq!(
        report,
        json!({
            "keyName": outputs.key_name,
            "keyId": key_id,
            "days": [{"date": today, "used": used, "remaining": 1000 - used as i64}],
        })
    );

    // The quota lowered in the control plane: the next request past it is 429 Limit Exceeded.
    let lowered = (used + 1).to_string();
    set_quota(&gw, &plan, &lowered).await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // let the bucket refill: only the quota may refuse
    let took = within(Duration::from_secs(5), "the lowered quota applies", || async {
        let a = app.call("GET", "/students?limit=1", Some(&app.api_key), None).await;
        a.status == 429
            && a.body == json!({"message": "Limit Exceeded"})
            && a.header("x-amzn-errortype") == "LimitExceededException"
    })
    .await;
    eprintln!("quota change applied within {took:?}");

    // The key taken out of the plan: 403 within 5 s, without a restart.
    set_quota(&gw, &plan, "1000000").await;
    gw.delete_usage_plan_key().usage_plan_id(&plan).key_id(&key_id).send().await.unwrap();
    let took = within(Duration::from_secs(5), "a key out of the plan is refused", || async {
        app.call("GET", "/students?limit=1", Some(&app.api_key), None).await.status == 403
    })
    .await;
    eprintln!("plan-key removal applied within {took:?}");

    // Back in the plan, then disabled: 403 again.
    harness::apigateway::link_key(&gw, &plan, &key_id).await;
    within(Duration::from_secs(5), "the key works again", || async {
        app.call("GET", "/students?limit=1", Some(&app.api_key), None).await.status == 200
    })
    .await;
    gw.update_api_key()
        .api_key(&key_id)
        .patch_operations(PatchOperation::builder().op(Op::Replace).path("/enabled").value("false").build())
        .send()
        .await
        .unwrap();
    within(Duration::from_secs(5), "a disabled key is refused", || async {
        app.call("GET", "/students?limit=1", Some(&app.api_key), None).await.status == 403
    })
    .await;
}
