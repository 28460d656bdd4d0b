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
