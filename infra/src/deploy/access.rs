//! The linkage the console makes by hand: API key → usage plan → API stage, and the key's
//! value kept in Secrets Manager.

use aws_sdk_apigateway::types::{
    ApiKey, ApiStage, Op, PatchOperation, QuotaPeriodType, QuotaSettings, ThrottleSettings, UsagePlan,
};
use serde_json::json;

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::Change;

/// Every API key (with values), across pages.
pub async fn all_keys(ctx: &Ctx) -> Result<Vec<ApiKey>> {
    let pages = ctx.aws.apigateway.get_api_keys().include_values(true).limit(500).into_paginator().items().send();
    pages.try_collect().await.map_err(|e| aws("apigateway:GET", "/apikeys", e))
}

/// The one key with this name (two are an error a person must resolve).
pub async fn find_key(ctx: &Ctx, name: &str) -> Result<Option<ApiKey>> {
    one_named(&all_keys(ctx).await?, name).map(|k| k.cloned())
}

/// The one key named `name` among `keys`, as [`find_key`] decides it.
pub fn one_named<'a>(keys: &'a [ApiKey], name: &str) -> Result<Option<&'a ApiKey>> {
    let mut matching: Vec<&ApiKey> = keys.iter().filter(|k| k.name() == Some(name)).collect();
    match matching.len() {
        0 | 1 => Ok(matching.pop()),
        n => Err(InfraError::Conflict(format!(
            "{n} API keys are named {name} ({}): remove the extra ones (infra keys remove cannot tell which to keep)",
            matching.iter().filter_map(|k| k.id()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The key, created if missing and enabled if disabled.
pub async fn api_key(ctx: &Ctx, name: &str) -> Result<ApiKey> {
    let gw = &ctx.aws.apigateway;
    match find_key(ctx, name).await? {
        Some(key) if key.enabled() => {
            ctx.report.record(Change::Unchanged, "api-key", name);
            Ok(key)
        }
        Some(key) => {
            let id = key.id().unwrap_or_default();
            gw.update_api_key()
                .api_key(id)
                .patch_operations(PatchOperation::builder().op(Op::Replace).path("/enabled").value("true").build())
                .send()
                .await
                .map_err(|e| aws("apigateway:PATCH", format!("/apikeys/{id}"), e))?;
            ctx.report.record(Change::Updated, "api-key", format!("{name} (enabled)"));
            Ok(find_key(ctx, name).await?.unwrap_or(key))
        }
        None => {
            // Only the product's own key takes the configured value; other keys get fresh ones.
            let value = (name == ctx.sys.api_key).then(|| ctx.sys.options.api_key_value.clone()).flatten();
            let created = gw
                .create_api_key()
                .name(name)
                .set_value(value)
                .enabled(true)
                .description("Student records client key (managed by infra)")
                .send()
                .await
                .map_err(|e| aws("apigateway:POST", "/apikeys", e))?;
            ctx.report.record(Change::Created, "api-key", name);
            Ok(ApiKey::builder()
                .set_id(created.id)
                .set_name(created.name)
                .set_value(created.value)
                .enabled(created.enabled)
                .build())
        }
    }
}

pub async fn find_plan(ctx: &Ctx) -> Result<Option<UsagePlan>> {
    let pages = ctx.aws.apigateway.get_usage_plans().limit(500).into_paginator().items().send();
    let plans = pages.try_collect().await.map_err(|e| aws("apigateway:GET", "/usageplans", e))?;
    let mut matching: Vec<UsagePlan> =
        plans.into_iter().filter(|p| p.name() == Some(ctx.sys.usage_plan.as_str())).collect();
    match matching.len() {
        0 | 1 => Ok(matching.pop()),
        n => Err(InfraError::Conflict(format!(
            "{n} usage plans are named {}: delete the extra ones in the console, then deploy again",
            ctx.sys.usage_plan
        ))),
    }
}

fn throttle(ctx: &Ctx) -> ThrottleSettings {
    ThrottleSettings::builder()
        .rate_limit(ctx.sys.throttle.rate_limit)
        .burst_limit(ctx.sys.throttle.burst_limit)
        .build()
}

fn quota(ctx: &Ctx) -> QuotaSettings {
    QuotaSettings::builder().limit(ctx.sys.quota.limit).period(QuotaPeriodType::from(ctx.sys.quota.period)).build()
}

/// What differs between a plan and the declaration, as patch operations.
pub fn plan_patches(ctx: &Ctx, plan: &UsagePlan) -> Vec<PatchOperation> {
    let replace = |path: &str, value: String| PatchOperation::builder().op(Op::Replace).path(path).value(value).build();
    let mut ops = Vec::new();
    let t = plan.throttle();
    if t.map(|t| t.rate_limit()) != Some(ctx.sys.throttle.rate_limit) {
        ops.push(replace("/throttle/rateLimit", ctx.sys.throttle.rate_limit.to_string()));
    }
    if t.map(|t| t.burst_limit()) != Some(ctx.sys.throttle.burst_limit) {
        ops.push(replace("/throttle/burstLimit", ctx.sys.throttle.burst_limit.to_string()));
    }
    let q = plan.quota();
    if q.map(|q| q.limit()) != Some(ctx.sys.quota.limit) {
        ops.push(replace("/quota/limit", ctx.sys.quota.limit.to_string()));
    }
    if q.and_then(|q| q.period()).map(|p| p.as_str()) != Some(ctx.sys.quota.period) {
        ops.push(replace("/quota/period", ctx.sys.quota.period.to_owned()));
    }
    ops
}

pub fn is_associated(plan: &UsagePlan, api: &str, stage: &str) -> bool {
    plan.api_stages().iter().any(|s| s.api_id() == Some(api) && s.stage() == Some(stage))
}

/// The usage plan with the declared limits, associated with the API's stage.
pub async fn usage_plan(ctx: &Ctx, api: &str) -> Result<String> {
    let gw = &ctx.aws.apigateway;
    let name = &ctx.sys.usage_plan;
    let association = format!("{name} → {}:{}", ctx.sys.api, ctx.sys.stage);
    let Some(plan) = find_plan(ctx).await? else {
        let created = gw
            .create_usage_plan()
            .name(name)
            .description(format!("Student records: {}, {} (managed by infra)", ctx.sys.throttle, ctx.sys.quota))
            .throttle(throttle(ctx))
            .quota(quota(ctx))
            .api_stages(ApiStage::builder().api_id(api).stage(&ctx.sys.stage).build())
            .send()
            .await
            .map_err(|e| aws("apigateway:POST", "/usageplans", e))?;
        ctx.report.record(Change::Created, "usage-plan", name);
        ctx.report.record(Change::Created, "association", &association);
        return Ok(created.id().unwrap_or_default().to_owned());
    };
    let id = plan.id().unwrap_or_default().to_owned();
    let patches = plan_patches(ctx, &plan);
    let change = if patches.is_empty() {
        Change::Unchanged
    } else {
        gw.update_usage_plan()
            .usage_plan_id(&id)
            .set_patch_operations(Some(patches))
            .send()
            .await
            .map_err(|e| aws("apigateway:PATCH", format!("/usageplans/{id}"), e))?;
        Change::Updated
    };
    ctx.report.record(change, "usage-plan", name);
    let change = if is_associated(&plan, api, &ctx.sys.stage) {
        Change::Unchanged
    } else {
        let value = format!("{api}:{}", ctx.sys.stage);
        let added = gw
            .update_usage_plan()
            .usage_plan_id(&id)
            .patch_operations(PatchOperation::builder().op(Op::Add).path("/apiStages").value(value).build())
            .send()
            .await
            .map_err(|e| aws("apigateway:PATCH", format!("/usageplans/{id}"), e));
        match added {
            Ok(_) => Change::Created,
            // "already associated": someone else got there first; that is the desired state.
            Err(e) if e.code() == Some("ConflictException") => Change::Unchanged,
            Err(e) => return Err(e),
        }
    };
    ctx.report.record(change, "association", &association);
    Ok(id)
}

pub async fn plan_key_ids(ctx: &Ctx, plan: &str) -> Result<Vec<String>> {
    let pages = ctx.aws.apigateway.get_usage_plan_keys().usage_plan_id(plan).limit(500).into_paginator().items().send();
    let keys = pages.try_collect().await.map_err(|e| aws("apigateway:GET", format!("/usageplans/{plan}/keys"), e))?;
    Ok(keys.into_iter().filter_map(|k| k.id).collect())
}

/// Adds the key to the plan unless it is there (the emulator would accept a duplicate).
pub async fn link(ctx: &Ctx, plan: &str, key: &ApiKey) -> Result<Change> {
    let key_id = key.id().unwrap_or_default();
    let what = format!("{} → {}", key.name().unwrap_or(key_id), ctx.sys.usage_plan);
    if plan_key_ids(ctx, plan).await?.iter().any(|k| k == key_id) {
        return Ok(ctx.report.record(Change::Unchanged, "plan-key", what));
    }
    let added = ctx
        .aws
        .apigateway
        .create_usage_plan_key()
        .usage_plan_id(plan)
        .key_id(key_id)
        .key_type("API_KEY")
        .send()
        .await
        .map_err(|e| aws("apigateway:POST", format!("/usageplans/{plan}/keys"), e));
    let change = match added {
        Ok(_) => Change::Created,
        Err(e) if e.code() == Some("ConflictException") => Change::Unchanged,
        Err(e) => return Err(e),
    };
    Ok(ctx.report.record(change, "plan-key", what))
}

/// The secret holding a key's current value: `{"name", "id", "value"}`. Returns its ARN.
pub async fn secret(ctx: &Ctx, secret_name: &str, key: &ApiKey) -> Result<String> {
    let sm = &ctx.aws.secrets;
    let desired = json!({"name": key.name(), "id": key.id(), "value": key.value()}).to_string();
    let current = found(
        sm.get_secret_value()
            .secret_id(secret_name)
            .send()
            .await
            .map_err(|e| aws("secretsmanager:GetSecretValue", secret_name, e)),
        &["ResourceNotFoundException"],
    )?;
    let (change, arn) = match current {
        Some(v) if v.secret_string() == Some(desired.as_str()) => {
            (Change::Unchanged, v.arn().unwrap_or_default().to_owned())
        }
        Some(v) => {
            sm.put_secret_value()
                .secret_id(secret_name)
                .secret_string(&desired)
                .send()
                .await
                .map_err(|e| aws("secretsmanager:PutSecretValue", secret_name, e))?;
            (Change::Updated, v.arn().unwrap_or_default().to_owned())
        }
        None => {
            let created = sm
                .create_secret()
                .name(secret_name)
                .description("Student records API key (managed by infra)")
                .secret_string(&desired)
                .send()
                .await
                .map_err(|e| aws("secretsmanager:CreateSecret", secret_name, e))?;
            (Change::Created, created.arn().unwrap_or_default().to_owned())
        }
    };
    ctx.report.record(change, "secret", secret_name);
    Ok(arn)
}
