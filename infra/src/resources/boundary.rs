//! The permissions boundary every function role carries (`<prefix>student-records-boundary`):
//! a managed policy infra creates once. infra never changes it afterwards — the deployer has no
//! right to (that would let it widen every role) — so a boundary that differs from the
//! declaration is reported with what an administrator must do.

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::policy;
use crate::report::{Action, Change, FieldChange};
use crate::verify::Check;

const KIND: &str = "boundary";

#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub document: Option<Value>,
    pub tag: Option<String>,
}

pub async fn read(ctx: &Ctx) -> Result<Option<Live>> {
    let (iam, arn) = (&ctx.aws.iam, ctx.sys.boundary_arn());
    let got = found(
        iam.get_policy().policy_arn(&arn).send().await.map_err(|e| aws("iam:GetPolicy", arn.clone(), e)),
        &["NoSuchEntity"],
    )?;
    let Some(policy) = got.and_then(|g| g.policy) else { return Ok(None) };
    let version = policy.default_version_id().unwrap_or("v1").to_owned();
    let document = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(&version)
        .send()
        .await
        .map_err(|e| aws("iam:GetPolicyVersion", arn.clone(), e))?
        .policy_version
        .and_then(|v| v.document)
        .and_then(|d| super::roles::parse_policy(&d));
    Ok(Some(Live { document, tag: tags::value_in(policy.tags().iter().map(|t| (t.key(), t.value()))) }))
}

fn changes(ctx: &Ctx, live: &Live) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    if live.document.as_ref() != Some(&policy::boundary(&ctx.sys)) {
        changes.push(FieldChange::new("document", "(differs)", "(declared)"));
    }
    changes.extend(tags::change(ctx, live.tag.as_deref()));
    changes
}

/// Creates the boundary when it is missing; a boundary that differs is an error naming the
/// administrator's step, since a deploy that went on would build roles on a ceiling it cannot
/// vouch for.
pub async fn reconcile(ctx: &Ctx) -> Result<()> {
    let name = &ctx.sys.boundary;
    let live = read(ctx).await?;
    let action = match &live {
        None => Action::Create,
        Some(live) => Action::update(changes(ctx, live)),
    };
    if let Some(live) = &live
        && live.document.as_ref() != Some(&policy::boundary(&ctx.sys))
        && ctx.applying()
    {
        return Err(InfraError::Conflict(format!(
            "the permissions boundary {name} differs from the declaration, and infra may not change it (that would let \
             the deployer widen every function role). An administrator must: `infra deployer-policy --boundary > boundary.json` \
             then `aws iam create-policy-version --policy-arn {} --policy-document file://boundary.json --set-as-default`",
            ctx.sys.boundary_arn()
        )));
    }
    if ctx.applying() {
        let iam = &ctx.aws.iam;
        let tag = Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("complete");
        match (&live, &action) {
            (None, _) => {
                iam.create_policy()
                    .policy_name(name)
                    .description("Ceiling of the student-records function roles (managed by infra)")
                    .policy_document(policy::boundary(&ctx.sys).to_string())
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| aws("iam:CreatePolicy", name.clone(), e))?;
            }
            (Some(_), Action::Update(_)) => {
                iam.tag_policy()
                    .policy_arn(ctx.sys.boundary_arn())
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| aws("iam:TagPolicy", name.clone(), e))?;
            }
            _ => {}
        }
    }
    ctx.report.action(&action, KIND, name);
    Ok(())
}

pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let live = read(ctx).await?;
    let changes = live.as_ref().map(|l| changes(ctx, l)).unwrap_or_default();
    Ok(vec![Check::declared(
        format!("{KIND} {} is the declared ceiling of the function roles", ctx.sys.boundary),
        live.is_some(),
        &changes,
    )])
}

/// Deleted after the roles that carry it (IAM refuses to delete a boundary in use).
pub async fn destroy(ctx: &Ctx) -> Result<()> {
    let name = &ctx.sys.boundary;
    let Some(live) = read(ctx).await? else {
        ctx.report.record(Change::Gone, KIND, name);
        return Ok(());
    };
    if !tags::ours(ctx, live.tag.as_deref()) {
        tags::left_alone(ctx, KIND, name);
    } else if !ctx.applying() {
        ctx.report.to_delete(KIND, name);
    } else {
        ctx.aws
            .iam
            .delete_policy()
            .policy_arn(ctx.sys.boundary_arn())
            .send()
            .await
            .map_err(|e| aws("iam:DeletePolicy", name.clone(), e))?;
        ctx.report.record(Change::Deleted, KIND, name);
    }
    Ok(())
}
