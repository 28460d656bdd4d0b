//! `infra keys`, `infra usage` and `infra destroy`.

use aws_sdk_apigateway::types::{ApiKey, Op, PatchOperation};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::context::Ctx;
use crate::deploy::{access, api};
use crate::error::{InfraError, Result, aws, found};
use crate::report::Change;

/// The secret that holds a key's value: the product's key has the declared name, every other
/// key a name of its own beside it.
pub fn secret_for(ctx: &Ctx, key_name: &str) -> String {
    if key_name == ctx.sys.api_key { ctx.sys.secret.clone() } else { format!("{}/{key_name}", ctx.sys.secret) }
}

async fn plan_id(ctx: &Ctx) -> Result<String> {
    access::find_plan(ctx)
        .await?
        .and_then(|p| p.id)
        .ok_or_else(|| InfraError::Missing(format!("usage plan {}: run `infra deploy` first", ctx.sys.usage_plan)))
}

async fn require_key(ctx: &Ctx, name: &str) -> Result<ApiKey> {
    access::find_key(ctx, name)
        .await?
        .ok_or_else(|| InfraError::Missing(format!("an API key named {name} (see `infra keys list`)")))
}

/// The keys of this system: the product's key and every key in its usage plan.
pub async fn list(ctx: &Ctx) -> Result<Vec<(ApiKey, bool)>> {
    let plan = plan_id(ctx).await?;
    let linked = access::plan_key_ids(ctx, &plan).await?;
    let mut keys: Vec<(ApiKey, bool)> = access::all_keys(ctx)
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
    if access::find_key(ctx, name).await?.is_some() {
        return Err(InfraError::Conflict(format!(
            "an API key named {name} exists; to replace it use `infra keys rotate {name}`"
        )));
    }
    let plan = plan_id(ctx).await?;
    let key = access::api_key(ctx, name).await?;
    access::link(ctx, &plan, &key).await?;
    access::secret(ctx, &secret_for(ctx, name), &key).await?;
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
    let key = access::api_key(ctx, name).await?;
    access::link(ctx, &plan, &key).await?;
    access::secret(ctx, &secret_for(ctx, name), &key).await?;
    Ok((key, retired))
}

/// Takes the key out of the plan, deletes it and its secret.
pub async fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    let key = require_key(ctx, name).await?;
    let id = key.id().unwrap_or_default();
    if let Some(plan) = access::find_plan(ctx).await?.and_then(|p| p.id)
        && access::plan_key_ids(ctx, &plan).await?.iter().any(|k| k == id)
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
    ctx.aws
        .apigateway
        .delete_api_key()
        .api_key(id)
        .send()
        .await
        .map_err(|e| aws("apigateway:DELETE", format!("/apikeys/{id}"), e))?;
    ctx.report.record(Change::Deleted, "api-key", name);
    // A retired key's secret was already replaced by the rotation; only a live name owns one.
    if !name.contains("-retired-") {
        delete_secret(ctx, &secret_for(ctx, name)).await?;
    }
    Ok(())
}

async fn delete_secret(ctx: &Ctx, name: &str) -> Result<()> {
    // Look first: the emulator "deletes" a secret that does not exist.
    let sm = &ctx.aws.secrets;
    let exists = found(
        sm.describe_secret().secret_id(name).send().await.map_err(|e| aws("secretsmanager:DescribeSecret", name, e)),
        &["ResourceNotFoundException"],
    )?;
    let change = if exists.is_some() {
        sm.delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(|e| aws("secretsmanager:DeleteSecret", name, e))?;
        Change::Deleted
    } else {
        Change::Gone
    };
    ctx.report.record(change, "secret", name);
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

/// Removes what `deploy` created, in dependency order, tolerating what is already gone.
/// The backup bucket and its backups stay unless `delete_backups`.
pub async fn destroy(ctx: &Ctx, delete_backups: bool) -> Result<()> {
    let sys = &ctx.sys;
    let gw = &ctx.aws.apigateway;
    let mut key_names = vec![sys.api_key.clone()];
    // One listing serves both loops: unlinking or deleting one key changes no other.
    let keys = access::all_keys(ctx).await?;
    if let Some(plan) = access::find_plan(ctx).await? {
        let id = plan.id().unwrap_or_default().to_owned();
        for key_id in access::plan_key_ids(ctx, &id).await? {
            gw.delete_usage_plan_key()
                .usage_plan_id(&id)
                .key_id(&key_id)
                .send()
                .await
                .map_err(|e| aws("apigateway:DELETE", format!("/usageplans/{id}/keys/{key_id}"), e))?;
            if let Some(k) = keys.iter().find(|k| k.id() == Some(key_id.as_str())) {
                key_names.extend(k.name.clone().filter(|n| !key_names.contains(n)));
            }
        }
        for stage in plan.api_stages() {
            let value = format!("{}:{}", stage.api_id().unwrap_or_default(), stage.stage().unwrap_or_default());
            gw.update_usage_plan()
                .usage_plan_id(&id)
                .patch_operations(PatchOperation::builder().op(Op::Remove).path("/apiStages").value(value).build())
                .send()
                .await
                .map_err(|e| aws("apigateway:PATCH", format!("/usageplans/{id}"), e))?;
        }
        gw.delete_usage_plan()
            .usage_plan_id(&id)
            .send()
            .await
            .map_err(|e| aws("apigateway:DELETE", format!("/usageplans/{id}"), e))?;
        ctx.report.record(Change::Deleted, "usage-plan", &sys.usage_plan);
    } else {
        ctx.report.record(Change::Gone, "usage-plan", &sys.usage_plan);
    }
    for name in &key_names {
        match access::one_named(&keys, name)? {
            Some(k) => {
                let id = k.id().unwrap_or_default();
                gw.delete_api_key()
                    .api_key(id)
                    .send()
                    .await
                    .map_err(|e| aws("apigateway:DELETE", format!("/apikeys/{id}"), e))?;
                ctx.report.record(Change::Deleted, "api-key", name);
            }
            None => {
                ctx.report.record(Change::Gone, "api-key", name);
            }
        }
        if !name.contains("-retired-") {
            delete_secret(ctx, &secret_for(ctx, name)).await?;
        }
    }
    match api::find_api(ctx).await? {
        Some(id) => {
            gw.delete_rest_api()
                .rest_api_id(&id)
                .send()
                .await
                .map_err(|e| aws("apigateway:DELETE", format!("/restapis/{id}"), e))?;
            ctx.report.record(Change::Deleted, "rest-api", &sys.api);
        }
        None => {
            ctx.report.record(Change::Gone, "rest-api", &sys.api);
        }
    }

    // The sender and recipient are read from the function that knows them, before it goes.
    let mut identities: Vec<String> = [sys.options.sender_email.clone(), sys.options.recipient_email.clone()]
        .into_iter()
        .filter(|e| !e.is_empty())
        .collect();
    for f in &sys.functions {
        let config = found(
            ctx.aws
                .lambda
                .get_function_configuration()
                .function_name(&f.name)
                .send()
                .await
                .map_err(|e| aws("lambda:GetFunctionConfiguration", f.name.clone(), e)),
            &["ResourceNotFoundException"],
        )?;
        let Some(config) = config else {
            ctx.report.record(Change::Gone, "function", &f.name);
            continue;
        };
        let env = config.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
        for var in ["SENDER_EMAIL", "RECIPIENT_EMAIL"] {
            if let Some(v) = env.get(var).filter(|v| !identities.contains(v)) {
                identities.push(v.clone());
            }
        }
        ctx.aws
            .lambda
            .delete_function()
            .function_name(&f.name)
            .send()
            .await
            .map_err(|e| aws("lambda:DeleteFunction", f.name.clone(), e))?;
        ctx.report.record(Change::Deleted, "function", &f.name);
    }
    for f in &sys.functions {
        let iam = &ctx.aws.iam;
        let exists = found(
            iam.get_role().role_name(&f.role).send().await.map_err(|e| aws("iam:GetRole", f.role.clone(), e)),
            &["NoSuchEntity"],
        )?;
        if exists.is_none() {
            ctx.report.record(Change::Gone, "role", &f.role);
            continue;
        }
        let policies = iam
            .list_role_policies()
            .role_name(&f.role)
            .send()
            .await
            .map_err(|e| aws("iam:ListRolePolicies", f.role.clone(), e))?;
        for policy in policies.policy_names() {
            iam.delete_role_policy()
                .role_name(&f.role)
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| aws("iam:DeleteRolePolicy", f.role.clone(), e))?;
        }
        iam.delete_role().role_name(&f.role).send().await.map_err(|e| aws("iam:DeleteRole", f.role.clone(), e))?;
        ctx.report.record(Change::Deleted, "role", &f.role);
    }
    for address in identities {
        let ses = &ctx.aws.ses;
        let exists = crate::deploy::storage::email_identity(ctx, &address).await?;
        let change = if exists.is_some() {
            ses.delete_email_identity()
                .email_identity(&address)
                .send()
                .await
                .map_err(|e| aws("ses:DeleteEmailIdentity", address.clone(), e))?;
            Change::Deleted
        } else {
            Change::Gone
        };
        ctx.report.record(change, "email-identity", &address);
    }
    let deleted = ctx.aws.dynamodb.delete_table().table_name(&sys.table).send().await;
    let change = match found(
        deleted.map_err(|e| aws("dynamodb:DeleteTable", sys.table.clone(), e)),
        &["ResourceNotFoundException"],
    )? {
        Some(_) => Change::Deleted,
        None => Change::Gone,
    };
    ctx.report.record(change, "table", &sys.table);
    crate::deploy::web::destroy(ctx).await?;
    if delete_backups {
        crate::deploy::storage::delete_bucket(ctx, &sys.bucket, "bucket").await?;
    } else {
        ctx.report.record(
            Change::Kept,
            "bucket",
            format!("{} (backups kept; --delete-backups removes them)", sys.bucket),
        );
    }
    Ok(())
}
