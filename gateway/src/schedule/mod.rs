//! EventBridge schedules, run locally: the emulator stores rules but runs none. Every
//! `interval` the scheduler reads the enabled rules that have a schedule expression
//! ([`rules`]), keeps each one's next due time ([`timetable`]; expressions in [`expression`]
//! and [`cron`]), and at each due time starts every Lambda target with EventBridge's scheduled
//! event, asynchronously — through the same [`Background`] as the Invoke API's `Event` calls.

pub mod cron;
pub mod expression;
pub mod rules;
pub mod timetable;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

pub use expression::ExpressionError;
pub use rules::Rules;

use crate::lambda::Background;
use timetable::{Firing, Timetable};

/// Runs the schedules until the process ends. A failed read keeps the rules last read (the
/// emulator restarting stops no schedule).
pub async fn run(rules: Rules, background: Arc<Background>, interval: Duration) {
    let mut table = Timetable::default();
    let mut failing = false;
    loop {
        match rules.read().await {
            Ok(read) => {
                if failing {
                    tracing::info!("EventBridge rules readable again");
                    failing = false;
                }
                table.update(read, OffsetDateTime::now_utc());
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "reading the EventBridge rules failed; keeping the schedules last read");
                    failing = true;
                }
            }
        }
        // Until the next read: fire each due time when it comes.
        let next_read = Instant::now() + interval;
        loop {
            fire(&background, table.take_due(OffsetDateTime::now_utc()));
            let until_due =
                table.next_due().map(|due| (due - OffsetDateTime::now_utc()).try_into().unwrap_or_default());
            let wake = until_due.map_or(next_read, |wait: Duration| next_read.min(Instant::now() + wait));
            tokio::time::sleep_until(wake).await;
            if wake >= next_read {
                break;
            }
        }
    }
}

fn fire(background: &Background, firings: Vec<Firing>) {
    for Firing { rule, function, payload } in firings {
        match background.start(&function, payload) {
            Ok(()) => tracing::info!(rule, function, "scheduled invocation started"),
            Err(busy) => tracing::warn!(rule, function, %busy, "scheduled invocation skipped"),
        }
    }
}
