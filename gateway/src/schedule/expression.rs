//! A rule's `ScheduleExpression` — `rate(...)` or `cron(...)` — and when it is next due.

use time::{Duration, OffsetDateTime};

use super::cron::Cron;

/// Why an expression is refused (the rule is then not run, and the reason logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("neither rate(...) nor cron(...)")]
    NotAnExpression,
    #[error(
        "a rate is a whole number above 0 and minute(s), hour(s) or day(s), singular for 1: rate(1 hour), rate(5 minutes)"
    )]
    Rate,
    #[error("a cron expression has six fields (minutes hours day-of-month month day-of-week year), not {0}")]
    FieldCount(usize),
    #[error("exactly one of day-of-month and day-of-week must be ?")]
    DayFields,
    #[error("{field}: {value:?} is not a valid value")]
    Field { field: &'static str, value: String },
    #[error("{field}: {value:?} uses L, W or #, which the local gateway does not support")]
    Unsupported { field: &'static str, value: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every period, counted from when the rule was first seen.
    Rate(Duration),
    Cron(Cron),
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, ExpressionError> {
        let expression = expression.trim();
        let inside = |prefix| expression.strip_prefix(prefix).and_then(|e: &str| e.strip_suffix(')'));
        if let Some(rate) = inside("rate(") {
            return rate_period(rate).map(Self::Rate);
        }
        if let Some(fields) = inside("cron(") {
            return Cron::parse(fields).map(Self::Cron);
        }
        Err(ExpressionError::NotAnExpression)
    }

    /// The first time after `now` that the schedule is due; a rate counts its periods from
    /// `last` (when its rule was first seen, or the due time just fired). Always after `now`,
    /// so a due time is never fired twice and missed ones are not fired late.
    pub fn next_due(&self, last: OffsetDateTime, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Rate(period) => {
                let periods = (now - last).whole_seconds().max(0) / period.whole_seconds() + 1;
                Some(last + *period * i32::try_from(periods).ok()?)
            }
            Self::Cron(cron) => cron.next_after(now),
        }
    }
}

/// `N minute(s)|hour(s)|day(s)`: singular exactly when N is 1, as EventBridge requires.
fn rate_period(rate: &str) -> Result<Duration, ExpressionError> {
    let parts: Vec<&str> = rate.split_whitespace().collect();
    let [count, unit] = parts[..] else { return Err(ExpressionError::Rate) };
    let count: i64 = count.parse().ok().filter(|n| *n > 0).ok_or(ExpressionError::Rate)?;
    let unit = if count == 1 { Some(unit) } else { unit.strip_suffix('s') };
    let seconds = match unit {
        Some("minute") => 60,
        Some("hour") => 3600,
        Some("day") => 86_400,
        _ => return Err(ExpressionError::Rate),
    };
    Ok(Duration::seconds(count.checked_mul(seconds).ok_or(ExpressionError::Rate)?))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn rates_count_periods_from_when_first_seen() {
        let five = Schedule::parse("rate(5 minutes)").unwrap();
        assert_eq!(five, Schedule::Rate(Duration::minutes(5)));
        let seen = datetime!(2026-11-30 10:00:00.25 UTC);
        assert_eq!(five.next_due(seen, seen), Some(datetime!(2026-11-30 10:05:00.25 UTC)));
        // Fired at its due time (a little late): the next period, not one from now.
        let due = datetime!(2026-11-30 10:05:00.25 UTC);
        assert_eq!(five.next_due(due, due + Duration::seconds(2)), Some(datetime!(2026-11-30 10:10:00.25 UTC)));
        // Late by several periods: the next one to come, none of the missed.
        assert_eq!(five.next_due(due, datetime!(2026-11-30 10:21:00 UTC)), Some(datetime!(2026-11-30 10:25:00.25 UTC)));
        assert_eq!(
            five.next_due(due, datetime!(2026-11-30 10:10:00.25 UTC)),
            Some(datetime!(2026-11-30 10:15:00.25 UTC))
        );
        assert_eq!(Schedule::parse("rate(1 minute)").unwrap(), Schedule::Rate(Duration::minutes(1)));
        assert_eq!(Schedule::parse("rate(2 hours)").unwrap(), Schedule::Rate(Duration::hours(2)));
        assert_eq!(Schedule::parse("rate(1 day)").unwrap(), Schedule::Rate(Duration::days(1)));
    }

    #[test]
    fn cron_expressions_name_their_times() {
        let daily = Schedule::parse("cron(0 2 * * ? *)").unwrap();
        let before = datetime!(2026-11-30 01:59:59 UTC);
        assert_eq!(daily.next_due(before, before), Some(datetime!(2026-11-30 02:00:00 UTC)));
        let at = datetime!(2026-11-30 02:00:00 UTC);
        assert_eq!(daily.next_due(at, at), Some(datetime!(2026-12-01 02:00:00 UTC)));
    }

    #[test]
    fn invalid_expressions_are_refused() {
        for expression in [
            "",
            "rate(5)",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(5 weeks)",
            "rate(5 minutes",
            "every 5 minutes",
            "cron(0 2 * * ? *",
            "cron(0 2 * * *)",
            "at(2026-11-30T02:00:00)",
        ] {
            assert!(Schedule::parse(expression).is_err(), "{expression:?}");
        }
        assert_eq!(Schedule::parse("rate(1 minutes)"), Err(ExpressionError::Rate));
        assert_eq!(Schedule::parse("cron(0 2 * * *)"), Err(ExpressionError::FieldCount(5)));
    }
}
