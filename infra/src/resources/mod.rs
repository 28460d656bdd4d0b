//! One module per kind of AWS resource, each able to read the live state, compare it with the
//! declaration (the fields that differ), apply, check (for `verify`) and delete. `deploy`,
//! `deploy --plan`, `verify` and `destroy` are the ordered walks over them below.

pub mod api;
pub mod api_key;
pub mod boundary;
pub mod bucket;
pub mod functions;
pub mod identities;
pub mod log_groups;
pub mod roles;
pub mod schedule;
pub mod secret;
pub mod table;
pub mod tags;
pub mod usage_plan;
pub mod web;

use std::collections::HashMap;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use system::{FunctionOutputs, Outputs};

pub use functions::CodeSource;

use crate::context::Ctx;
use crate::error::{Result, aws};
use crate::report::{Action, Change};
use crate::verify::Check;

/// `deploy` (or, in plan mode, what it would do), in dependency order. Returns the outputs
/// and the key's value; `None` in a plan.
pub async fn deploy(ctx: &Ctx, code: &CodeSource) -> Result<Option<(Outputs, String)>> {
    let sys = &ctx.sys;
    table::students(ctx).reconcile(ctx).await?;
    table::backups(ctx).reconcile(ctx).await?;
    bucket::backups(ctx).reconcile(ctx).await?;
    identities::reconcile(ctx).await?;
    boundary::reconcile(ctx).await?;

    let packages = functions::packages(ctx, code).await?;
    let mut arns = HashMap::new();
    for f in &sys.functions {
        log_groups::reconcile(ctx, f).await?;
        let role = roles::reconcile(ctx, f).await?;
        let layer = functions::code(ctx, f, &packages[f.binary]).await?;
        let arn = functions::reconcile(ctx, f, &role, &layer).await?;
        arns.insert(f.name.clone(), arn);
    }

    let api = api::rest_api(ctx).await?;
    let resources = api::resources(ctx, api.as_deref()).await?;
    let methods_changed = api::methods(ctx, api.as_deref(), &resources, &arns).await?
        | api::options(ctx, api.as_deref(), &resources).await?;
    api::gateway_responses(ctx, api.as_deref()).await?;
    for route in &sys.routes {
        let statement = format!("{}-{}{}", sys.api, route.method, route.path.replace('/', "-").replace(['{', '}'], ""));
        match &api {
            // Only this API, this method and path may invoke the function.
            Some(api) => {
                let source = format!(
                    "arn:aws:execute-api:{}:{}:{api}/*/{}{}",
                    ctx.region,
                    ctx.account,
                    route.method,
                    route
                        .path
                        .split('/')
                        .map(|p| if p.starts_with('{') { "*" } else { p })
                        .collect::<Vec<_>>()
                        .join("/")
                );
                let grant = functions::Grant { principal: "apigateway.amazonaws.com".into(), source_arn: source };
                functions::invoke_permission(ctx, &route.function, &statement, &grant).await?;
            }
            None => {
                ctx.report.action(
                    &Action::Create,
                    functions::PERMISSION_KIND,
                    format!("{} {statement}", route.function),
                );
            }
        }
    }
    api::stage(ctx, api.as_deref(), methods_changed).await?;
    schedule::reconcile(ctx).await?;

    let key = api_key::reconcile(ctx, &sys.api_key).await?;
    let plan = usage_plan::reconcile(ctx, api.as_deref()).await?;
    usage_plan::link(ctx, plan.as_deref(), key.as_ref(), &sys.api_key).await?;
    let secret_arn = secret::reconcile(ctx, &sys.secret, key.as_ref()).await?;

    let (Some(api), Some(key), Some(plan), true) = (api, key, plan, ctx.applying()) else { return Ok(None) };
    let outputs = Outputs {
        invoke_url: sys.invoke_url(&api, ctx.gateway.as_deref()),
        api_id: api,
        stage: sys.stage.clone(),
        key_id: key.id().unwrap_or_default().to_owned(),
        key_name: sys.api_key.clone(),
        secret_arn,
        usage_plan_id: plan,
        region: ctx.region.clone(),
        table: sys.table.clone(),
        bucket: sys.bucket.clone(),
        functions: sys
            .functions
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    FunctionOutputs { arn: arns[&f.name].clone(), environment: f.environment_vars().collect() },
                )
            })
            .collect(),
        web_url: None,
    };
    Ok(Some((outputs, key.value().unwrap_or_default().to_owned())))
}

/// `verify`'s checks of every resource deploy manages beyond the API linkage (which
/// `crate::verify` checks with words for what each failure breaks).
pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    checks.extend(table::students(ctx).checks(ctx).await?);
    checks.extend(table::backups(ctx).checks(ctx).await?);
    checks.extend(bucket::backups(ctx).checks(ctx).await?);
    checks.extend(identities::checks(ctx).await?);
    checks.extend(boundary::checks(ctx).await?);
    checks.extend(roles::checks(ctx).await?);
    checks.extend(log_groups::checks(ctx).await?);
    checks.extend(functions::checks(ctx).await?);
    checks.extend(schedule::checks(ctx).await?);
    Ok(checks)
}

/// What `destroy` may delete.
#[derive(Debug, Clone, Copy)]
pub struct Destroy {
    /// The table and every student in it.
    pub data: bool,
    /// The backup bucket, every backup and the catalog of them.
    pub backups: bool,
}

/// `destroy` (or, in plan mode, the list of what it would delete), in dependency order. Only
/// what carries the stack tag is deleted; look-alikes by name are left alone and said so.
pub async fn destroy(ctx: &Ctx, what: Destroy) -> Result<()> {
    let sys = &ctx.sys;
    let keys = api_key::all_keys(ctx).await?;
    let mut key_names = vec![sys.api_key.clone()];
    match usage_plan::find_plan(ctx).await? {
        None => {
            ctx.report.record(Change::Gone, "usage-plan", &sys.usage_plan);
        }
        Some(plan)
            if !tags::ours(ctx, plan.tags().and_then(|t| t.get(system::names::STACK_TAG)).map(String::as_str)) =>
        {
            tags::left_alone(ctx, "usage-plan", &sys.usage_plan);
        }
        Some(plan) => {
            let gw = &ctx.aws.apigateway;
            let id = plan.id().unwrap_or_default().to_owned();
            for key_id in usage_plan::plan_key_ids(ctx, &id).await? {
                if let Some(k) = keys.iter().find(|k| k.id() == Some(key_id.as_str())) {
                    key_names.extend(k.name.clone().filter(|n| !key_names.contains(n)));
                }
                if ctx.applying() {
                    gw.delete_usage_plan_key()
                        .usage_plan_id(&id)
                        .key_id(&key_id)
                        .send()
                        .await
                        .map_err(|e| aws("apigateway:DELETE", format!("/usageplans/{id}/keys/{key_id}"), e))?;
                }
            }
            if ctx.applying() {
                for stage in plan.api_stages() {
                    let value = format!("{}:{}", stage.api_id().unwrap_or_default(), stage.stage().unwrap_or_default());
                    let remove = PatchOperation::builder().op(Op::Remove).path("/apiStages").value(value).build();
                    usage_plan::patch_plan(ctx, &id, vec![remove]).await?;
                }
                gw.delete_usage_plan()
                    .usage_plan_id(&id)
                    .send()
                    .await
                    .map_err(|e| aws("apigateway:DELETE", format!("/usageplans/{id}"), e))?;
                ctx.report.record(Change::Deleted, "usage-plan", &sys.usage_plan);
            } else {
                ctx.report.to_delete("usage-plan", &sys.usage_plan);
            }
        }
    }
    for name in &key_names {
        api_key::destroy(ctx, &keys, name).await?;
        if !name.contains("-retired-") {
            secret::destroy(ctx, &crate::commands::secret_for(ctx, name)).await?;
        }
    }
    api::destroy(ctx).await?;
    // Before the function it invokes.
    schedule::destroy(ctx).await?;

    // The sender and recipient are read from the functions that know them, before they go.
    let mut addresses = identities::addresses(ctx);
    for address in functions::destroy(ctx).await? {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    log_groups::destroy(ctx).await?;
    roles::destroy(ctx).await?;
    boundary::destroy(ctx).await?;
    identities::destroy(ctx, &addresses).await?;
    table::students(ctx).destroy(ctx, what.data).await?;
    table::backups(ctx).destroy(ctx, what.backups).await?;
    web::destroy(ctx).await?;
    let backups = bucket::backups(ctx);
    if what.backups {
        backups.destroy(ctx).await?;
    } else {
        ctx.report.record(
            Change::Kept,
            backups.kind,
            format!("{} (backups kept; --delete-backups removes them)", backups.name),
        );
    }
    Ok(())
}
