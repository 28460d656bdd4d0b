//! Each function's log group, `/aws/lambda/<function>`, made before the function (Lambda would
//! otherwise make it itself, keeping logs forever) with the declared retention.

use system::Function;

use super::tags;
use crate::context::Ctx;
use crate::error::{Result, aws};
use crate::report::{Action, Change, FieldChange};
use crate::verify::Check;

const KIND: &str = "log-group";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub arn: String,
    pub retention_days: Option<i32>,
    pub tag: Option<String>,
}

pub async fn read(ctx: &Ctx, f: &Function) -> Result<Option<Live>> {
    let logs = &ctx.aws.logs;
    let listed = logs
        .describe_log_groups()
        .log_group_name_prefix(&f.log_group)
        .send()
        .await
        .map_err(|e| aws("logs:DescribeLogGroups", f.log_group.clone(), e))?;
    let Some(group) = listed.log_groups().iter().find(|g| g.log_group_name() == Some(f.log_group.as_str())) else {
        return Ok(None);
    };
    // The ARN of the group itself: DescribeLogGroups' `arn` ends in `:*` (its streams).
    let arn = format!("arn:aws:logs:{}:{}:log-group:{}", ctx.region, ctx.account, f.log_group);
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| aws("logs:ListTagsForResource", f.log_group.clone(), e))?;
    let tag = tags.tags().and_then(|t| t.get(system::names::STACK_TAG)).cloned();
    Ok(Some(Live { arn, retention_days: group.retention_in_days(), tag }))
}

fn changes(ctx: &Ctx, live: &Live) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let days = ctx.sys.options.log_retention_days;
    if live.retention_days != Some(days) {
        changes.push(FieldChange::optional("retentionInDays", live.retention_days, days));
    }
    changes.extend(tags::change(ctx, live.tag.as_deref()));
    changes
}

pub async fn reconcile(ctx: &Ctx, f: &Function) -> Result<()> {
    let logs = &ctx.aws.logs;
    let live = read(ctx, f).await?;
    let action = match &live {
        None => Action::Create,
        Some(live) => Action::update(changes(ctx, live)),
    };
    if ctx.applying() && action != Action::Unchanged {
        let days = ctx.sys.options.log_retention_days;
        match &live {
            None => {
                logs.create_log_group()
                    .log_group_name(&f.log_group)
                    .set_tags(Some(tags::map(ctx)))
                    .send()
                    .await
                    .map_err(|e| aws("logs:CreateLogGroup", f.log_group.clone(), e))?;
            }
            Some(live) if !tags::ours(ctx, live.tag.as_deref()) => {
                logs.tag_resource()
                    .resource_arn(&live.arn)
                    .set_tags(Some(tags::map(ctx)))
                    .send()
                    .await
                    .map_err(|e| aws("logs:TagResource", f.log_group.clone(), e))?;
            }
            Some(_) => {}
        }
        if live.as_ref().and_then(|l| l.retention_days) != Some(days) {
            logs.put_retention_policy()
                .log_group_name(&f.log_group)
                .retention_in_days(days)
                .send()
                .await
                .map_err(|e| aws("logs:PutRetentionPolicy", f.log_group.clone(), e))?;
        }
    }
    ctx.report.action(&action, KIND, &f.log_group);
    Ok(())
}

pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for f in &ctx.sys.functions {
        let live = read(ctx, f).await?;
        let changes = live.as_ref().map(|l| changes(ctx, l)).unwrap_or_default();
        checks.push(Check::declared(
            format!("{KIND} {} keeps logs {} days", f.log_group, ctx.sys.options.log_retention_days),
            live.is_some(),
            &changes,
        ));
    }
    Ok(checks)
}

pub async fn destroy(ctx: &Ctx) -> Result<()> {
    for f in &ctx.sys.functions {
        let Some(live) = read(ctx, f).await? else {
            ctx.report.record(Change::Gone, KIND, &f.log_group);
            continue;
        };
        if !tags::ours(ctx, live.tag.as_deref()) {
            tags::left_alone(ctx, KIND, &f.log_group);
        } else if !ctx.applying() {
            ctx.report.to_delete(KIND, format!("{} (and its logs)", f.log_group));
        } else {
            ctx.aws
                .logs
                .delete_log_group()
                .log_group_name(&f.log_group)
                .send()
                .await
                .map_err(|e| aws("logs:DeleteLogGroup", f.log_group.clone(), e))?;
            ctx.report.record(Change::Deleted, KIND, &f.log_group);
        }
    }
    Ok(())
}
