//! GetUsage (`GET /usageplans/{id}/usage`), which the emulator lacks, answered from the
//! gateway's own counts in AWS's shape, so `infra usage` works against the local stack.

use axum::response::Response;
use http::StatusCode;
use serde_json::json;
use time::Date;

use crate::limits::{Clock, Limiter};
use crate::model::Snapshot;
use crate::query::url_pairs;
use crate::responses;

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

pub fn get_usage<C: Clock>(limiter: &Limiter<C>, snapshot: &Snapshot, plan_id: &str, query: Option<&str>) -> Response {
    let params = url_pairs(query.unwrap_or(""));
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(plan) = snapshot.plan(plan_id) else {
        return responses::json(
            StatusCode::NOT_FOUND,
            json!({"message": "Invalid Usage Plan ID specified"}),
            Some("NotFoundException"),
        );
    };
    let (Some(start), Some(end)) = (get("startDate").and_then(parse_date), get("endDate").and_then(parse_date)) else {
        return responses::json(
            StatusCode::BAD_REQUEST,
            json!({"message": "startDate and endDate (YYYY-MM-DD) are required"}),
            Some("BadRequestException"),
        );
    };
    if start > end || (end - start).whole_days() > 90 {
        return responses::json(
            StatusCode::BAD_REQUEST,
            json!({"message": "The usage data period must be at most 90 days, from startDate to endDate"}),
            Some("BadRequestException"),
        );
    }
    let mut keys: Vec<String> = match get("keyId") {
        Some(k) => vec![k.to_owned()],
        None => plan.key_ids.iter().cloned().chain(limiter.keys_of(&plan.id)).collect(),
    };
    keys.sort();
    keys.dedup();
    let mut items = serde_json::Map::new();
    for key in keys {
        let mut days = Vec::new();
        let mut day = start;
        while day <= end {
            days.push(json!([
                limiter.used_on(&plan.id, &key, day),
                limiter.remaining_on(&plan.id, &key, plan.quota, day)
            ]));
            day = day.next_day().expect("dates this near exist");
        }
        items.insert(key, serde_json::Value::Array(days));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    responses::json(
        StatusCode::OK,
        // On the wire the per-key days are `values` (SDKs read that; the CLI and console call
        // them `items`, as the reference does): both are sent.
        json!({"usagePlanId": plan.id, "startDate": start.format(&format).unwrap(), "endDate": end.format(&format).unwrap(), "values": items.clone(), "items": items}),
        None,
    )
}

/// Usage counted before a restart (`infra state save`'s `usage.json`), by plan and key
/// *name*: a restarted emulator gives them new ids. Each entry is handed to the limiter once
/// the control plane names its plan and key, before the gateway reports itself ready.
#[derive(Debug, Default)]
pub struct SavedUsage {
    pending: std::sync::Mutex<Vec<SavedEntry>>,
}

#[derive(Debug, serde::Deserialize)]
struct SavedFile {
    usage: Vec<SavedEntry>,
}

#[derive(Debug, serde::Deserialize)]
struct SavedEntry {
    plan: String,
    key: String,
    /// `YYYY-MM-DD` → requests used.
    days: std::collections::BTreeMap<String, u64>,
}

impl SavedUsage {
    /// Reads `path`; no file is no saved usage.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let file: SavedFile = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { pending: std::sync::Mutex::new(file.usage) })
    }

    /// Hands the gateway's limiter every pending entry whose plan and key `snapshot` names.
    pub fn adopt<C: Clock + 'static>(&self, gateway: &crate::server::Gateway<C>, snapshot: &Snapshot) {
        self.adopt_into(&gateway.limiter, snapshot);
    }

    fn adopt_into<C: Clock>(&self, limiter: &Limiter<C>, snapshot: &Snapshot) {
        let mut pending = self.pending.lock().expect("not poisoned");
        pending.retain(|entry| {
            let mut plans = snapshot.plans.iter().filter(|p| p.name == entry.plan);
            let (Some(plan), None) = (plans.next(), plans.next()) else { return true };
            let Some(key) = snapshot.key_named(plan, &entry.key) else { return true };
            for (day, used) in &entry.days {
                if let Some(day) = parse_date(day) {
                    limiter.restore(&plan.id, &key.id, day, *used);
                }
            }
            tracing::info!(
                plan = entry.plan,
                key = entry.key,
                days = entry.days.len(),
                "usage restored from the saved state"
            );
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::limits::SystemClock;
    use crate::model::{ApiKey, UsagePlan};

    #[test]
    fn saved_usage_is_adopted_once_its_plan_and_key_exist() {
        let dir = std::env::temp_dir().join(format!("saved-usage-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("usage.json");
        assert!(SavedUsage::read(&path).unwrap().pending.lock().unwrap().is_empty(), "no file: nothing");
        std::fs::write(&path, r#"{"usage": [{"plan": "plan-a", "key": "key-a", "days": {"2026-11-30": 7}}]}"#).unwrap();
        let saved = SavedUsage::read(&path).unwrap();
        let limiter = Limiter::new(SystemClock::default());
        let day = time::macros::date!(2026 - 11 - 30);
        saved.adopt_into(&limiter, &Snapshot::default());
        assert_eq!(saved.pending.lock().unwrap().len(), 1, "kept until the plan exists");
        let plan = UsagePlan {
            id: "p1".into(),
            name: "plan-a".into(),
            key_ids: HashSet::from(["k1".to_owned()]),
            ..Default::default()
        };
        let key = ApiKey { id: "k1".into(), name: "key-a".into(), enabled: true };
        let snapshot = Snapshot {
            plans: vec![plan],
            keys_by_value: std::collections::HashMap::from([("value-0000000000000000".to_owned(), key)]),
            ..Default::default()
        };
        saved.adopt_into(&limiter, &snapshot);
        saved.adopt_into(&limiter, &snapshot);
        assert_eq!(limiter.used_on("p1", "k1", day), 7, "adopted exactly once");
        std::fs::write(&path, "not json").unwrap();
        assert!(SavedUsage::read(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
