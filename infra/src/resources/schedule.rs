//! The daily backup: an EventBridge rule on the declared schedule (`Options.backup_schedule`),
//! its one target (the backup function, given no input, so EventBridge sends its own scheduled
//! event, which the function takes as "back up now"), and the statement of the function's
//! policy that lets EventBridge invoke it for this rule only. Without a schedule
//! (`deploy --no-backup-schedule`) deploy removes all three.

use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use system::{Function, Resource, System};

use super::functions::{self, Grant};
use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::{Action, Change, FieldChange, compare};
use crate::verify::{self, Check};

const RULE_KIND: &str = "schedule-rule";
const TARGET_KIND: &str = "schedule-target";
/// The target's id within the rule.
const TARGET_ID: &str = "backup";
/// Who invokes the function on schedule.
const PRINCIPAL: &str = "events.amazonaws.com";

/// The rule's ARN (on the default event bus), known before it exists: the deployer policy
/// names it and the permission's source is it.
pub fn rule_arn(sys: &System) -> String {
    format!("arn:aws:events:{}:{}:rule/{}", sys.options.region, sys.options.account, sys.schedule_rule)
}

/// The function the rule runs.
fn function(sys: &System) -> &Function {
    let backup = system::names::BACKUP_FUNCTION;
    sys.functions.iter().find(|f| f.binary == backup).expect("the declaration has the backup function")
}

/// The statement of the function's policy that lets the rule invoke it.
fn statement(sys: &System) -> String {
    format!("{}-invoke", sys.schedule_rule)
}

fn grant(ctx: &Ctx) -> Grant {
    Grant { principal: PRINCIPAL.to_owned(), source_arn: rule_arn(&ctx.sys) }
}

/// `cron(...)` or `rate(...)`: what EventBridge schedules take (it checks the inside itself).
pub fn expression(raw: &str) -> std::result::Result<String, String> {
    let raw = raw.trim();
    let inside = ["cron(", "rate("]
        .iter()
        .find_map(|start| raw.strip_prefix(start))
        .and_then(|rest| rest.strip_suffix(')'))
        .filter(|inside| !inside.trim().is_empty() && !inside.contains(['(', ')']));
    match inside {
        Some(_) => Ok(raw.to_owned()),
        None => Err("an EventBridge schedule expression: cron(0 2 * * ? *) or rate(1 day), say".to_owned()),
    }
}

/// The rule as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    arn: String,
    expression: Option<String>,
    state: Option<String>,
    tag: Option<String>,
}

async fn read_rule(ctx: &Ctx) -> Result<Option<Rule>> {
    let (events, name) = (&ctx.aws.events, &ctx.sys.schedule_rule);
    let described = found(
        events.describe_rule().name(name).send().await.map_err(|e| aws("events:DescribeRule", name.clone(), e)),
        &["ResourceNotFoundException"],
    )?;
    let Some(rule) = described else { return Ok(None) };
    let arn = rule.arn().map_or_else(|| rule_arn(&ctx.sys), str::to_owned);
    let tags = events
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| aws("events:ListTagsForResource", name.clone(), e))?;
    Ok(Some(Rule {
        expression: rule.schedule_expression().map(str::to_owned),
        state: rule.state().map(|s| s.as_str().to_owned()),
        tag: tags::value_in(tags.tags().iter().map(|t| (t.key(), t.value()))),
        arn,
    }))
}

fn rule_changes(ctx: &Ctx, live: &Rule, expression: &str) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    compare(&mut changes, "scheduleExpression", live.expression.as_deref().unwrap_or("none"), expression);
    compare(&mut changes, "state", live.state.as_deref().unwrap_or("none"), RuleState::Enabled.as_str());
    changes.extend(tags::change(ctx, live.tag.as_deref()));
    changes
}

/// The rule's targets (none when there is no rule).
async fn read_targets(ctx: &Ctx) -> Result<Vec<Target>> {
    let name = &ctx.sys.schedule_rule;
    let listed = found(
        ctx.aws
            .events
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .map_err(|e| aws("events:ListTargetsByRule", name.clone(), e)),
        &["ResourceNotFoundException"],
    )?;
    Ok(listed.and_then(|l| l.targets).unwrap_or_default())
}

/// The function's ARN, and no input of its own: the scheduled event is what the function takes.
fn target_changes(ctx: &Ctx, live: &Target) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    compare(&mut changes, "arn", live.arn(), &function_arn(ctx));
    let custom = live.input().is_some() || live.input_path().is_some() || live.input_transformer().is_some();
    compare(&mut changes, "input", if custom { "custom" } else { "none" }, "none");
    changes
}

fn function_arn(ctx: &Ctx) -> String {
    Resource::Function(function(&ctx.sys).name.clone()).arn(&ctx.region, &ctx.account)
}

/// The rule, its target and the permission, or (without a schedule) none of them.
pub async fn reconcile(ctx: &Ctx) -> Result<()> {
    let name = &ctx.sys.schedule_rule;
    let Some(expression) = ctx.sys.options.backup_schedule.as_deref() else {
        if !remove(ctx).await? {
            ctx.report.action(&Action::Unchanged, RULE_KIND, format!("{name} (none: no schedule declared)"));
        }
        return Ok(());
    };
    let events = &ctx.aws.events;

    let rule = read_rule(ctx).await?;
    let action = match &rule {
        None => Action::Create,
        Some(live) => Action::update(rule_changes(ctx, live, expression)),
    };
    if ctx.applying() && action != Action::Unchanged {
        let settings_differ = rule.as_ref().is_none_or(|live| {
            live.expression.as_deref() != Some(expression) || live.state.as_deref() != Some(RuleState::Enabled.as_str())
        });
        if settings_differ {
            // Tags given to PutRule apply only when it creates the rule; an adopted one is tagged below.
            events
                .put_rule()
                .name(name)
                .schedule_expression(expression)
                .state(RuleState::Enabled)
                .description(format!("Runs {} (managed by infra)", function(&ctx.sys).name))
                .set_tags(rule.is_none().then(|| vec![stack_tag(ctx)]))
                .send()
                .await
                .map_err(|e| aws("events:PutRule", name.clone(), e))?;
        }
        if let Some(live) = rule.as_ref().filter(|live| !tags::ours(ctx, live.tag.as_deref())) {
            events
                .tag_resource()
                .resource_arn(&live.arn)
                .tags(stack_tag(ctx))
                .send()
                .await
                .map_err(|e| aws("events:TagResource", name.clone(), e))?;
        }
    }
    ctx.report.action(&action, RULE_KIND, name);

    let targets = read_targets(ctx).await?;
    let target = targets.iter().find(|t| t.id() == TARGET_ID);
    let action = match target {
        None => Action::Create,
        Some(live) => Action::update(target_changes(ctx, live)),
    };
    if ctx.applying() && action != Action::Unchanged {
        // PutTargets replaces the target of this id whole, input included.
        let target = Target::builder().id(TARGET_ID).arn(function_arn(ctx)).build().expect("id and arn set");
        let put = events
            .put_targets()
            .rule(name)
            .targets(target)
            .send()
            .await
            .map_err(|e| aws("events:PutTargets", name.clone(), e))?;
        if let Some(failed) = put.failed_entries().first() {
            return Err(InfraError::Conflict(format!(
                "EventBridge refused target {TARGET_ID} of rule {name}: {}: {}",
                failed.error_code().unwrap_or("Unknown"),
                failed.error_message().unwrap_or_default()
            )));
        }
    }
    ctx.report.action(&action, TARGET_KIND, format!("{name} → {}", function(&ctx.sys).name));

    functions::invoke_permission(ctx, &function(&ctx.sys).name, &statement(&ctx.sys), &grant(ctx)).await?;
    Ok(())
}

fn stack_tag(ctx: &Ctx) -> Tag {
    Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("key and value set")
}

/// Removes the rule (its targets first: EventBridge deletes no rule that has any) when it
/// carries the stack tag, and the permission. Returns whether there was anything to remove.
async fn remove(ctx: &Ctx) -> Result<bool> {
    let name = &ctx.sys.schedule_rule;
    let events = &ctx.aws.events;
    let rule = read_rule(ctx).await?;
    if let Some(live) = &rule {
        if !tags::ours(ctx, live.tag.as_deref()) {
            // Someone else's rule: the permission may be what lets it run, so that stays too.
            tags::left_alone(ctx, RULE_KIND, name);
            return Ok(true);
        }
        let targets = read_targets(ctx).await?;
        let ids: Vec<String> = targets.iter().map(|t| t.id().to_owned()).collect();
        if ctx.applying() {
            if !ids.is_empty() {
                events
                    .remove_targets()
                    .rule(name)
                    .set_ids(Some(ids.clone()))
                    .send()
                    .await
                    .map_err(|e| aws("events:RemoveTargets", name.clone(), e))?;
            }
            events.delete_rule().name(name).send().await.map_err(|e| aws("events:DeleteRule", name.clone(), e))?;
        }
        for target in &targets {
            // As deploy names it: the rule → the function (the last part of its ARN).
            let invoked = target.arn().rsplit(':').next().unwrap_or_default();
            deleted(ctx, TARGET_KIND, format!("{name} → {invoked}"));
        }
        deleted(ctx, RULE_KIND, name.clone());
    }
    let (function, statement) = (&function(&ctx.sys).name, statement(&ctx.sys));
    let permission = functions::grant(ctx, function, &statement).await?;
    if permission.is_some() {
        if ctx.applying() {
            functions::remove_permission(ctx, function, &statement).await?;
        }
        deleted(ctx, functions::PERMISSION_KIND, format!("{function} {statement}"));
    }
    Ok(rule.is_some() || permission.is_some())
}

/// Says what was deleted, or in a plan (and `destroy`'s list) what would be.
fn deleted(ctx: &Ctx, kind: &str, what: String) {
    if ctx.applying() {
        ctx.report.record(Change::Deleted, kind, what);
    } else {
        ctx.report.to_delete(kind, what);
    }
}

/// The rule (expression, state, tag), its target and the permission; or, without a schedule,
/// that there is no rule.
pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let name = &ctx.sys.schedule_rule;
    let rule = read_rule(ctx).await?;
    let Some(expression) = ctx.sys.options.backup_schedule.as_deref() else {
        return Ok(vec![Check::of(
            format!("{RULE_KIND} {name} does not exist (no schedule declared)"),
            rule.is_some().then(|| format!("it exists, so backups still run on its schedule; {}", verify::FIX)),
        )]);
    };
    let function = &function(&ctx.sys).name;
    let rule_changes = rule.as_ref().map(|live| rule_changes(ctx, live, expression)).unwrap_or_default();
    let targets = read_targets(ctx).await?;
    let target = targets.iter().find(|t| t.id() == TARGET_ID);
    let target_changes = target.map(|live| target_changes(ctx, live)).unwrap_or_default();
    let permission = functions::grant(ctx, function, &statement(&ctx.sys)).await?;
    let permission_changes = permission.as_ref().map(|g| g.changes(&grant(ctx))).unwrap_or_default();
    Ok(vec![
        Check::declared(
            format!("{RULE_KIND} {name} runs the backup on {expression}, enabled"),
            rule.is_some(),
            &rule_changes,
        ),
        Check::declared(
            format!("{TARGET_KIND} {name} → {function}, with EventBridge's scheduled event"),
            target.is_some(),
            &target_changes,
        ),
        Check::declared(
            format!("permission: EventBridge may invoke {function} for rule {name} only"),
            permission.is_some(),
            &permission_changes,
        ),
    ])
}

/// Removes the rule, its targets and the permission (the rule only when it carries the tag).
pub async fn destroy(ctx: &Ctx) -> Result<()> {
    if !remove(ctx).await? {
        ctx.report.record(Change::Gone, RULE_KIND, &ctx.sys.schedule_rule);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_expressions_are_cron_or_rate() {
        for good in ["cron(0 2 * * ? *)", "rate(1 hour)", " rate(5 minutes) "] {
            assert_eq!(expression(good).as_deref(), Ok(good.trim()), "{good}");
        }
        for bad in ["", "daily", "cron()", "rate( )", "cron(0 2 * * ? *", "at(2025-07-06T02:00:00)", "cron(()"] {
            assert!(expression(bad).is_err(), "{bad}");
        }
    }
}
