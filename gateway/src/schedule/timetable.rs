//! What is scheduled and when: the rules as last read, each with its next due time, and the
//! invocations due at a given instant. Pure — no clock, no emulator — so the timing is tested
//! directly.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::expression::Schedule;
use super::rules::{Rule, Target};

/// How late a due time may still be fired. Later — the gateway was suspended across it — it is
/// skipped: no backlog, only the next due time.
pub const LATE_LIMIT: Duration = Duration::minutes(1);

/// One invocation to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub rule: String,
    pub function: String,
    pub payload: Bytes,
}

struct Entry {
    rule: Rule,
    /// `None`: the expression was refused (logged once, when read).
    schedule: Option<Schedule>,
    /// `None`: nothing more is due (refused, or a cron whose last time has passed).
    next: Option<OffsetDateTime>,
}

impl Entry {
    fn new(rule: Rule, now: OffsetDateTime) -> Self {
        let (name, expression) = (rule.name.as_str(), rule.expression.as_str());
        let (schedule, next) = match Schedule::parse(expression) {
            Ok(schedule) => {
                let next = schedule.next_due(now, now);
                match next {
                    Some(at) => tracing::info!(rule = name, expression, next = utc_seconds(at), "schedule running"),
                    None => tracing::info!(rule = name, expression, "schedule names no time to come"),
                }
                log_unsupported_targets(&rule);
                (Some(schedule), next)
            }
            Err(error) => {
                tracing::warn!(rule = name, expression, %error, "schedule expression refused; the rule will not run");
                (None, None)
            }
        };
        Self { rule, schedule, next }
    }
}

fn log_unsupported_targets(rule: &Rule) {
    for target in &rule.targets {
        if let Target::Unsupported { id, why } = target {
            tracing::warn!(rule = rule.name, target = id, why, "target skipped");
        }
    }
}

/// Rules by ARN.
#[derive(Default)]
pub struct Timetable {
    entries: HashMap<String, Entry>,
}

impl Timetable {
    /// Takes the rules as just read. A new rule, or one whose expression changed, is scheduled
    /// from `now`; a rule whose targets changed keeps its time; a rule no longer read (removed
    /// or disabled) stops.
    pub fn update(&mut self, rules: Vec<Rule>, now: OffsetDateTime) {
        let read: HashMap<String, Rule> = rules.into_iter().map(|r| (r.arn.clone(), r)).collect();
        self.entries.retain(|arn, entry| {
            let kept = read.contains_key(arn);
            if !kept {
                tracing::info!(rule = entry.rule.name, "schedule stopped: the rule was removed or disabled");
            }
            kept
        });
        for (arn, rule) in read {
            match self.entries.get_mut(&arn) {
                Some(entry) if entry.rule.expression == rule.expression => {
                    if entry.schedule.is_some() && entry.rule.targets != rule.targets {
                        log_unsupported_targets(&rule);
                    }
                    entry.rule = rule;
                }
                _ => {
                    self.entries.insert(arn, Entry::new(rule, now));
                }
            }
        }
    }

    /// The invocations due at `now`, one per target for each due time; each rule then moves to
    /// its first due time after `now`, so no due time fires twice.
    pub fn take_due(&mut self, now: OffsetDateTime) -> Vec<Firing> {
        let mut firings = Vec::new();
        for entry in self.entries.values_mut() {
            let (Some(schedule), Some(due)) = (&entry.schedule, entry.next) else { continue };
            if due > now {
                continue;
            }
            if now - due <= LATE_LIMIT {
                let event = scheduled_event(&entry.rule.arn, due);
                firings.extend(entry.rule.targets.iter().filter_map(|target| match target {
                    Target::Function { name, input } => Some(Firing {
                        rule: entry.rule.name.clone(),
                        function: name.clone(),
                        payload: input.clone().map_or_else(|| Bytes::from(event.to_string()), Bytes::from),
                    }),
                    Target::Unsupported { .. } => None,
                }));
            } else {
                let due = utc_seconds(due);
                tracing::warn!(
                    rule = entry.rule.name,
                    due,
                    "a due time long past was skipped (the gateway was not running)"
                );
            }
            entry.next = schedule.next_due(due, now);
        }
        firings
    }

    /// The earliest due time to come.
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        self.entries.values().filter_map(|e| e.next).min()
    }
}

/// EventBridge's scheduled event for the rule `rule_arn`
/// (`arn:aws:events:<region>:<account>:rule/<name>`) due at `due`.
pub fn scheduled_event(rule_arn: &str, due: OffsetDateTime) -> Value {
    let mut parts = rule_arn.split(':').skip(3);
    let (region, account) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": utc_seconds(due),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    })
}

/// `2026-11-30T02:00:00Z`: EventBridge's `time`, to the second.
fn utc_seconds(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset(time::UtcOffset::UTC).format(&format).expect("a date in range formats")
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const ARN: &str = "arn:aws:events:us-east-1:123456789012:rule/student-daily-backup";
    const T0: OffsetDateTime = datetime!(2026-11-30 10:00:00.4 UTC);

    fn rule(expression: &str, targets: &[&str]) -> Rule {
        Rule {
            arn: ARN.into(),
            name: "student-daily-backup".into(),
            expression: expression.into(),
            targets: targets.iter().map(|t| Target::Function { name: (*t).into(), input: None }).collect(),
        }
    }

    fn event(firing: &Firing) -> Value {
        serde_json::from_slice(&firing.payload).unwrap()
    }

    #[test]
    fn a_rate_fires_one_period_after_first_seen_and_each_due_time_once() {
        let mut table = Timetable::default();
        table.update(vec![rule("rate(1 minute)", &["backup"])], T0);
        assert_eq!(table.next_due(), Some(T0 + Duration::minutes(1)));
        assert!(table.take_due(T0 + Duration::seconds(59)).is_empty());
        let due = T0 + Duration::minutes(1);
        let fired = table.take_due(due + Duration::milliseconds(20));
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].rule.as_str(), fired[0].function.as_str()), ("student-daily-backup", "backup"));
        let e = event(&fired[0]);
        assert_eq!(e["time"], "2026-11-30T10:01:00Z");
        assert_eq!(e["resources"], json!([ARN]));
        assert!(uuid::Uuid::parse_str(e["id"].as_str().unwrap()).is_ok());
        // Never twice for one due time; the next one is a period on.
        assert!(table.take_due(due + Duration::seconds(1)).is_empty());
        assert_eq!(table.next_due(), Some(due + Duration::minutes(1)));
        // Reading the same rule again changes nothing.
        table.update(vec![rule("rate(1 minute)", &["backup"])], due + Duration::seconds(5));
        assert_eq!(table.next_due(), Some(due + Duration::minutes(1)));
    }

    #[test]
    fn the_scheduled_event_is_eventbridges() {
        let e = scheduled_event(ARN, datetime!(2026-11-30 02:00:00.731 UTC));
        let id = e["id"].clone();
        assert_eq!(
            e,
            json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
                   "account": "123456789012", "time": "2026-11-30T02:00:00Z", "region": "us-east-1",
                   "resources": [ARN], "detail": {}})
        );
    }

    #[test]
    fn a_due_time_long_past_is_skipped_not_fired_late() {
        let mut table = Timetable::default();
        table.update(vec![rule("rate(1 minute)", &["backup"])], T0);
        // Suspended for ten minutes: nothing fires; the next due time is the one to come.
        let woke = T0 + Duration::minutes(10) + Duration::seconds(30);
        assert!(table.take_due(woke).is_empty());
        assert_eq!(table.next_due(), Some(T0 + Duration::minutes(11)));
        // A little late (within the limit): fired once.
        assert_eq!(table.take_due(T0 + Duration::minutes(11) + Duration::seconds(20)).len(), 1);
    }

    #[test]
    fn every_target_is_invoked_and_a_constant_input_replaces_the_event() {
        let mut table = Timetable::default();
        let mut r = rule("cron(0 2 * * ? *)", &["one", "two"]);
        r.targets.push(Target::Function { name: "three".into(), input: Some(r#"{"x":1}"#.into()) });
        r.targets.push(Target::Unsupported { id: "queue".into(), why: "not a Lambda function".into() });
        table.update(vec![r], datetime!(2026-11-30 01:59:59 UTC));
        let mut fired = table.take_due(datetime!(2026-11-30 02:00:00 UTC));
        fired.sort_by(|a, b| a.function.cmp(&b.function));
        let functions: Vec<&str> = fired.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(functions, ["one", "three", "two"]);
        assert_eq!(fired[1].payload, Bytes::from(r#"{"x":1}"#));
        assert_eq!(event(&fired[0])["time"], "2026-11-30T02:00:00Z");
        assert_eq!(table.next_due(), Some(datetime!(2026-12-01 02:00:00 UTC)));
    }

    #[test]
    fn a_changed_expression_is_rescheduled_and_changed_targets_keep_the_time() {
        let mut table = Timetable::default();
        table.update(vec![rule("rate(5 minutes)", &["backup"])], T0);
        let later = T0 + Duration::minutes(2);
        table.update(vec![rule("rate(5 minutes)", &["backup", "other"])], later);
        assert_eq!(table.next_due(), Some(T0 + Duration::minutes(5)));
        assert_eq!(table.take_due(T0 + Duration::minutes(5)).len(), 2);
        table.update(vec![rule("cron(0/15 * * * ? *)", &["backup"])], T0 + Duration::minutes(6));
        assert_eq!(table.next_due(), Some(datetime!(2026-11-30 10:15:00 UTC)));
    }

    #[test]
    fn removed_disabled_and_refused_rules_do_not_fire() {
        let mut table = Timetable::default();
        table.update(vec![rule("rate(1 minute)", &["backup"])], T0);
        // Disabled rules are not read: the same as removed.
        table.update(vec![], T0 + Duration::seconds(30));
        assert_eq!(table.next_due(), None);
        assert!(table.take_due(T0 + Duration::minutes(1)).is_empty());
        table.update(vec![rule("rate(1 minutes)", &["backup"])], T0);
        assert_eq!(table.next_due(), None);
        assert!(table.take_due(T0 + Duration::minutes(1)).is_empty());
        // Corrected: scheduled from when it was read so.
        table.update(vec![rule("rate(1 minute)", &["backup"])], T0 + Duration::minutes(2));
        assert_eq!(table.next_due(), Some(T0 + Duration::minutes(3)));
    }
}
