//! The usage plan (throttle and quota), its association with the API's stage, and the keys in
//! it: the linkage the console makes by hand (key → plan → stage).

use aws_sdk_apigateway::types::{
    ApiKey, ApiStage, Op, PatchOperation, QuotaPeriodType, QuotaSettings, ThrottleSettings, UsagePlan,
};

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws};
use crate::report::{Action, Change, FieldChange};

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

/// What differs between a plan's limits and the declaration: the fields, and the patch that
/// repairs them.
pub fn limit_changes(ctx: &Ctx, plan: &UsagePlan) -> (Vec<FieldChange>, Vec<PatchOperation>) {
    let replace = |path: &str, value: String| PatchOperation::builder().op(Op::Replace).path(path).value(value).build();
    let (mut changes, mut ops) = (Vec::new(), Vec::new());
    let t = plan.throttle();
    let (rate, burst) = (ctx.sys.throttle.rate_limit, ctx.sys.throttle.burst_limit);
    if t.map(|t| t.rate_limit()) != Some(rate) {
        changes.push(FieldChange::optional("throttle.rateLimit", t.map(|t| t.rate_limit()), rate));
        ops.push(replace("/throttle/rateLimit", rate.to_string()));
    }
    if t.map(|t| t.burst_limit()) != Some(burst) {
        changes.push(FieldChange::optional("throttle.burstLimit", t.map(|t| t.burst_limit()), burst));
        ops.push(replace("/throttle/burstLimit", burst.to_string()));
    }
    let q = plan.quota();
    if q.map(|q| q.limit()) != Some(ctx.sys.quota.limit) {
        changes.push(FieldChange::optional("quota.limit", q.map(|q| q.limit()), ctx.sys.quota.limit));
        ops.push(replace("/quota/limit", ctx.sys.quota.limit.to_string()));
    }
    let period = q.and_then(|q| q.period()).map(|p| p.as_str());
    if period != Some(ctx.sys.quota.period) {
        changes.push(FieldChange::optional("quota.period", period, ctx.sys.quota.period));
        ops.push(replace("/quota/period", ctx.sys.quota.period.to_owned()));
    }
    (changes, ops)
}

pub fn is_associated(plan: &UsagePlan, api: &str, stage: &str) -> bool {
    plan.api_stages().iter().any(|s| s.api_id() == Some(api) && s.stage() == Some(stage))
}

/// The usage plan with the declared limits, associated with the API's stage; returns its id
/// (`None` in a plan where it does not exist yet).
pub async fn reconcile(ctx: &Ctx, api: Option<&str>) -> Result<Option<String>> {
    let gw = &ctx.aws.apigateway;
    let name = &ctx.sys.usage_plan;
    let association = format!("{name} → {}:{}", ctx.sys.api, ctx.sys.stage);
    let Some(plan) = find_plan(ctx).await? else {
        if !ctx.applying() {
            ctx.report.action(&Action::Create, "usage-plan", name);
            ctx.report.action(&Action::Create, "association", &association);
            return Ok(None);
        }
        let api = api.expect("deploy made the API before the plan");
        let created = gw
            .create_usage_plan()
            .name(name)
            .description(format!("Student records: {}, {} (managed by infra)", ctx.sys.throttle, ctx.sys.quota))
            .throttle(throttle(ctx))
            .quota(quota(ctx))
            .api_stages(ApiStage::builder().api_id(api).stage(&ctx.sys.stage).build())
            .set_tags(Some(tags::map(ctx)))
            .send()
            .await
            .map_err(|e| aws("apigateway:POST", "/usageplans", e))?;
        ctx.report.record(Change::Created, "usage-plan", name);
        ctx.report.record(Change::Created, "association", &association);
        return Ok(Some(created.id().unwrap_or_default().to_owned()));
    };
    let id = plan.id().unwrap_or_default().to_owned();
    let (mut changes, patches) = limit_changes(ctx, &plan);
    let tag = plan.tags().and_then(|t| t.get(system::names::STACK_TAG)).cloned();
    let untagged = tags::change(ctx, tag.as_deref());
    changes.extend(untagged.clone());
    let action = Action::update(changes);
    if ctx.applying() {
        if !patches.is_empty() {
            gw.update_usage_plan()
                .usage_plan_id(&id)
                .set_patch_operations(Some(patches))
                .send()
                .await
                .map_err(|e| aws("apigateway:PATCH", format!("/usageplans/{id}"), e))?;
        }
        if untagged.is_some() {
            let arn = format!("arn:aws:apigateway:{}::/usageplans/{id}", ctx.region);
            gw.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags::map(ctx)))
                .send()
                .await
                .map_err(|e| aws("apigateway:PUT", format!("/tags/{arn}"), e))?;
        }
    }
    ctx.report.action(&action, "usage-plan", name);
    let associated = api.is_some_and(|api| is_associated(&plan, api, &ctx.sys.stage));
    let action = if associated { Action::Unchanged } else { Action::Create };
    let change = match (api, ctx.applying(), associated) {
        (Some(api), true, false) => {
            let added = gw
                .update_usage_plan()
                .usage_plan_id(&id)
                .patch_operations(
                    PatchOperation::builder()
                        .op(Op::Add)
                        .path("/apiStages")
                        .value(format!("{api}:{}", ctx.sys.stage))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws("apigateway:PATCH", format!("/usageplans/{id}"), e));
            match added {
                Ok(_) => Action::Create,
                // "already associated": someone else got there first; that is the desired state.
                Err(e) if e.code() == Some("ConflictException") => Action::Unchanged,
                Err(e) => return Err(e),
            }
        }
        _ => action,
    };
    ctx.report.action(&change, "association", &association);
    Ok(Some(id))
}

pub async fn plan_key_ids(ctx: &Ctx, plan: &str) -> Result<Vec<String>> {
    let pages = ctx.aws.apigateway.get_usage_plan_keys().usage_plan_id(plan).limit(500).into_paginator().items().send();
    let keys = pages.try_collect().await.map_err(|e| aws("apigateway:GET", format!("/usageplans/{plan}/keys"), e))?;
    Ok(keys.into_iter().filter_map(|k| k.id).collect())
}

/// Adds the key to the plan unless it is there (the emulator would accept a duplicate).
pub async fn link(ctx: &Ctx, plan: Option<&str>, key: Option<&ApiKey>, key_name: &str) -> Result<Change> {
    let what = format!("{key_name} → {}", ctx.sys.usage_plan);
    let (Some(plan), Some(key)) = (plan, key) else {
        return Ok(ctx.report.action(&Action::Create, "plan-key", what));
    };
    let key_id = key.id().unwrap_or_default();
    if plan_key_ids(ctx, plan).await?.iter().any(|k| k == key_id) {
        return Ok(ctx.report.action(&Action::Unchanged, "plan-key", what));
    }
    if !ctx.applying() {
        return Ok(ctx.report.action(&Action::Create, "plan-key", what));
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
