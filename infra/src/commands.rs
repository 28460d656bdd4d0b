//! `infra keys`, `infra usage` and `infra destroy`.

use aws_sdk_apigateway::types::{ApiKey, Op, PatchOperation};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws};
use crate::report::Change;
use crate::resources::{api_key, secret, usage_plan};

/// The secret that holds a key's value: the product's key has the declared name, every other
/// key a name of its own beside it.
pub fn secret_for(ctx: &Ctx, key_name: &str) -> String {
    if key_name == ctx.sys.api_key { ctx.sys.secret.clone() } else { format!("{}/{key_name}", ctx.sys.secret) }
}

async fn plan_id(ctx: &Ctx) -> Result<String> {
    usage_plan::find_plan(ctx)
        .await?
        .and_then(|p| p.id)
        .ok_or_else(|| InfraError::Missing(format!("usage plan {}: run `infra deploy` first", ctx.sys.usage_plan)))
}

async fn require_key(ctx: &Ctx, name: &str) -> Result<ApiKey> {
    api_key::find_key(ctx, name)
        .await?
        .ok_or_else(|| InfraError::Missing(format!("an API key named {name} (see `infra keys list`)")))
}

/// The keys of this system: the product's key and every key in its usage plan.
pub async fn list(ctx: &Ctx) -> Result<Vec<(ApiKey, bool)>> {
    let plan = plan_id(ctx).await?;
    let linked = usage_plan::plan_key_ids(ctx, &plan).await?;
    let mut keys: Vec<(ApiKey, bool)> = api_key::all_keys(ctx)
        .await?
        .into_iter()
        .filter_map(|k| {
            let in_plan = k.id().is_some_and(|id| linked.iter().any(|l| l == id));
            (in_plan || k.name() == Some(ctx.sys.api_key.as_str())).then_some((k, in_plan))
        })
        .collect();
    keys.sort_by(|a, b| a.0.name().cmp(&b.0.name()));
    Ok(keys)
}

/// A new key, in the plan at once, its value in a secret. Returns the key.
pub async fn add(ctx: &Ctx, name: &str) -> Result<ApiKey> {
    if api_key::find_key(ctx, name).await?.is_some() {
        return Err(InfraError::Conflict(format!(
            "an API key named {name} exists; to replace it use `infra keys rotate {name}`"
        )));
    }
    let plan = plan_id(ctx).await?;
    let key = api_key::reconcile(ctx, name).await?.expect("keys are made for real, never planned");
    usage_plan::link(ctx, Some(&plan), Some(&key), name).await?;
    secret::reconcile(ctx, &secret_for(ctx, name), Some(&key)).await?;
    Ok(key)
}

/// A key's value cannot change, so rotation is a new key under the name; the old one is
/// renamed `<name>-retired-<time>` and keeps working until removed (or is disabled at once).
pub async fn rotate(ctx: &Ctx, name: &str, disable_old: bool) -> Result<(ApiKey, String)> {
    let old = require_key(ctx, name).await?;
    let old_id = old.id().unwrap_or_default().to_owned();
    let stamp = OffsetDateTime::now_utc().unix_timestamp();
    let retired = format!("{name}-retired-{stamp}");
    let mut ops = vec![PatchOperation::builder().op(Op::Replace).path("/name").value(&retired).build()];
    if disable_old {
        ops.push(PatchOperation::builder().op(Op::Replace).path("/enabled").value("false").build());
    }
    ctx.aws
        .apigateway
        .update_api_key()
        .api_key(&old_id)
        .set_patch_operations(Some(ops))
        .send()
        .await
        .map_err(|e| aws("apigateway:PATCH", format!("/apikeys/{old_id}"), e))?;
    ctx.report.record(
        Change::Updated,
        "api-key",
        format!("{name} → {retired}{}", if disable_old { " (disabled)" } else { "" }),
    );
    let plan = plan_id(ctx).await?;
    let key = api_key::reconcile(ctx, name).await?.expect("keys are made for real, never planned");
    usage_plan::link(ctx, Some(&plan), Some(&key), name).await?;
    secret::reconcile(ctx, &secret_for(ctx, name), Some(&key)).await?;
    Ok((key, retired))
}

/// Takes the key out of the plan, deletes it and its secret.
pub async fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    let key = require_key(ctx, name).await?;
    let id = key.id().unwrap_or_default();
    if let Some(plan) = usage_plan::find_plan(ctx).await?.and_then(|p| p.id)
        && usage_plan::plan_key_ids(ctx, &plan).await?.iter().any(|k| k == id)
    {
        ctx.aws
            .apigateway
            .delete_usage_plan_key()
            .usage_plan_id(&plan)
            .key_id(id)
            .send()
            .await
            .map_err(|e| aws("apigateway:DELETE", format!("/usageplans/{plan}/keys/{id}"), e))?;
        ctx.report.record(Change::Deleted, "plan-key", format!("{name} → {}", ctx.sys.usage_plan));
    }
    api_key::delete(ctx, id, name).await?;
    // A retired key's secret was already replaced by the rotation; only a live name owns one.
    if !name.contains("-retired-") {
        secret::destroy(ctx, &secret_for(ctx, name)).await?;
    }
    Ok(())
}

/// One day's requests for a key.
#[derive(Debug, Serialize)]
pub struct DayUsage {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub used: i64,
    pub remaining: i64,
}

/// A key's requests per day; serialized, what `infra usage --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub key_name: String,
    pub key_id: String,
    pub days: Vec<DayUsage>,
}

/// Requests used and remaining per day for a key, from GetUsage. `usage_client` is API
/// Gateway's client, or one pointed at the local gateway (the emulator lacks GetUsage).
pub async fn usage(ctx: &Ctx, usage_client: &aws_sdk_apigateway::Client, key_name: &str, days: u32) -> Result<Usage> {
    let key = require_key(ctx, key_name).await?;
    let key_id = key.id().unwrap_or_default().to_owned();
    let plan = plan_id(ctx).await?;
    let today = OffsetDateTime::now_utc().date();
    let start = today - Duration::days(i64::from(days.max(1)) - 1);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let (start_s, end_s) =
        (start.format(&format).expect("a date formats"), today.format(&format).expect("a date formats"));
    let out = usage_client
        .get_usage()
        .usage_plan_id(&plan)
        .key_id(&key_id)
        .start_date(&start_s)
        .end_date(&end_s)
        .send()
        .await
        .map_err(|e| aws("apigateway:GET", format!("/usageplans/{plan}/usage"), e));
    let out = match out {
        Err(InfraError::Aws { code, .. })
            if code == "NotImplemented" || code == "Unknown" || code == "NotFoundException" =>
        {
            return Err(InfraError::Missing(
                "GetUsage at this endpoint: the AWS emulator does not implement it; the local gateway does (scripts/dev passes --gateway-url)".into(),
            ));
        }
        other => other?,
    };
    let days_out = out.items().and_then(|m| m.get(&key_id)).cloned().unwrap_or_default();
    let days = days_out
        .iter()
        .enumerate()
        .map(|(i, pair)| DayUsage {
            date: (start + Duration::days(i as i64)).format(&format).expect("a date formats"),
            used: pair.first().copied().unwrap_or(0),
            remaining: pair.get(1).copied().unwrap_or(0),
        })
        .collect();
    Ok(Usage { key_name: key_name.to_owned(), key_id, days })
}
