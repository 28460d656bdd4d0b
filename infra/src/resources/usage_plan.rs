//! The usage plan (throttle and quota), its association with the API's stage, and the keys in
//! it: the linkage the console makes by hand (key → plan → stage).

use aws_sdk_apigateway::error::SdkError;
use aws_sdk_apigateway::types::{
    ApiKey, ApiStage, Op, PatchOperation, QuotaPeriodType, QuotaSettings, ThrottleSettings, UsagePlan,
};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use serde_json::Value;

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws};
use crate::report::{Action, Change, FieldChange};

// The emulator's quirk: a plan patched the way the AWS CLI sends it (`op=replace,
// path=/quota/limit,value=2000`) keeps the number as the string "2000", and answers every later
// read of the plan with it, which the SDK refuses to parse. The stored value cannot be repaired
// through the API (every patch stores a string again; only recreating the plan would, under a
// new id that the key links, outputs and usage history name). So the plans are read
// leniently: a successful answer the SDK cannot parse is read from its body, numbers written
// as strings taken as numbers. Against AWS the SDK parses every answer and this never runs.

/// The body of a successful answer the SDK could not parse.
fn unparsed_success<E>(e: &SdkError<E, HttpResponse>) -> Option<&[u8]> {
    let raw = e.raw_response().filter(|r| r.status().is_success())?;
    matches!(e, SdkError::ResponseError(_) | SdkError::ServiceError(_)).then_some(())?;
    raw.body().bytes()
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())
}

fn throttle_from_json(t: &Value) -> Option<ThrottleSettings> {
    t.is_object().then(|| {
        ThrottleSettings::builder()
            .set_rate_limit(number(&t["rateLimit"]))
            .set_burst_limit(number(&t["burstLimit"]).map(|n| n as i32))
            .build()
    })
}

/// A plan from its JSON (GetUsagePlans' `item`), numbers as numbers or strings.
fn plan_from_json(p: &Value) -> UsagePlan {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let quota = &p["quota"];
    let stages = p["apiStages"].as_array().into_iter().flatten().map(|s| {
        let methods = s["throttle"].as_object().map(|m| {
            m.iter()
                .filter_map(|(k, t)| Some((k.clone(), throttle_from_json(t)?)))
                .collect::<std::collections::HashMap<_, _>>()
        });
        ApiStage::builder().set_api_id(text(&s["apiId"])).set_stage(text(&s["stage"])).set_throttle(methods).build()
    });
    let tags = p["tags"].as_object().map(|t| t.iter().filter_map(|(k, v)| Some((k.clone(), text(v)?))).collect());
    UsagePlan::builder()
        .set_id(text(&p["id"]))
        .set_name(text(&p["name"]))
        .set_description(text(&p["description"]))
        .set_product_code(text(&p["productCode"]))
        .set_throttle(throttle_from_json(&p["throttle"]))
        .set_quota(quota.is_object().then(|| {
            QuotaSettings::builder()
                .set_limit(number(&quota["limit"]).map(|n| n as i32))
                .set_offset(number(&quota["offset"]).map(|n| n as i32))
                .set_period(quota["period"].as_str().map(QuotaPeriodType::from))
                .build()
        }))
        .set_api_stages(Some(stages.collect()))
        .set_tags(tags)
        .build()
}

/// Every usage plan, read leniently (see above).
pub async fn all_plans(ctx: &Ctx) -> Result<Vec<UsagePlan>> {
    let mut plans = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let sent = ctx.aws.apigateway.get_usage_plans().limit(500).set_position(position.clone()).send().await;
        let next = match sent {
            Ok(page) => {
                plans.extend(page.items().iter().cloned());
                page.position().map(str::to_owned)
            }
            Err(e) => {
                let Some(body) = unparsed_success(&e) else { return Err(aws("apigateway:GET", "/usageplans", e)) };
                let page: Value = serde_json::from_slice(body)
                    .map_err(|parse| InfraError::Io(format!("GET /usageplans answered what is not JSON: {parse}")))?;
                let items = page["item"].as_array().or_else(|| page["items"].as_array());
                plans.extend(items.into_iter().flatten().map(plan_from_json));
                page["position"].as_str().map(str::to_owned)
            }
        };
        if next.is_none() || next == position {
            return Ok(plans);
        }
        position = next;
    }
}

/// UpdateUsagePlan: a success whose answer the SDK cannot parse (the quirk above) is a success.
pub async fn patch_plan(ctx: &Ctx, id: &str, patches: Vec<PatchOperation>) -> Result<()> {
    match ctx.aws.apigateway.update_usage_plan().usage_plan_id(id).set_patch_operations(Some(patches)).send().await {
        Ok(_) => Ok(()),
        Err(e) if unparsed_success(&e).is_some() => Ok(()),
        Err(e) => Err(aws("apigateway:PATCH", format!("/usageplans/{id}"), e)),
    }
}

pub async fn find_plan(ctx: &Ctx) -> Result<Option<UsagePlan>> {
    let plans = all_plans(ctx).await?;
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
            patch_plan(ctx, &id, patches).await?;
        }
        if untagged.is_some() {
            tags::tag_api_gateway(ctx, &format!("/usageplans/{id}")).await?;
        }
    }
    ctx.report.action(&action, "usage-plan", name);
    let associated = api.is_some_and(|api| is_associated(&plan, api, &ctx.sys.stage));
    let action = if associated { Action::Unchanged } else { Action::Create };
    let change = match (api, ctx.applying(), associated) {
        (Some(api), true, false) => {
            let add =
                PatchOperation::builder().op(Op::Add).path("/apiStages").value(format!("{api}:{}", ctx.sys.stage));
            let added = patch_plan(ctx, &id, vec![add.build()]).await;
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
