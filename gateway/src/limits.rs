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

/// Takes a token from `bucket` (made full on first use), refilled at `t`'s rate up to its
/// burst; `false` when it has none.
fn take(bucket: &mut Option<Bucket>, t: Throttle, now: Duration) -> bool {
    let b = bucket.get_or_insert(Bucket { tokens: t.burst_limit, at: now });
    let refilled = b.tokens + now.saturating_sub(b.at).as_secs_f64() * t.rate_limit;
    // A lowered burst limit applies at once.
    b.tokens = refilled.min(t.burst_limit);
    b.at = now;
    if b.tokens < 1.0 {
        return false;
    }
    b.tokens -= 1.0;
    true
}

/// Gives back a token taken for a request refused by a later limit.
fn give_back(bucket: &mut Option<Bucket>) {
    if let Some(b) = bucket.as_mut() {
        b.tokens += 1.0;
    }
}

/// One key under one plan.
#[derive(Default)]
struct Usage {
    bucket: Option<Bucket>,
    /// Per-method buckets ([`crate::model::method_key`]) of the plan's method throttles.
    methods: HashMap<String, Option<Bucket>>,
    /// Day → requests admitted (past the throttle and within the quota).
    days: BTreeMap<Date, u64>,
}

impl Usage {
    fn used_between(&self, first: Date, last: Date) -> u64 {
        self.days.range(first..=last).map(|(_, n)| n).sum()
    }

    /// Takes a token of each of `c`'s throttles and checks its quota, in API Gateway's order
    /// (the method's throttle, the plan's, the quota); a refusal gives back what it took.
    fn take(&mut self, c: &Client<'_>, now: Duration, today: Date) -> Result<(), Decision> {
        if let Some((method, t)) = c.method
            && !take(named(&mut self.methods, method), t, now)
        {
            return Err(Decision::Throttled);
        }
        if let Some(t) = c.throttle
            && !take(&mut self.bucket, t, now)
        {
            self.give_back(&Client { throttle: None, ..*c });
            return Err(Decision::Throttled);
        }
        if let Some(q) = c.quota
            && self.used_between(period_start(q.period, today), today) >= q.limit
        {
            self.give_back(c);
            return Err(Decision::QuotaExceeded);
        }
        Ok(())
    }

    /// Gives back the tokens [`Self::take`] took for `c`.
    fn give_back(&mut self, c: &Client<'_>) {
        if let Some((method, _)) = c.method {
            give_back(named(&mut self.methods, method));
        }
        if c.throttle.is_some() {
            give_back(&mut self.bucket);
        }
    }
}

/// The bucket named `name` (empty until first used), allocating its name only the first time.
fn named<'m>(buckets: &'m mut HashMap<String, Option<Bucket>>, name: &str) -> &'m mut Option<Bucket> {
    if !buckets.contains_key(name) {
        buckets.insert(name.to_owned(), None);
    }
    buckets.get_mut(name).expect("inserted above")
}

/// Plan → key → usage. Nested so that a request finds its entry without allocating.
#[derive(Default)]
struct Plans(HashMap<String, HashMap<String, Usage>>);

impl Plans {
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

#[derive(Default)]
struct State {
    plans: Plans,
    /// Stage throttling (`methodSettings`), for all clients: `stage method-key` → bucket.
    stages: HashMap<String, Option<Bucket>>,
}

/// What a request of a key must stay within: its plan's limits (per client).
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub plan: &'a str,
    pub key: &'a str,
    /// The plan's throttle for this method (`apiStages[].throttle`), and its method key.
    pub method: Option<(&'a str, Throttle)>,
    pub throttle: Option<Throttle>,
    pub quota: Option<Quota>,
}

/// The stage's throttle for a method, for all clients: the bucket's name and its limits.
#[derive(Debug, Clone, Copy)]
pub struct Server<'a> {
    pub bucket: &'a str,
    pub throttle: Throttle,
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
        self.admit_request(Some(Client { plan, key, method: None, throttle, quota }), None)
    }

    /// Admits one request, or says why not, applying the limits in API Gateway's order: the
    /// client's per-method throttle, its plan's throttle, its quota, then the stage's throttle
    /// for the method. A refused request takes nothing: the tokens it took are given back,
    /// and only an admitted request counts toward the quota.
    pub fn admit_request(&self, client: Option<Client<'_>>, server: Option<Server<'_>>) -> Decision {
        // The clock is read under the lock: read before it, a request could find the bucket
        // already updated by a later one, and time would run backwards.
        let mut guard = self.state.lock().expect("not poisoned");
        let State { plans, stages } = &mut *guard;
        let now = self.clock.elapsed();
        let today = self.clock.today();
        let mut usage = client.map(|c| (c, plans.usage_mut(c.plan, c.key)));
        if let Some((c, u)) = usage.as_mut()
            && let Err(refused) = u.take(c, now, today)
        {
            return refused;
        }
        if let Some(s) = server
            && !take(named(stages, s.bucket), s.throttle, now)
        {
            if let Some((c, u)) = usage.as_mut() {
                u.give_back(c);
            }
            return Decision::Throttled;
        }
        if let Some((_, u)) = usage {
            *u.days.entry(today).or_insert(0) += 1;
        }
        Decision::Allowed
    }

    /// Adds `used` requests of `key` under `plan` on `day` (counts saved before a restart).
    pub fn restore(&self, plan: &str, key: &str, day: Date, used: u64) {
        let mut state = self.state.lock().expect("not poisoned");
        *state.plans.usage_mut(plan, key).days.entry(day).or_insert(0) += used;
    }

    /// Requests used by `key` under `plan` on `day`.
    pub fn used_on(&self, plan: &str, key: &str, day: Date) -> u64 {
        let state = self.state.lock().expect("not poisoned");
        state.plans.usage(plan, key).and_then(|u| u.days.get(&day)).copied().unwrap_or(0)
    }

    /// Keys with any recorded use under `plan`, in no particular order.
    pub fn keys_of(&self, plan: &str) -> Vec<String> {
        let state = self.state.lock().expect("not poisoned");
        let keys = state.plans.0.get(plan).into_iter().flatten();
        keys.filter(|(_, u)| !u.days.is_empty()).map(|(k, _)| k.clone()).collect()
    }

    /// What is left of the quota on `day` (for GetUsage's `remaining`).
    pub fn remaining_on(&self, plan: &str, key: &str, quota: Option<Quota>, day: Date) -> i64 {
        let Some(q) = quota else { return 0 };
        let state = self.state.lock().expect("not poisoned");
        let used = state.plans.usage(plan, key).map_or(0, |u| u.used_between(period_start(q.period, day), day));
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
    fn method_and_stage_throttles_apply_in_order_and_refusals_take_nothing() {
        let l = Limiter::new(TestClock::default());
        let two = Throttle { rate_limit: 0.000_001, burst_limit: 2.0 };
        let three = Throttle { rate_limit: 0.000_001, burst_limit: 3.0 };
        let client = |method| Client { plan: "p", key: "k", method, throttle: Some(PLAN), quota: None };
        let get = Some(("/students/GET", two));
        // The method's bucket of 2 (per key), beside the plan's 10.
        let d: Vec<_> = (0..3).map(|_| l.admit_request(Some(client(get)), None)).collect();
        assert_eq!(d, [Decision::Allowed, Decision::Allowed, Decision::Throttled]);
        assert_eq!(l.admit_request(Some(client(None)), None), Decision::Allowed, "other methods: the plan's");
        assert_eq!(l.used_on("p", "k", date!(2026 - 11 - 29)), 3);
        // The stage's bucket of 3 for a method, for every client together.
        let stage = Some(Server { bucket: "prod /open/GET", throttle: three });
        let d: Vec<_> = (0..4).map(|_| l.admit_request(None, stage)).collect();
        assert_eq!(d, [Decision::Allowed, Decision::Allowed, Decision::Allowed, Decision::Throttled]);
        // Refused by the stage: the client's plan tokens are given back, nothing counted.
        let other = Client { plan: "p", key: "k2", method: None, throttle: Some(two), quota: None };
        assert_eq!(l.admit_request(Some(other), stage), Decision::Throttled);
        assert_eq!(l.admit_request(Some(other), None), Decision::Allowed);
        assert_eq!(l.admit_request(Some(other), None), Decision::Allowed, "both tokens were there");
        assert_eq!(l.used_on("p", "k2", date!(2026 - 11 - 29)), 2);
    }

    #[test]
    fn restored_counts_add_to_the_quota() {
        let l = Limiter::new(TestClock::default());
        let quota = Some(Quota { limit: 5, period: Period::Day });
        l.restore("plan", "key", date!(2026 - 11 - 29), 4);
        assert_eq!(burst(&l, 2, quota), [Decision::Allowed, Decision::QuotaExceeded]);
        assert_eq!(l.used_on("plan", "key", date!(2026 - 11 - 29)), 5);
    }

    #[test]
    fn no_throttle_and_no_quota_admit_everything() {
        let l = Limiter::new(TestClock::default());
        assert!((0..1000).all(|_| l.admit("p", "k", None, None) == Decision::Allowed));
    }
}
