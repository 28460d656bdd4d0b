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
        // The code is the newest version of the function's layer; the package itself is a stand-in.
        let layer = format!("{name}-code");
        assert!(first.lines().contains(&format!("created code-version {layer}").as_str()), "{}", first.stdout);
        let versions = lambda.list_layer_versions().layer_name(&layer).send().await.unwrap();
        let newest = versions.layer_versions().iter().max_by_key(|v| v.version).unwrap();
        let got = lambda.get_layer_version().layer_name(&layer).version_number(newest.version).send().await.unwrap();
        assert_eq!(got.content().unwrap().code_size(), zip.len() as i64);
        let config = lambda.get_function().function_name(name).send().await.unwrap().configuration.unwrap();
        assert_eq!(config.layers()[0].arn(), newest.layer_version_arn());
        assert_eq!(config.architectures(), [aws_sdk_lambda::types::Architecture::Arm64]);
    }
    let second = app.run_in_workspace(&["deploy"], &env).await;
    assert!(second.ok, "{}", second.stderr);
    assert_eq!(second.changes(), Vec::<&str>::new(), "an unchanged build was uploaded again");
}

/// What deploy makes is protected, tagged with its stack and bounded: read back from the
/// emulator with the SDK, not from infra's own words.
#[tokio::test]
async fn deployed_resources_are_protected_tagged_and_bounded() {
    let app = TestApp::start().await;
    let run = app.run(&["deploy", "--code", "stub", "--log-retention-days", "30"]).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let tag = |pairs: Vec<(String, String)>| {
        pairs.into_iter().find(|(k, _)| k == "student-records:stack").map(|(_, v)| v).unwrap_or_default()
    };

    let db = aws_sdk_dynamodb::Client::new(&app.sdk);
    let table = db.describe_table().table_name("studentData").send().await.unwrap().table.unwrap();
    assert_eq!(table.deletion_protection_enabled(), Some(true));
    let pitr = db.describe_continuous_backups().table_name("studentData").send().await.unwrap();
    let status = pitr.continuous_backups_description().unwrap().point_in_time_recovery_description().unwrap();
    assert_eq!(status.point_in_time_recovery_status().unwrap().as_str(), "ENABLED");
    let tags = db.list_tags_of_resource().resource_arn(table.table_arn().unwrap()).send().await.unwrap();
    assert_eq!(tag(tags.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()), "default");

    // The catalog of backups: as protected, keyed by catalog and backupId, on demand.
    let catalog = db.describe_table().table_name("studentBackups").send().await.unwrap().table.unwrap();
    assert_eq!(catalog.deletion_protection_enabled(), Some(true));
    let key: Vec<(&str, &str)> =
        catalog.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().as_str())).collect();
    assert_eq!(key, [("catalog", "HASH"), ("backupId", "RANGE")]);
    assert_eq!(
        catalog.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );
    let pitr = db.describe_continuous_backups().table_name("studentBackups").send().await.unwrap();
    let status = pitr.continuous_backups_description().unwrap().point_in_time_recovery_description().unwrap();
    assert_eq!(status.point_in_time_recovery_status().unwrap().as_str(), "ENABLED");
    let tags = db.list_tags_of_resource().resource_arn(catalog.table_arn().unwrap()).send().await.unwrap();
    assert_eq!(tag(tags.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()), "default");

    // The bucket: versioned (an overwrite keeps the old version), incomplete uploads aborted
    // after 7 days, encrypted, private, tagged.
    let s3 = aws_sdk_s3::Client::new(&app.sdk);
    let bucket = "student-backup-20250706";
    for body in ["one", "two"] {
        s3.put_object().bucket(bucket).key("probe").body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    let versions = s3.list_object_versions().bucket(bucket).prefix("probe").send().await.unwrap();
    assert_eq!(versions.versions().len(), 2, "versioning keeps both");
    let lifecycle = s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await.unwrap();
    let abort = lifecycle.rules()[0].abort_incomplete_multipart_upload().unwrap().days_after_initiation();
    assert_eq!(abort, Some(7));
    let encryption = s3.get_bucket_encryption().bucket(bucket).send().await.unwrap();
    assert!(
        encryption.server_side_encryption_configuration().unwrap().rules()[0]
            .apply_server_side_encryption_by_default()
            .is_some()
    );
    let block =
        s3.get_public_access_block().bucket(bucket).send().await.unwrap().public_access_block_configuration.unwrap();
    assert_eq!(block.restrict_public_buckets(), Some(true));
    let tags = s3.get_bucket_tagging().bucket(bucket).send().await.unwrap();
    assert_eq!(tag(tags.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()), "default");
    // (No TLS-only policy here: the emulator serves plain HTTP, where it would lock everyone
    // out; a unit test checks the statement, and verify says so.)

    // Roles carry the boundary, which exists and is tagged.
    let iam = aws_sdk_iam::Client::new(&app.sdk);
    let boundary = "arn:aws:iam::123456789012:policy/student-records-boundary";
    let policy = iam.get_policy().policy_arn(boundary).send().await.unwrap().policy.unwrap();
    assert_eq!(tag(policy.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()), "default");
    for role in ["getStudentData-us-east-1", "insertStudentData-us-east-1", "BackupDynamoDBAndSendEmail-us-east-1"] {
        let role = iam.get_role().role_name(role).send().await.unwrap().role.unwrap();
        assert_eq!(
            role.permissions_boundary().unwrap().permissions_boundary_arn(),
            Some(boundary),
            "{}",
            role.role_name()
        );
        assert_eq!(tag(role.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()), "default");
    }

    // The backup role cannot delete: a backup, once written, is never deleted or replaced.
    let backup_role = iam
        .get_role_policy()
        .role_name("BackupDynamoDBAndSendEmail-us-east-1")
        .policy_name("least-privilege")
        .send()
        .await
        .unwrap();
    // IAM returns the document URL-encoded.
    let document = percent_encoding::percent_decode_str(backup_role.policy_document()).decode_utf8().unwrap();
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    let mut bucket_actions = Vec::new();
    for statement in document["Statement"].as_array().unwrap() {
        let on_bucket = statement["Resource"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains(bucket));
        let actions = statement["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned());
        bucket_actions.extend(actions.filter(|_| on_bucket));
    }
    assert!(bucket_actions.contains(&"s3:PutObject".to_owned()), "{document}");
    for action in &bucket_actions {
        assert!(
            !action.starts_with("s3:Delete") && !action.contains('*'),
            "the backup role may {action} on the bucket: {document}"
        );
    }

    // Log groups with the asked retention; functions on their code layer, tagged.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&app.sdk);
    let lambda = aws_sdk_lambda::Client::new(&app.sdk);
    for f in ["getStudentData", "insertStudentData", "BackupDynamoDBAndSendEmail"] {
        let groups = logs.describe_log_groups().log_group_name_prefix(format!("/aws/lambda/{f}")).send().await.unwrap();
        assert_eq!(groups.log_groups()[0].retention_in_days(), Some(30), "{f}");
        let got = lambda.get_function().function_name(f).send().await.unwrap();
        assert_eq!(got.tags().unwrap()["student-records:stack"], "default");
        let layers = got.configuration().unwrap().layers();
        assert!(layers[0].arn().unwrap().contains(&format!(":layer:{f}-code:")), "{layers:?}");
    }

    // The API, its key and plan, and the key's secret.
    let api = app.gateway.get_rest_apis().send().await.unwrap();
    assert_eq!(api.items()[0].tags().unwrap()["student-records:stack"], "default");
    assert_eq!(app.key("StudentApiKey").await.tags().unwrap()["student-records:stack"], "default");
    assert_eq!(app.plan().await.tags().unwrap()["student-records:stack"], "default");
    let sm = aws_sdk_secretsmanager::Client::new(&app.sdk);
    let secret = sm.describe_secret().secret_id("student/api-key").send().await.unwrap();
    assert!(secret.tags().iter().any(|t| t.key() == Some("student-records:stack") && t.value() == Some("default")));

    // A retention changed by hand is drift that deploy repairs.
    logs.put_retention_policy().log_group_name("/aws/lambda/getStudentData").retention_in_days(7).send().await.unwrap();
    let verify = app.verify().await;
    assert!(
        verify
            .failures()
            .iter()
            .any(|f| f.contains("log-group /aws/lambda/getStudentData") && f.contains("retentionInDays 7 → 90")),
        "{}",
        verify.stdout
    );
}

#[tokio::test]
async fn missing_credentials_are_named_with_the_endpoint() {
    let app = TestApp::start().await;
    let run = app
        .run_clean(&["verify"], &[("AWS_ENDPOINT_URL", app.emulator.endpoint.as_str()), ("AWS_REGION", "us-east-1")])
        .await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains(&format!("no AWS credentials found (asked {})", app.emulator.endpoint)),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("AWS_PROFILE"), "{}", run.stderr);
    assert!(!run.stderr.contains("DispatchFailure"), "no Debug dump: {}", run.stderr);
}
