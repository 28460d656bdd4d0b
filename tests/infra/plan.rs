//! `infra deploy --plan`: what deploy would change, field by field, changing nothing; exit
//! status 0 when nothing would change, 2 when changes are pending.

use aws_sdk_apigateway::types::{Op, PatchOperation};

use crate::app::TestApp;

#[tokio::test]
async fn a_plan_reads_compares_and_changes_nothing() {
    let app = TestApp::start().await;

    // An empty account: everything would be created, nothing is.
    let empty = app.run(&["deploy", "--plan", "--code", "stub"]).await;
    assert_eq!(empty.code, Some(2), "{}{}", empty.stdout, empty.stderr);
    for line in [
        "create table studentData",
        "create rest-api student",
        "create method GET /students",
        "create api-key StudentApiKey",
    ] {
        assert!(empty.lines().contains(&line), "{line:?} missing in\n{}", empty.stdout);
    }
    assert!(
        empty.lines().iter().any(|l| l.starts_with("plan: ") && l.ends_with(" to update, 0 to delete, 0 unchanged")),
        "{}",
        empty.stdout
    );
    assert!(app.gateway.get_rest_apis().send().await.unwrap().items().is_empty(), "the plan created nothing");
    let db = aws_sdk_dynamodb::Client::new(&app.sdk);
    assert!(db.list_tables().send().await.unwrap().table_names().is_empty());

    // Deployed: nothing to change.
    app.deploy().await;
    let settled = app.run(&["deploy", "--plan", "--code", "stub"]).await;
    assert_eq!(settled.code, Some(0), "{}{}", settled.stdout, settled.stderr);
    assert!(
        settled.lines().iter().all(|l| l.starts_with("unchanged") || l.starts_with("plan: 0 to create, 0 to update"))
    );

    // Drift made by hand: named field by field, and left as it is.
    let plan = app.plan().await;
    let id = plan.id().unwrap();
    app.gateway
        .update_usage_plan()
        .usage_plan_id(id)
        .patch_operations(PatchOperation::builder().op(Op::Replace).path("/throttle/rateLimit").value("77").build())
        .send()
        .await
        .unwrap();
    db.update_table().table_name("studentData").deletion_protection_enabled(false).send().await.unwrap();
    let drift = app.run(&["deploy", "--plan", "--code", "stub"]).await;
    assert_eq!(drift.code, Some(2), "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.lines().contains(&"update usage-plan StudentUsagePlan: throttle.rateLimit 77 → 5"),
        "{}",
        drift.stdout
    );
    assert!(drift.lines().contains(&"update table studentData: deletionProtection false → true"), "{}", drift.stdout);
    assert!(drift.lines().iter().any(|l| l.starts_with("plan: 0 to create, 2 to update")), "{}", drift.stdout);
    assert_eq!(app.plan().await.throttle().unwrap().rate_limit(), 77.0, "the plan left the drift as it is");

    // Deploy repairs it; the plan is empty again.
    app.deploy().await;
    assert_eq!(app.run(&["deploy", "--plan", "--code", "stub"]).await.code, Some(0));
}
