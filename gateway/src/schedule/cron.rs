//! EventBridge's cron expressions — `cron(minutes hours day-of-month month day-of-week year)`,
//! in UTC — and the next time one names.
//!
//! Each field takes numbers, `*`, lists `a,b`, ranges `a-b` and steps `*/n`, `a/n`, `a-b/n`;
//! months also `JAN`–`DEC`, days of the week `SUN`–`SAT` (1 = Sunday … 7 = Saturday). Exactly one
//! of day-of-month and day-of-week is `?`, as EventBridge requires. `L`, `W` and `#` are refused.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::ExpressionError;

/// The values a field allows, as a set over its range (at most 256 values: years 1970–2199).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    min: u16,
    bits: [u64; 4],
}

impl Field {
    fn contains(&self, value: u16) -> bool {
        let Some(i) = value.checked_sub(self.min).map(usize::from) else { return false };
        i < 256 && self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    fn insert(&mut self, value: u16) {
        let i = usize::from(value - self.min);
        self.bits[i / 64] |= 1 << (i % 64);
    }
}

/// One field's rules: its name (for messages), range, and value names.
struct Spec {
    name: &'static str,
    min: u16,
    max: u16,
    names: &'static [&'static str],
}

const MINUTES: Spec = Spec { name: "minutes", min: 0, max: 59, names: &[] };
const HOURS: Spec = Spec { name: "hours", min: 0, max: 23, names: &[] };
const DAYS_OF_MONTH: Spec = Spec { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTHS: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
};
const DAYS_OF_WEEK: Spec =
    Spec { name: "day-of-week", min: 1, max: 7, names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] };
const YEARS: Spec = Spec { name: "year", min: 1970, max: 2199, names: &[] };

/// Which of the two day fields chooses the days (the other is `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    OfMonth(Field),
    /// 1 = Sunday … 7 = Saturday.
    OfWeek(Field),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Field,
    hours: Field,
    days: Days,
    months: Field,
    years: Field,
}

impl Cron {
    /// The six fields between `cron(` and `)`.
    pub fn parse(fields: &str) -> Result<Self, ExpressionError> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let [minutes, hours, day_of_month, month, day_of_week, year] = parts[..] else {
            return Err(ExpressionError::FieldCount(parts.len()));
        };
        let days = match (day_of_month, day_of_week) {
            ("?", "?") => return Err(ExpressionError::DayFields),
            (days, "?") => Days::OfMonth(field(&DAYS_OF_MONTH, days)?),
            ("?", days) => Days::OfWeek(field(&DAYS_OF_WEEK, days)?),
            _ => return Err(ExpressionError::DayFields),
        };
        Ok(Self {
            minutes: field(&MINUTES, minutes)?,
            hours: field(&HOURS, hours)?,
            days,
            months: field(&MONTHS, month)?,
            years: field(&YEARS, year)?,
        })
    }

    /// The first time strictly after `after` that the expression names (at second 0), or
    /// `None` if there is none before the end of 2199. Bounded: one step per day at most,
    /// whole months and years skipped when they cannot match.
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after = after.to_offset(time::UtcOffset::UTC);
        let minute = after.replace_second(0).ok()?.replace_nanosecond(0).ok()?;
        let start = minute + time::Duration::minutes(1);
        let mut date = start.date();
        let mut from = (start.hour(), start.minute());
        while date.year() <= i32::from(YEARS.max) {
            let year = u16::try_from(date.year()).ok()?;
            if !self.years.contains(year) {
                date = Date::from_calendar_date(date.year() + 1, Month::January, 1).ok()?;
                from = (0, 0);
                continue;
            }
            if !self.months.contains(u8::from(date.month()).into()) {
                date = first_of_next_month(date)?;
                from = (0, 0);
                continue;
            }
            if self.day_matches(date)
                && let Some((hour, minute)) = self.first_time_from(from)
            {
                let at = PrimitiveDateTime::new(date, Time::from_hms(hour, minute, 0).ok()?);
                return Some(at.assume_utc());
            }
            date = date.next_day()?;
            from = (0, 0);
        }
        None
    }

    fn day_matches(&self, date: Date) -> bool {
        match &self.days {
            Days::OfMonth(days) => days.contains(date.day().into()),
            Days::OfWeek(days) => days.contains(date.weekday().number_from_sunday().into()),
        }
    }

    /// The first (hour, minute) of a day at or after `from` that the expression names.
    fn first_time_from(&self, from: (u8, u8)) -> Option<(u8, u8)> {
        (from.0..24).filter(|h| self.hours.contains((*h).into())).find_map(|hour| {
            let first = if hour == from.0 { from.1 } else { 0 };
            (first..60).find(|m| self.minutes.contains((*m).into())).map(|minute| (hour, minute))
        })
    }
}

fn first_of_next_month(date: Date) -> Option<Date> {
    let (year, month) = match date.month() {
        Month::December => (date.year() + 1, Month::January),
        month => (date.year(), month.next()),
    };
    Date::from_calendar_date(year, month, 1).ok()
}

/// One field: a comma-separated list of `*`, `v`, `a-b`, each optionally `/step`.
fn field(spec: &Spec, text: &str) -> Result<Field, ExpressionError> {
    let bad = || ExpressionError::Field { field: spec.name, value: text.to_owned() };
    let mut set = Field { min: spec.min, bits: [0; 4] };
    for item in text.split(',') {
        // `L` (last), `W` (weekday) and `#` (nth weekday) — but `JUL` is a month.
        let last = item.rsplit(['-', '/']).next().unwrap_or(item);
        if item.contains('#') || (last.ends_with(['L', 'W', 'l', 'w']) && value(spec, last).is_none()) {
            return Err(ExpressionError::Unsupported { field: spec.name, value: text.to_owned() });
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, step.parse::<u16>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
            None => (item, 1),
        };
        let (first, last) = match range {
            "*" => (spec.min, spec.max),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(spec, a).ok_or_else(bad)?, value(spec, b).ok_or_else(bad)?),
                // `a/n` runs from a to the end of the range; `a` alone is a itself.
                None => {
                    let a = value(spec, range).ok_or_else(bad)?;
                    (a, if item.contains('/') { spec.max } else { a })
                }
            },
        };
        if first > last {
            return Err(bad());
        }
        for v in (first..=last).step_by(usize::from(step)) {
            set.insert(v);
        }
    }
    Ok(set)
}

/// A number within the field's range, or one of its names (any case).
fn value(spec: &Spec, text: &str) -> Option<u16> {
    let named = spec.names.iter().position(|n| n.eq_ignore_ascii_case(text));
    let v = match named {
        Some(i) => spec.min + u16::try_from(i).ok()?,
        None => text.parse().ok()?,
    };
    (spec.min..=spec.max).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn cron(fields: &str) -> Cron {
        Cron::parse(fields).unwrap_or_else(|e| panic!("{fields}: {e}"))
    }

    #[test]
    fn daily_at_two_fires_the_same_day_then_the_next() {
        let daily = cron("0 2 * * ? *");
        assert_eq!(daily.next_after(datetime!(2026-11-30 01:59:59 UTC)), Some(datetime!(2026-11-30 02:00:00 UTC)));
        assert_eq!(daily.next_after(datetime!(2026-11-30 02:00:00 UTC)), Some(datetime!(2026-12-01 02:00:00 UTC)));
        assert_eq!(daily.next_after(datetime!(2026-12-31 02:00:00 UTC)), Some(datetime!(2027-01-01 02:00:00 UTC)));
    }

    #[test]
    fn weekdays_skip_the_weekend() {
        let weekdays = cron("15 10 ? * MON-FRI *");
        // 2026-11-27 is a Friday.
        assert_eq!(weekdays.next_after(datetime!(2026-11-27 10:14:00 UTC)), Some(datetime!(2026-11-27 10:15:00 UTC)));
        assert_eq!(weekdays.next_after(datetime!(2026-11-27 10:15:00 UTC)), Some(datetime!(2026-11-30 10:15:00 UTC)));
        assert_eq!(cron("15 10 ? * 2-6 *"), weekdays);
        // 1 = Sunday.
        assert_eq!(
            cron("0 0 ? * 1 *").next_after(datetime!(2026-11-27 00:00 UTC)),
            Some(datetime!(2026-11-29 00:00 UTC))
        );
    }

    #[test]
    fn steps_lists_and_names() {
        let quarter = cron("0/15 * * * ? *");
        assert_eq!(quarter.next_after(datetime!(2026-11-30 10:00:00 UTC)), Some(datetime!(2026-11-30 10:15:00 UTC)));
        assert_eq!(quarter.next_after(datetime!(2026-11-30 10:59:30 UTC)), Some(datetime!(2026-11-30 11:00:00 UTC)));
        assert_eq!(quarter, cron("*/15 * * * ? *"));
        assert_eq!(quarter, cron("0,15,30,45 * * * ? *"));
        let evenings = cron("0 18-22/2 * * ? *");
        assert_eq!(evenings.next_after(datetime!(2026-11-30 18:00 UTC)), Some(datetime!(2026-11-30 20:00 UTC)));
        assert_eq!(evenings.next_after(datetime!(2026-11-30 22:00 UTC)), Some(datetime!(2026-12-01 18:00 UTC)));
        let quarterly = cron("0 0 1 jan,Apr,JUL,OCT ? *");
        assert_eq!(quarterly.next_after(datetime!(2026-11-30 00:00 UTC)), Some(datetime!(2027-01-01 00:00 UTC)));
    }

    #[test]
    fn days_and_years_that_do_not_come() {
        // The 31st: only months that have one.
        let last = cron("0 0 31 * ? *");
        assert_eq!(last.next_after(datetime!(2026-11-01 00:00 UTC)), Some(datetime!(2026-12-31 00:00 UTC)));
        // 29 February: the next leap year.
        let leap = cron("0 12 29 2 ? *");
        assert_eq!(leap.next_after(datetime!(2026-11-30 00:00 UTC)), Some(datetime!(2028-02-29 12:00 UTC)));
        // A year gone by never comes again; 30 February never comes.
        assert_eq!(cron("0 0 * * ? 2020").next_after(datetime!(2026-11-30 00:00 UTC)), None);
        assert_eq!(cron("0 0 30 2 ? *").next_after(datetime!(2026-11-30 00:00 UTC)), None);
        assert_eq!(
            cron("0 0 1 1 ? 2030-2032").next_after(datetime!(2026-11-30 00:00 UTC)),
            Some(datetime!(2030-01-01 00:00 UTC))
        );
    }

    #[test]
    fn invalid_expressions_are_refused() {
        for (fields, why) in [
            ("0 2 * * *", "five fields"),
            ("0 2 * * ? * *", "seven fields"),
            ("0 2 * * * *", "both day fields"),
            ("0 2 ? * ? *", "neither day field"),
            ("60 2 * * ? *", "minute 60"),
            ("0 24 * * ? *", "hour 24"),
            ("0 2 0 * ? *", "day 0"),
            ("0 2 * 13 ? *", "month 13"),
            ("0 2 ? * 8 *", "day-of-week 8"),
            ("0 2 * * ? 1969", "year 1969"),
            ("0 2 * FOO ? *", "an unknown month"),
            ("0 5-2 * * ? *", "a backwards range"),
            ("*/0 * * * ? *", "a zero step"),
            ("? 2 * * ? *", "? in minutes"),
            ("0 2 , * ? *", "an empty list item"),
        ] {
            assert!(Cron::parse(fields).is_err(), "{why}: {fields}");
        }
        for fields in ["0 2 L * ? *", "0 2 15W * ? *", "0 2 ? * 6#3 *", "0 2 ? * 6L *"] {
            assert!(matches!(Cron::parse(fields), Err(ExpressionError::Unsupported { .. })), "{fields}");
        }
    }
}
