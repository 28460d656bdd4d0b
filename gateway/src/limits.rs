//! Usage-plan enforcement: a token bucket per (plan, key) and a quota per period, exact so
//! tests can rely on them; and the per-day usage that GetUsage reports.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use time::Date;

use crate::model::{Period, Quota, Throttle};

/// Time, injectable: monotonic for the bucket, the UTC date for the quota.
pub trait Clock: Send + Sync {
    fn elapsed(&self) -> Duration;
    fn today(&self) -> Date;
}

/// The system clock.
pub struct SystemClock(std::time::Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    fn today(&self) -> Date {
        time::OffsetDateTime::now_utc().date()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// The token bucket is empty.
    Throttled,
    /// The quota for the period is used up.
    QuotaExceeded,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

/// One key under one plan.
#[derive(Default)]
struct Usage {
    bucket: Option<Bucket>,
    /// Day → requests admitted (past the throttle and within the quota).
    days: BTreeMap<Date, u64>,
}

impl Usage {
    fn used_between(&self, first: Date, last: Date) -> u64 {
        self.days.range(first..=last).map(|(_, n)| n).sum()
    }
}

/// Plan → key → usage. Nested so that a request finds its entry without allocating.
#[derive(Default)]
struct State(HashMap<String, HashMap<String, Usage>>);

impl State {
    fn usage(&self, plan: &str, key: &str) -> Option<&Usage> {
        self.0.get(plan)?.get(key)
    }

    fn usage_mut(&mut self, plan: &str, key: &str) -> &mut Usage {
        if !self.0.contains_key(plan) {
            self.0.insert(plan.to_owned(), HashMap::new());
        }
        let keys = self.0.get_mut(plan).expect("inserted above");
        if !keys.contains_key(key) {
            keys.insert(key.to_owned(), Usage::default());
        }
        keys.get_mut(key).expect("inserted above")
    }
}

pub struct Limiter<C: Clock> {
    clock: C,
    state: Mutex<State>,
}

/// The first day of the quota period containing `day` (weeks start on Monday, UTC).
fn period_start(period: Period, day: Date) -> Date {
    match period {
        Period::Day => day,
        Period::Week => {
            let back = day.weekday().number_days_from_monday();
            day - time::Duration::days(i64::from(back))
        }
        Period::Month => day.replace_day(1).expect("day 1 exists"),
    }
}

impl<C: Clock> Limiter<C> {
    pub fn new(clock: C) -> Self {
        Self { clock, state: Mutex::new(State::default()) }
    }

    /// Admits one request of `key` under `plan`, or says why not. Only admitted requests —
    /// those past the throttle and within the quota — count as used.
    pub fn admit(&self, plan: &str, key: &str, throttle: Option<Throttle>, quota: Option<Quota>) -> Decision {
        // The clock is read under the lock: read before it, a request could find the bucket
        // already updated by a later one, and time would run backwards.
        let mut state = self.state.lock().expect("not poisoned");
        let now = self.clock.elapsed();
        let today = self.clock.today();
        let usage = state.usage_mut(plan, key);
        if let Some(t) = throttle {
            let bucket = usage.bucket.get_or_insert(Bucket { tokens: t.burst_limit, at: now });
            let refilled = bucket.tokens + now.saturating_sub(bucket.at).as_secs_f64() * t.rate_limit;
            // A lowered burst limit applies at once.
            bucket.tokens = refilled.min(t.burst_limit);
            bucket.at = now;
            if bucket.tokens < 1.0 {
                return Decision::Throttled;
            }
            bucket.tokens -= 1.0;
        }
        if let Some(q) = quota
            && usage.used_between(period_start(q.period, today), today) >= q.limit
        {
            // The request is refused; give its token back.
            if let Some(b) = usage.bucket.as_mut() {
                b.tokens += 1.0;
            }
            return Decision::QuotaExceeded;
        }
        *usage.days.entry(today).or_insert(0) += 1;
        Decision::Allowed
    }

    /// Requests used by `key` under `plan` on `day`.
    pub fn used_on(&self, plan: &str, key: &str, day: Date) -> u64 {
        let state = self.state.lock().expect("not poisoned");
        state.usage(plan, key).and_then(|u| u.days.get(&day)).copied().unwrap_or(0)
    }

    /// Keys with any recorded use under `plan`, in no particular order.
    pub fn keys_of(&self, plan: &str) -> Vec<String> {
        let state = self.state.lock().expect("not poisoned");
        let keys = state.0.get(plan).into_iter().flatten();
        keys.filter(|(_, u)| !u.days.is_empty()).map(|(k, _)| k.clone()).collect()
    }

    /// What is left of the quota on `day` (for GetUsage's `remaining`).
    pub fn remaining_on(&self, plan: &str, key: &str, quota: Option<Quota>, day: Date) -> i64 {
        let Some(q) = quota else { return 0 };
        let state = self.state.lock().expect("not poisoned");
        let used = state.usage(plan, key).map_or(0, |u| u.used_between(period_start(q.period, day), day));
        q.limit as i64 - used as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use time::macros::date;

    /// A clock the test moves by hand.
    #[derive(Clone, Default)]
    struct TestClock {
        millis: Arc<AtomicU64>,
        day: Arc<Mutex<Option<Date>>>,
    }

    impl TestClock {
        fn advance(&self, ms: u64) {
            self.millis.fetch_add(ms, Ordering::SeqCst);
        }
        fn set_day(&self, d: Date) {
            *self.day.lock().unwrap() = Some(d);
        }
    }

    impl Clock for TestClock {
        fn elapsed(&self) -> Duration {
            Duration::from_millis(self.millis.load(Ordering::SeqCst))
        }
        fn today(&self) -> Date {
            self.day.lock().unwrap().unwrap_or(date!(2026 - 11 - 29))
        }
    }

    const PLAN: Throttle = Throttle { rate_limit: 5.0, burst_limit: 10.0 };

    fn burst(l: &Limiter<TestClock>, n: usize, quota: Option<Quota>) -> Vec<Decision> {
        (0..n).map(|_| l.admit("plan", "key", Some(PLAN), quota)).collect()
    }

    #[test]
    fn thirty_at_once_admit_exactly_the_burst() {
        let l = Limiter::new(TestClock::default());
        let d = burst(&l, 30, None);
        assert_eq!(d.iter().filter(|d| **d == Decision::Allowed).count(), 10);
        assert!(d[10..].iter().all(|d| *d == Decision::Throttled));
        assert!(d[..10].iter().all(|d| *d == Decision::Allowed), "the first ten pass");
    }

    #[test]
    fn tokens_come_back_at_the_rate_and_never_beyond_the_burst() {
        let clock = TestClock::default();
        let l = Limiter::new(clock.clone());
        burst(&l, 10, None);
        clock.advance(1000);
        assert_eq!(burst(&l, 10, None).iter().filter(|d| **d == Decision::Allowed).count(), 5);
        clock.advance(200);
        assert_eq!(burst(&l, 3, None), [Decision::Allowed, Decision::Throttled, Decision::Throttled]);
        clock.advance(60_000);
        assert_eq!(burst(&l, 12, None).iter().filter(|d| **d == Decision::Allowed).count(), 10);
    }

    #[test]
    fn keys_and_plans_have_their_own_buckets() {
        let l = Limiter::new(TestClock::default());
        burst(&l, 10, None);
        assert_eq!(l.admit("plan", "key", Some(PLAN), None), Decision::Throttled);
        assert_eq!(l.admit("plan", "other", Some(PLAN), None), Decision::Allowed);
        assert_eq!(l.admit("plan2", "key", Some(PLAN), None), Decision::Allowed);
    }

    #[test]
    fn the_daily_quota_counts_admitted_requests_and_resets_at_midnight_utc() {
        let clock = TestClock::default();
        let l = Limiter::new(clock.clone());
        let quota = Some(Quota { limit: 12, period: Period::Day });
        let d = burst(&l, 15, quota);
        assert_eq!(d.iter().filter(|d| **d == Decision::Allowed).count(), 10);
        assert_eq!(l.used_on("plan", "key", date!(2026 - 11 - 29)), 10, "throttled requests are not counted");
        clock.advance(10_000);
        let d = burst(&l, 5, quota);
        assert_eq!(
            d,
            [
                Decision::Allowed,
                Decision::Allowed,
                Decision::QuotaExceeded,
                Decision::QuotaExceeded,
                Decision::QuotaExceeded
            ]
        );
        assert_eq!(l.remaining_on("plan", "key", quota, date!(2026 - 11 - 29)), 0);
        clock.set_day(date!(2026 - 11 - 30));
        assert_eq!(l.admit("plan", "key", Some(PLAN), quota), Decision::Allowed);
        assert_eq!(l.remaining_on("plan", "key", quota, date!(2026 - 11 - 30)), 11);
    }

    #[test]
    fn a_lowered_quota_applies_at_once() {
        let l = Limiter::new(TestClock::default());
        let generous = Some(Quota { limit: 1000, period: Period::Day });
        burst(&l, 4, generous);
        let lowered = Some(Quota { limit: 4, period: Period::Day });
        assert_eq!(l.admit("plan", "key", Some(PLAN), lowered), Decision::QuotaExceeded);
    }

    #[test]
    fn weekly_and_monthly_periods_sum_their_days() {
        let clock = TestClock::default();
        let l = Limiter::new(clock.clone());
        let weekly = Some(Quota { limit: 3, period: Period::Week });
        clock.set_day(date!(2026 - 11 - 23)); // a Monday
        burst(&l, 2, weekly);
        clock.set_day(date!(2026 - 11 - 29)); // the Sunday after
        clock.advance(10_000);
        assert_eq!(burst(&l, 2, weekly), [Decision::Allowed, Decision::QuotaExceeded]);
        clock.set_day(date!(2026 - 11 - 30)); // a new week
        assert_eq!(l.admit("plan", "key", Some(PLAN), weekly), Decision::Allowed);
        assert_eq!(period_start(Period::Month, date!(2026 - 11 - 29)), date!(2026 - 11 - 01));
    }

    #[test]
    fn concurrent_requests_never_see_time_run_backwards() {
        let l = std::sync::Arc::new(Limiter::new(SystemClock::default()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    (0..20_000).filter(|_| l.admit("p", "k", Some(PLAN), None) == Decision::Allowed).count()
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().expect("no panic")).sum();
        assert!(allowed >= 10, "{allowed}");
    }

    #[test]
    fn no_throttle_and_no_quota_admit_everything() {
        let l = Limiter::new(TestClock::default());
        assert!((0..1000).all(|_| l.admit("p", "k", None, None) == Decision::Allowed));
    }
}
