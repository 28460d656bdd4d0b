//! API keys: the product's key (and the clients' keys `infra keys add` makes), enabled, tagged.

use aws_sdk_apigateway::types::{ApiKey, Op, PatchOperation};

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws};
use crate::report::{Action, Change, FieldChange};

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

/// The key, created if missing, enabled if disabled, tagged if not; `None` in a plan where it
/// does not exist yet.
pub async fn reconcile(ctx: &Ctx, name: &str) -> Result<Option<ApiKey>> {
    let gw = &ctx.aws.apigateway;
    match find_key(ctx, name).await? {
        Some(key) => {
            let tag = key.tags().and_then(|t| t.get(system::names::STACK_TAG)).cloned();
            let mut changes: Vec<FieldChange> = Vec::new();
            if !key.enabled() {
                changes.push(FieldChange::new("enabled", false, true));
            }
            // Keys made by hand for other clients are not the stack's to tag.
            if name == ctx.sys.api_key {
                changes.extend(tags::change(ctx, tag.as_deref()));
            }
            let action = Action::update(changes);
            if !ctx.applying() || action == Action::Unchanged {
                ctx.report.action(&action, "api-key", name);
                return Ok(Some(key));
            }
            let id = key.id().unwrap_or_default();
            if !key.enabled() {
                gw.update_api_key()
                    .api_key(id)
                    .patch_operations(PatchOperation::builder().op(Op::Replace).path("/enabled").value("true").build())
                    .send()
                    .await
                    .map_err(|e| aws("apigateway:PATCH", format!("/apikeys/{id}"), e))?;
                ctx.report.record(Change::Updated, "api-key", format!("{name} (enabled)"));
            }
            if name == ctx.sys.api_key && !tags::ours(ctx, tag.as_deref()) {
                tags::tag_api_gateway(ctx, &format!("/apikeys/{id}")).await?;
                ctx.report.record(Change::Updated, "api-key", format!("{name} (tagged)"));
            }
            Ok(Some(find_key(ctx, name).await?.unwrap_or(key)))
        }
        None => {
            if !ctx.applying() {
                ctx.report.action(&Action::Create, "api-key", name);
                return Ok(None);
            }
            // Only the product's own key takes the configured value; other keys get fresh ones.
            let value = (name == ctx.sys.api_key).then(|| ctx.sys.options.api_key_value.clone()).flatten();
            let created = gw
                .create_api_key()
                .name(name)
                .set_value(value)
                .enabled(true)
                .description("Student records client key (managed by infra)")
                .set_tags(Some(tags::map(ctx)))
                .send()
                .await
                .map_err(|e| aws("apigateway:POST", "/apikeys", e))?;
            ctx.report.record(Change::Created, "api-key", name);
            Ok(Some(
                ApiKey::builder()
                    .set_id(created.id)
                    .set_name(created.name)
                    .set_value(created.value)
                    .enabled(created.enabled)
                    .set_tags(created.tags)
                    .build(),
            ))
        }
    }
}

/// Deletes the key named `name` among `keys`, if it carries the stack tag.
pub async fn destroy(ctx: &Ctx, keys: &[ApiKey], name: &str) -> Result<()> {
    let Some(key) = one_named(keys, name)? else {
        ctx.report.record(Change::Gone, "api-key", name);
        return Ok(());
    };
    let tag = key.tags().and_then(|t| t.get(system::names::STACK_TAG)).map(String::as_str);
    if !tags::ours(ctx, tag) {
        tags::left_alone(ctx, "api-key", name);
    } else if !ctx.applying() {
        ctx.report.to_delete("api-key", name);
    } else {
        delete(ctx, key.id().unwrap_or_default(), name).await?;
    }
    Ok(())
}

/// Deletes the key `id` (named `name`) and reports it.
pub async fn delete(ctx: &Ctx, id: &str, name: &str) -> Result<()> {
    ctx.aws
        .apigateway
        .delete_api_key()
        .api_key(id)
        .send()
        .await
        .map_err(|e| aws("apigateway:DELETE", format!("/apikeys/{id}"), e))?;
    ctx.report.record(Change::Deleted, "api-key", name);
    Ok(())
}
