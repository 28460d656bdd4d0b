//! EventBridge schedules run by the local gateway: a rule changed in the emulator runs the
//! backup function on its new schedule, and the backup lands in the bucket.

use std::time::Duration;

use aws_sdk_eventbridge::types::{RuleState, Target};
use system::backup::BackupId;
use system::names::{BACKUP_FUNCTION, SCHEDULE_RULE};

use crate::app::{TestApp, within};

#[tokio::test]
async fn a_rule_on_a_one_minute_rate_runs_the_backup() {
    let app = TestApp::start(&[]).await;
    let sdk = app.sdk().await;
    let outputs = app.outputs();
    // The rule as infra deploys it, or anew where it does not yet; then every minute.
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    events
        .put_rule()
        .name(SCHEDULE_RULE)
        .schedule_expression("rate(1 minute)")
        .state(RuleState::Enabled)
        .send()
        .await
        .expect("PutRule");
    let backup = Target::builder().id("backup").arn(&outputs.functions[BACKUP_FUNCTION].arn).build().unwrap();
    events.put_targets().rule(SCHEDULE_RULE).targets(backup).send().await.expect("PutTargets");

    // Read within 5 s, first due a minute later, then the backup itself.
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let took = within(Duration::from_secs(120), "a scheduled backup in the bucket", || async {
        let listed = s3.list_objects_v2().bucket(&outputs.bucket).prefix(system::backup::PREFIX).send().await;
        listed.is_ok_and(|l| l.contents().iter().any(|o| o.key().and_then(BackupId::of_object).is_some()))
    })
    .await;
    assert!(took >= Duration::from_secs(50), "fired a period after the rule was read, not at once ({took:?})");
}
