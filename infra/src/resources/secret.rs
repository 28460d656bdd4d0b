//! The secret that holds a key's value, `{"name", "id", "value"}`, in Secrets Manager (the
//! product's key: `<prefix>student/api-key`; another client's: `.../<key name>`).

use aws_sdk_apigateway::types::ApiKey;
use aws_sdk_secretsmanager::types::Tag;
use serde_json::json;

use super::tags;
use crate::context::Ctx;
use crate::error::{Result, aws, found};
use crate::report::{Action, Change, FieldChange};

const KIND: &str = "secret";

fn stack_tag(ctx: &Ctx) -> Tag {
    Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build()
}

/// The secret for `key` (`None` in a plan where the key does not exist yet); returns its ARN.
pub async fn reconcile(ctx: &Ctx, secret_name: &str, key: Option<&ApiKey>) -> Result<String> {
    let sm = &ctx.aws.secrets;
    let described = found(
        sm.describe_secret()
            .secret_id(secret_name)
            .send()
            .await
            .map_err(|e| aws("secretsmanager:DescribeSecret", secret_name, e)),
        &["ResourceNotFoundException"],
    )?;
    let Some(key) = key else {
        let action = match described {
            Some(_) => Action::Update(vec![FieldChange::new("value", "(another key)", "(the new key)")]),
            None => Action::Create,
        };
        ctx.report.action(&action, KIND, secret_name);
        return Ok(described.and_then(|d| d.arn).unwrap_or_default());
    };
    let desired = json!({"name": key.name(), "id": key.id(), "value": key.value()}).to_string();
    let Some(described) = described else {
        if ctx.applying() {
            let created = sm
                .create_secret()
                .name(secret_name)
                .description("Student records API key (managed by infra)")
                .secret_string(&desired)
                .tags(stack_tag(ctx))
                .send()
                .await
                .map_err(|e| aws("secretsmanager:CreateSecret", secret_name, e))?;
            ctx.report.action(&Action::Create, KIND, secret_name);
            return Ok(created.arn().unwrap_or_default().to_owned());
        }
        ctx.report.action(&Action::Create, KIND, secret_name);
        return Ok(String::new());
    };
    let arn = described.arn().unwrap_or_default().to_owned();
    let current = sm
        .get_secret_value()
        .secret_id(secret_name)
        .send()
        .await
        .map_err(|e| aws("secretsmanager:GetSecretValue", secret_name, e))?;
    let tag = tags::value_in(described.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))));
    let mut changes: Vec<FieldChange> = Vec::new();
    let stale = current.secret_string() != Some(desired.as_str());
    if stale {
        // Never the value itself: a plan is printed.
        changes.push(FieldChange::new("value", "(another key)", format!("(key {})", key.id().unwrap_or_default())));
    }
    let untagged = tags::change(ctx, tag.as_deref());
    changes.extend(untagged.clone());
    let action = Action::update(changes);
    if ctx.applying() {
        if stale {
            sm.put_secret_value()
                .secret_id(secret_name)
                .secret_string(&desired)
                .send()
                .await
                .map_err(|e| aws("secretsmanager:PutSecretValue", secret_name, e))?;
        }
        if untagged.is_some() {
            sm.tag_resource()
                .secret_id(secret_name)
                .tags(stack_tag(ctx))
                .send()
                .await
                .map_err(|e| aws("secretsmanager:TagResource", secret_name, e))?;
        }
    }
    ctx.report.action(&action, KIND, secret_name);
    Ok(arn)
}

/// Deletes the secret (at once, without the recovery window), if it carries the stack tag.
pub async fn destroy(ctx: &Ctx, name: &str) -> Result<()> {
    // Look first: the emulator "deletes" a secret that does not exist.
    let sm = &ctx.aws.secrets;
    let Some(described) = found(
        sm.describe_secret().secret_id(name).send().await.map_err(|e| aws("secretsmanager:DescribeSecret", name, e)),
        &["ResourceNotFoundException"],
    )?
    else {
        ctx.report.record(Change::Gone, KIND, name);
        return Ok(());
    };
    let tag = tags::value_in(described.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))));
    if !tags::ours(ctx, tag.as_deref()) {
        tags::left_alone(ctx, KIND, name);
    } else if !ctx.applying() {
        ctx.report.to_delete(KIND, name);
    } else {
        sm.delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(|e| aws("secretsmanager:DeleteSecret", name, e))?;
        ctx.report.record(Change::Deleted, KIND, name);
    }
    Ok(())
}
