//! The daily backup: the EventBridge rule, its target and the function's permission, read
//! back with the SDK; changed by `--backup-schedule`, removed by `--no-backup-schedule`, named
//! by `verify` when changed by hand, removed by `destroy`.

use aws_sdk_eventbridge::Client as Events;
use aws_sdk_eventbridge::types::{RuleState, Target};
use serde_json::Value;

use crate::app::TestApp;

const RULE: &str = "student-daily-backup";
const RULE_ARN: &str = "arn:aws:events:us-east-1:123456789012:rule/student-daily-backup";
const FUNCTION: &str = "BackupDynamoDBAndSendEmail";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:BackupDynamoDBAndSendEmail";
const STATEMENT: &str = "student-daily-backup-invoke";

/// The rule's (expression, state), or `None` when there is no rule.
async fn rule(events: &Events) -> Option<(String, RuleState)> {
    match events.describe_rule().name(RULE).send().await {
        Ok(r) => Some((r.schedule_expression().unwrap_or_default().to_owned(), r.state().unwrap().clone())),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => None,
        Err(e) => panic!("DescribeRule: {e:?}"),
    }
}

/// The function's policy statement for the rule, if any.
async fn permission(app: &TestApp) -> Option<Value> {
    let lambda = aws_sdk_lambda::Client::new(&app.sdk);
    let policy = lambda.get_policy().function_name(FUNCTION).send().await.ok()?;
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == STATEMENT).cloned()
}

#[tokio::test]
async fn the_daily_backup_is_scheduled_changed_and_removed() {
    let app = TestApp::start().await;
    let first = app.deploy().await;
    for line in [
        format!("created schedule-rule {RULE}"),
        format!("created schedule-target {RULE} → {FUNCTION}"),
        format!("created permission {FUNCTION} {STATEMENT}"),
    ] {
        assert!(first.lines().contains(&line.as_str()), "{line:?} missing in\n{}", first.stdout);
    }

    // Read back: every day at 02:00 UTC, enabled, tagged; the function as its one target with
    // no input of its own; EventBridge may invoke the function for this rule only.
    let events = Events::new(&app.sdk);
    assert_eq!(rule(&events).await, Some(("cron(0 2 * * ? *)".to_owned(), RuleState::Enabled)));
    let tags = events.list_tags_for_resource().resource_arn(RULE_ARN).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "student-records:stack" && t.value() == "default"), "{tags:?}");
    let targets = events.list_targets_by_rule().rule(RULE).send().await.unwrap();
    let [target] = targets.targets() else { panic!("one target: {targets:?}") };
    assert_eq!((target.id(), target.arn()), ("backup", FUNCTION_ARN));
    assert_eq!((target.input(), target.input_path()), (None, None));
    let statement = permission(&app).await.expect("the rule may invoke the function");
    assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com", "{statement}");
    assert_eq!(statement["Action"], "lambda:InvokeFunction", "{statement}");
    assert_eq!(statement["Condition"]["ArnLike"]["AWS:SourceArn"], RULE_ARN, "{statement}");
    assert!(app.verify().await.ok);

    // Another schedule: the plan names the field, deploy changes it, verify expects it when told.
    let hourly = ["deploy", "--code", "stub", "--backup-schedule", "rate(1 hour)"];
    let plan = app.run(&[&hourly[..], &["--plan"]].concat()).await;
    assert_eq!(plan.code, Some(2), "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.lines().contains(
            &"update schedule-rule student-daily-backup: scheduleExpression cron(0 2 * * ? *) → rate(1 hour)"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.lines().iter().any(|l| l.starts_with("plan: 0 to create, 1 to update, 0 to delete")),
        "{}",
        plan.stdout
    );
    let changed = app.run(&hourly).await;
    assert!(changed.ok, "{}", changed.stderr);
    assert_eq!(changed.changes(), [format!("updated schedule-rule {RULE}").as_str()], "{}", changed.stdout);
    assert_eq!(rule(&events).await, Some(("rate(1 hour)".to_owned(), RuleState::Enabled)));
    assert!(app.run(&["verify", "--backup-schedule", "rate(1 hour)"]).await.ok);
    let expected_daily = app.verify().await;
    assert!(
        expected_daily.failures().contains(
            &"FAIL schedule-rule student-daily-backup runs the backup on cron(0 2 * * ? *), enabled: scheduleExpression rate(1 hour) → cron(0 2 * * ? *); run `infra deploy` to repair"
        ),
        "{}",
        expected_daily.stdout
    );
    let invalid = app.run(&["deploy", "--code", "stub", "--backup-schedule", "daily"]).await;
    assert!(!invalid.ok && invalid.stderr.contains("cron(") && invalid.stderr.contains("rate("), "{}", invalid.stderr);

    // Changed by hand: disabled, and the target given an input of its own. Verify names both;
    // deploy repairs both.
    events.disable_rule().name(RULE).send().await.unwrap();
    let custom = Target::builder().id("backup").arn(FUNCTION_ARN).input(r#"{"hand":"made"}"#).build().unwrap();
    events.put_targets().rule(RULE).targets(custom).send().await.unwrap();
    let verify = app.run(&["verify", "--backup-schedule", "rate(1 hour)"]).await;
    assert!(!verify.ok);
    assert_eq!(
        verify.failures(),
        [
            "FAIL schedule-rule student-daily-backup runs the backup on rate(1 hour), enabled: state DISABLED → ENABLED; run `infra deploy` to repair",
            "FAIL schedule-target student-daily-backup → BackupDynamoDBAndSendEmail, with EventBridge's scheduled event: input custom → none; run `infra deploy` to repair",
        ],
        "{}",
        verify.stdout
    );
    let repaired = app.run(&hourly).await;
    assert_eq!(
        repaired.changes(),
        [format!("updated schedule-rule {RULE}"), format!("updated schedule-target {RULE} → {FUNCTION}")],
        "{}",
        repaired.stdout
    );
    assert_eq!(rule(&events).await, Some(("rate(1 hour)".to_owned(), RuleState::Enabled)));
    let targets = events.list_targets_by_rule().rule(RULE).send().await.unwrap();
    assert_eq!(targets.targets()[0].input(), None);

    // No schedule: the plan says what goes; deploy removes the rule, its target and the
    // permission; again, nothing changes.
    let none = ["deploy", "--code", "stub", "--no-backup-schedule"];
    let plan = app.run(&[&none[..], &["--plan"]].concat()).await;
    assert_eq!(plan.code, Some(2), "{}{}", plan.stdout, plan.stderr);
    let removals = [
        format!("schedule-target {RULE} → {FUNCTION}"),
        format!("schedule-rule {RULE}"),
        format!("permission {FUNCTION} {STATEMENT}"),
    ];
    for removal in &removals {
        assert!(plan.lines().contains(&format!("delete {removal}").as_str()), "{removal}:\n{}", plan.stdout);
    }
    assert!(
        plan.lines().iter().any(|l| l.starts_with("plan: 0 to create, 0 to update, 3 to delete")),
        "{}",
        plan.stdout
    );
    assert!(rule(&events).await.is_some(), "the plan removed nothing");
    let removed = app.run(&none).await;
    assert!(removed.ok, "{}", removed.stderr);
    let deleted: Vec<String> = removals.iter().map(|r| format!("deleted {r}")).collect();
    assert_eq!(removed.changes(), deleted, "{}", removed.stdout);
    assert_eq!(rule(&events).await, None);
    assert!(permission(&app).await.is_none(), "the permission is gone");
    assert_eq!(app.run(&none).await.changes(), Vec::<&str>::new());
    assert!(app.run(&["verify", "--no-backup-schedule"]).await.ok);

    // Back on the default schedule, then destroyed with the rest.
    app.deploy().await;
    assert_eq!(rule(&events).await, Some(("cron(0 2 * * ? *)".to_owned(), RuleState::Enabled)));
    let destroyed = app.run(&["destroy", "--yes"]).await;
    assert!(destroyed.ok, "{}", destroyed.stderr);
    for removal in &removals {
        assert!(destroyed.lines().contains(&format!("deleted {removal}").as_str()), "{removal}:\n{}", destroyed.stdout);
    }
    assert_eq!(rule(&events).await, None);
}
