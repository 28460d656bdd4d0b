//! One IAM role per function: Lambda may assume it, it carries the permissions boundary, and
//! its inline policy is exactly the function's permissions (generated in `policy`).

use aws_sdk_iam::types::Tag;
use serde_json::Value;
use system::Function;

use super::tags;
use crate::context::Ctx;
use crate::error::{Result, aws, found};
use crate::policy;
use crate::report::{Action, Change, FieldChange};
use crate::verify::Check;

const KIND: &str = "role";
pub const POLICY_NAME: &str = "least-privilege";

/// IAM returns policy documents URL-encoded (the emulator sometimes does not).
pub fn parse_policy(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok().or_else(|| {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub arn: String,
    pub trust: Option<Value>,
    pub boundary: Option<String>,
    pub policy: Option<Value>,
    pub tag: Option<String>,
}

pub async fn read(ctx: &Ctx, f: &Function) -> Result<Option<Live>> {
    let iam = &ctx.aws.iam;
    let got = found(
        iam.get_role().role_name(&f.role).send().await.map_err(|e| aws("iam:GetRole", f.role.clone(), e)),
        &["NoSuchEntity"],
    )?;
    let Some(role) = got.and_then(|g| g.role) else { return Ok(None) };
    let policy = found(
        iam.get_role_policy()
            .role_name(&f.role)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(|e| aws("iam:GetRolePolicy", f.role.clone(), e)),
        &["NoSuchEntity"],
    )?
    .and_then(|p| parse_policy(p.policy_document()));
    Ok(Some(Live {
        arn: role.arn().to_owned(),
        trust: role.assume_role_policy_document().and_then(parse_policy),
        boundary: role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).map(str::to_owned),
        policy,
        tag: tags::value_in(role.tags().iter().map(|t| (t.key(), t.value()))),
    }))
}

pub fn changes(ctx: &Ctx, f: &Function, live: &Live) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    if live.trust.as_ref() != Some(&policy::trust()) {
        changes.push(FieldChange::new("assumeRolePolicy", "(differs)", "Lambda"));
    }
    let boundary = ctx.sys.boundary_arn();
    if live.boundary.as_deref() != Some(boundary.as_str()) {
        changes.push(FieldChange::optional("permissionsBoundary", live.boundary.as_deref(), &ctx.sys.boundary));
    }
    if live.policy.as_ref() != Some(&policy::role(&ctx.sys, f)) {
        let old = if live.policy.is_some() { "(differs)" } else { "none" };
        changes.push(FieldChange::new(format!("policy.{POLICY_NAME}"), old, "(declared)"));
    }
    changes.extend(tags::change(ctx, live.tag.as_deref()));
    changes
}

/// The role's ARN (predicted in a plan, where it may not exist yet).
pub async fn reconcile(ctx: &Ctx, f: &Function) -> Result<String> {
    let live = read(ctx, f).await?;
    let action = match &live {
        None => Action::Create,
        Some(live) => Action::update(changes(ctx, f, live)),
    };
    if ctx.applying() && action != Action::Unchanged {
        apply(ctx, f, live.as_ref()).await?;
    }
    ctx.report.action(&action, KIND, &f.role);
    Ok(live.map_or_else(|| ctx.sys.role_arn(&f.role), |l| l.arn))
}

async fn apply(ctx: &Ctx, f: &Function, live: Option<&Live>) -> Result<()> {
    let iam = &ctx.aws.iam;
    let boundary = ctx.sys.boundary_arn();
    let tag = Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("complete");
    match live {
        None => {
            iam.create_role()
                .role_name(&f.role)
                .assume_role_policy_document(policy::trust().to_string())
                .permissions_boundary(&boundary)
                .description(format!("Runs the {} Lambda function (student records)", f.name))
                .tags(tag)
                .send()
                .await
                .map_err(|e| aws("iam:CreateRole", f.role.clone(), e))?;
        }
        Some(live) => {
            if live.trust.as_ref() != Some(&policy::trust()) {
                iam.update_assume_role_policy()
                    .role_name(&f.role)
                    .policy_document(policy::trust().to_string())
                    .send()
                    .await
                    .map_err(|e| aws("iam:UpdateAssumeRolePolicy", f.role.clone(), e))?;
            }
            if live.boundary.as_deref() != Some(boundary.as_str()) {
                iam.put_role_permissions_boundary()
                    .role_name(&f.role)
                    .permissions_boundary(&boundary)
                    .send()
                    .await
                    .map_err(|e| aws("iam:PutRolePermissionsBoundary", f.role.clone(), e))?;
            }
            if !tags::ours(ctx, live.tag.as_deref()) {
                iam.tag_role()
                    .role_name(&f.role)
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| aws("iam:TagRole", f.role.clone(), e))?;
            }
        }
    }
    let desired = policy::role(&ctx.sys, f);
    if live.and_then(|l| l.policy.as_ref()) != Some(&desired) {
        iam.put_role_policy()
            .role_name(&f.role)
            .policy_name(POLICY_NAME)
            .policy_document(desired.to_string())
            .send()
            .await
            .map_err(|e| aws("iam:PutRolePolicy", f.role.clone(), e))?;
    }
    Ok(())
}

pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for f in &ctx.sys.functions {
        let live = read(ctx, f).await?;
        let changes = live.as_ref().map(|l| changes(ctx, f, l)).unwrap_or_default();
        checks.push(Check::declared(
            format!("{KIND} {} carries the boundary and exactly {}'s permissions", f.role, f.name),
            live.is_some(),
            &changes,
        ));
    }
    Ok(checks)
}

pub async fn destroy(ctx: &Ctx) -> Result<()> {
    let iam = &ctx.aws.iam;
    for f in &ctx.sys.functions {
        let Some(live) = read(ctx, f).await? else {
            ctx.report.record(Change::Gone, KIND, &f.role);
            continue;
        };
        if !tags::ours(ctx, live.tag.as_deref()) {
            tags::left_alone(ctx, KIND, &f.role);
            continue;
        }
        if !ctx.applying() {
            ctx.report.to_delete(KIND, &f.role);
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
        ctx.report.record(Change::Deleted, KIND, &f.role);
    }
    Ok(())
}
