//! deploy → verify → deploy again → break each link → verify names it → deploy repairs →
//! destroy.

use aws_sdk_apigateway::types::{Op, PatchOperation};

use crate::app::TestApp;

fn patch(op: Op, path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder().op(op).path(path).value(value).build()
}

#[tokio::test]
async fn deploy_is_complete_idempotent_and_verified() {
    let app = TestApp::start().await;
    let first = app.deploy().await;
    assert!(first.lines().iter().all(|l| l.starts_with("created")), "{}", first.stdout);
    for expected in [
        "created table studentData",
        "created bucket student-backup-20250706",
        "created function getStudentData",
        "created method GET /students",
        "created method OPTIONS /backup",
        "created gateway-response DEFAULT_4XX",
        "created deployment student:prod",
        "created api-key StudentApiKey",
        "created usage-plan StudentUsagePlan",
        "created association StudentUsagePlan → student:prod",
        "created plan-key StudentApiKey → StudentUsagePlan",
        "created secret student/api-key",
    ] {
        assert!(first.lines().contains(&expected), "missing {expected:?} in\n{}", first.stdout);
    }
    assert!(first.stderr.contains("invoke URL: https://"), "{}", first.stderr);
    assert!(!first.stderr.contains("API key:"), "the key's value is printed only on request");

    let verify = app.verify().await;
    assert!(verify.ok, "{}", verify.stdout);
    assert_eq!(verify.failures().len(), 0);
    assert!(verify.lines().len() >= 13);

    let second = app.deploy().await;
    assert_eq!(second.changes(), Vec::<&str>::new(), "a second deploy changed something");
    assert_eq!(second.lines().len(), first.lines().len());

    // Exactly one of everything.
    let api = app.api_id().await;
    let plan = app.plan().await;
    let key = app.key("StudentApiKey").await;
    assert_eq!(app.plan_keys(plan.id().unwrap()).await, [key.id().unwrap()]);
    assert_eq!(plan.api_stages().len(), 1);
    assert_eq!(app.deployments(&api).await, 1);
    let secret = app.secret_value("student/api-key").await;
    assert_eq!(secret["value"], key.value().unwrap());

    // The outputs file, and the key only when asked.
    let shown = app.run(&["deploy", "--code", "stub", "--show-key"]).await;
    assert!(shown.stderr.contains(&format!("API key:    {}", key.value().unwrap())));
}

#[tokio::test]
async fn each_broken_link_is_named_and_repaired() {
    let app = TestApp::start().await;
    app.deploy().await;
    let api = app.api_id().await;
    let plan_id = app.plan().await.id().unwrap().to_owned();
    let key_id = app.key("StudentApiKey").await.id().unwrap().to_owned();
    let gw = &app.gateway;

    // Each break, the FAIL line that must name it, and the deploy line that repairs it.
    let students = app.resource_id(&api, "/students").await;
    let function_arn = aws_sdk_lambda::Client::new(&app.sdk)
        .get_function()
        .function_name("getStudentData")
        .send()
        .await
        .unwrap()
        .configuration
        .unwrap()
        .function_arn
        .unwrap();
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "key removed from plan",
            "API key StudentApiKey is in usage plan StudentUsagePlan: the key is not in the plan",
            "created plan-key StudentApiKey → StudentUsagePlan",
        ),
        (
            "stage removed from plan",
            "usage plan StudentUsagePlan is associated with student:prod: the plan does not include stage prod",
            "created association StudentUsagePlan → student:prod",
        ),
        (
            "method key off, redeployed",
            "GET /students requires the API key and proxies to getStudentData: apiKeyRequired is false",
            "updated method GET /students",
        ),
        (
            "key disabled",
            "API key StudentApiKey exists and is enabled: the key is disabled",
            "updated api-key StudentApiKey (enabled)",
        ),
        (
            "plan rate changed",
            "usage plan limits are rate 5/s, burst 10, quota 1000/DAY: the plan has rate Some(50.0)/s",
            "updated usage-plan StudentUsagePlan",
        ),
    ];
    for (case, failure, repair) in cases {
        match case {
            "key removed from plan" => {
                gw.delete_usage_plan_key().usage_plan_id(&plan_id).key_id(&key_id).send().await.unwrap();
            }
            "stage removed from plan" => {
                gw.update_usage_plan()
                    .usage_plan_id(&plan_id)
                    .patch_operations(patch(Op::Remove, "/apiStages", &format!("{api}:prod")))
                    .send()
                    .await
                    .unwrap();
            }
            "method key off, redeployed" => {
                // As a console user would: the method without a key, then "Deploy API".
                gw.delete_method().rest_api_id(&api).resource_id(&students).http_method("GET").send().await.unwrap();
                let uri = harness::apigateway::lambda_uri(&function_arn);
                harness::apigateway::put_proxy_method(gw, &api, &students, "GET", false, &uri).await;
                gw.create_deployment().rest_api_id(&api).stage_name("prod").send().await.unwrap();
            }
            "key disabled" => {
                gw.update_api_key()
                    .api_key(&key_id)
                    .patch_operations(patch(Op::Replace, "/enabled", "false"))
                    .send()
                    .await
                    .unwrap();
            }
            "plan rate changed" => {
                gw.update_usage_plan()
                    .usage_plan_id(&plan_id)
                    .patch_operations(patch(Op::Replace, "/throttle/rateLimit", "50"))
                    .send()
                    .await
                    .unwrap();
            }
            _ => unreachable!(),
        }
        let verify = app.verify().await;
        assert!(!verify.ok, "{case}: verify passed a broken system\n{}", verify.stdout);
        let failures = verify.failures();
        assert!(failures[0].starts_with(&format!("FAIL {failure}")), "{case}: {}", failures[0]);
        // A console redeploy also makes the stage's deployment unknown to infra; nothing else fails.
        let expected = if case == "method key off, redeployed" { 2 } else { 1 };
        assert_eq!(failures.len(), expected, "{case}:\n{}", verify.stdout);

        let repaired = app.deploy().await;
        assert!(repaired.lines().contains(&repair), "{case}: expected {repair:?} in\n{}", repaired.stdout);
        let verify = app.verify().await;
        assert!(verify.ok, "{case}: not repaired\n{}", verify.stdout);
    }
    // One deployment by the first deploy, one by the console user, one by the repair.
    assert_eq!(app.deployments(&api).await, 3);
    assert_eq!(app.plan().await.api_stages().len(), 1);
    assert_eq!(app.plan_keys(&plan_id).await, [key_id]);
}

#[tokio::test]
async fn a_method_changed_without_redeploying_is_named() {
    let app = TestApp::start().await;
    app.deploy().await;
    let api = app.api_id().await;
    let backup = app.resource_id(&api, "/backup").await;
    app.gateway.delete_method().rest_api_id(&api).resource_id(&backup).http_method("OPTIONS").send().await.unwrap();
    let verify = app.verify().await;
    let failures = verify.failures();
    assert!(
        failures.iter().any(|f| f
            .starts_with("FAIL OPTIONS /backup answers the CORS preflight without a key: there is no OPTIONS method")),
        "{}",
        verify.stdout
    );
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("FAIL stage prod is deployed with the current methods: the methods changed")),
        "{}",
        verify.stdout
    );
    let repaired = app.deploy().await;
    assert!(repaired.lines().contains(&"created method OPTIONS /backup"));
    // The method is back exactly as the stage's deployment already serves it: no new deployment.
    assert!(repaired.lines().contains(&"unchanged deployment student:prod"), "{}", repaired.stdout);
    assert!(app.verify().await.ok);
}

#[tokio::test]
async fn destroy_leaves_only_the_backups() {
    let app = TestApp::start().await;
    app.deploy().await;
    let s3 = aws_sdk_s3::Client::new(&app.sdk);
    s3.put_object()
        .bucket("student-backup-20250706")
        .key("backups/backup-x.json")
        .body(b"[]".to_vec().into())
        .send()
        .await
        .unwrap();

    let destroyed = app.run(&["destroy"]).await;
    assert!(destroyed.ok, "{}{}", destroyed.stdout, destroyed.stderr);
    assert!(
        destroyed
            .lines()
            .contains(&"kept bucket student-backup-20250706 (backups kept; --delete-backups removes them)")
    );
    assert!(app.gateway.get_rest_apis().send().await.unwrap().items().is_empty());
    assert!(app.gateway.get_api_keys().send().await.unwrap().items().is_empty());
    assert!(app.gateway.get_usage_plans().send().await.unwrap().items().is_empty());
    let lambda = aws_sdk_lambda::Client::new(&app.sdk);
    assert!(lambda.list_functions().send().await.unwrap().functions().is_empty());
    let iam = aws_sdk_iam::Client::new(&app.sdk);
    assert!(iam.list_roles().send().await.unwrap().roles().is_empty());
    let sm = aws_sdk_secretsmanager::Client::new(&app.sdk);
    assert!(sm.list_secrets().send().await.unwrap().secret_list().is_empty());
    let db = aws_sdk_dynamodb::Client::new(&app.sdk);
    assert!(db.list_tables().send().await.unwrap().table_names().is_empty());
    let ses = aws_sdk_sesv2::Client::new(&app.sdk);
    for address in [crate::app::SENDER, crate::app::RECIPIENT] {
        let gone = ses.get_email_identity().email_identity(address).send().await.unwrap_err();
        assert!(gone.as_service_error().is_some_and(|e| e.is_not_found_exception()), "{address} still exists");
    }
    let objects = s3.list_objects_v2().bucket("student-backup-20250706").send().await.unwrap();
    assert_eq!(objects.contents().len(), 1, "the backup survived");

    // Again: everything is already gone, which is fine.
    let again = app.run(&["destroy"]).await;
    assert!(again.ok, "{}", again.stderr);
    assert!(again.lines().iter().all(|l| l.starts_with("absent") || l.starts_with("kept")), "{}", again.stdout);

    let all = app.run(&["destroy", "--delete-backups"]).await;
    assert!(all.ok);
    assert!(all.lines().contains(&"deleted bucket student-backup-20250706"));
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
}

#[tokio::test]
async fn prefixed_systems_live_side_by_side() {
    let app = TestApp::start().await;
    app.deploy().await;
    let qa = app.run(&["--prefix", "qa-", "deploy", "--code", "stub"]).await;
    assert!(qa.ok, "{}", qa.stderr);
    assert!(qa.lines().contains(&"created rest-api qa-student"));
    assert!(qa.lines().contains(&"created table qa-studentData"));
    assert!(app.run(&["--prefix", "qa-", "verify"]).await.ok);
    assert!(app.verify().await.ok);
    assert_eq!(app.gateway.get_rest_apis().send().await.unwrap().items().len(), 2);
}

#[tokio::test]
async fn missing_prerequisites_are_named() {
    let app = TestApp::start().await;
    let run = app.run_with(&["deploy", "--code", "stub"], &[("RECIPIENT_EMAIL", "r@example.com")]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("missing prerequisite: --sender-email (or SENDER_EMAIL)"), "{}", run.stderr);
    let run = app.run(&["verify"]).await;
    assert!(!run.ok);
    assert!(
        run.lines().contains(&"FAIL REST API student exists: not found; run `infra deploy` to repair"),
        "{}",
        run.stdout
    );
    let run = app.run(&["keys", "list"]).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("missing prerequisite: usage plan StudentUsagePlan: run `infra deploy` first"),
        "{}",
        run.stderr
    );
    // GetUsage is not in the emulator: the message says where it is.
    app.deploy().await;
    let run = app.run(&["usage"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("GetUsage"), "{}", run.stderr);
}

#[tokio::test]
#[ignore = "cross-compiles the functions for arm64 (10+ minutes cold): run with scripts/test --real-build"]
async fn the_real_arm64_build_deploys_and_only_changed_code_is_uploaded() {
    let app = TestApp::start().await;
    let target = std::env::var("LAMBDA_TARGET_DIR").expect("scripts/test --real-build sets LAMBDA_TARGET_DIR");
    let env: Vec<(&str, String)> = vec![
        ("SENDER_EMAIL", crate::app::SENDER.into()),
        ("RECIPIENT_EMAIL", crate::app::RECIPIENT.into()),
        ("LAMBDA_TARGET_DIR", target.clone()),
        ("HOME", std::env::var("HOME").unwrap_or_default()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = app.run_in_workspace(&["deploy"], &env).await;
    assert!(first.ok, "{}{}", first.stdout, first.stderr);
    let lambda = aws_sdk_lambda::Client::new(&app.sdk);
    for name in ["getStudentData", "insertStudentData", "BackupDynamoDBAndSendEmail"] {
        assert!(first.lines().contains(&format!("created function {name}").as_str()));
        let zip = std::fs::read(format!("{target}/lambda/{name}/bootstrap.zip")).unwrap();
        assert!(zip.len() > 1_000_000, "{name}: a {} byte package is not a real build", zip.len());
        let config = lambda.get_function().function_name(name).send().await.unwrap().configuration.unwrap();
        assert_eq!(config.code_size(), zip.len() as i64);
        assert_eq!(config.architectures(), [aws_sdk_lambda::types::Architecture::Arm64]);
    }
    let second = app.run_in_workspace(&["deploy"], &env).await;
    assert!(second.ok, "{}", second.stderr);
    assert_eq!(second.changes(), Vec::<&str>::new(), "an unchanged build was uploaded again");
}
