//! The student table: on demand, keyed by `studentid`, point-in-time recovery on, deletion
//! protection on (lifted only by `destroy --delete-data`), tagged with the stack.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, ScalarAttributeType,
    TableStatus, Tag,
};
use system::student::KEY;

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::{Action, Change, FieldChange, compare};
use crate::verify::Check;

const KIND: &str = "table";

/// The table as it is in the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub arn: String,
    pub key: Vec<String>,
    pub on_demand: bool,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
    pub tag: Option<String>,
}

pub async fn read(ctx: &Ctx) -> Result<Option<Live>> {
    let name = &ctx.sys.table;
    let db = &ctx.aws.dynamodb;
    let described = found(
        db.describe_table().table_name(name).send().await.map_err(|e| aws("dynamodb:DescribeTable", name.clone(), e)),
        &["ResourceNotFoundException"],
    )?;
    let Some(table) = described.and_then(|d| d.table) else { return Ok(None) };
    let arn = table.table_arn().unwrap_or_default().to_owned();
    let backups = db
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(|e| aws("dynamodb:DescribeContinuousBackups", name.clone(), e))?;
    let tags = db
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| aws("dynamodb:ListTagsOfResource", name.clone(), e))?;
    Ok(Some(Live {
        key: table.key_schema().iter().map(|k| k.attribute_name().to_owned()).collect(),
        on_demand: table.billing_mode_summary().and_then(|b| b.billing_mode()) == Some(&BillingMode::PayPerRequest),
        point_in_time_recovery: backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .is_some_and(|s| s.as_str() == "ENABLED"),
        deletion_protection: table.deletion_protection_enabled().unwrap_or(false),
        tag: tags::value_in(tags.tags().iter().map(|t| (t.key(), t.value()))),
        arn,
    }))
}

/// What differs from the declaration. A different key cannot be changed: that is an error.
pub fn changes(ctx: &Ctx, live: &Live) -> Result<Vec<FieldChange>> {
    if live.key != [KEY] {
        return Err(InfraError::Conflict(format!(
            "table {} exists with key {:?}, not {KEY}: a key cannot change; choose another --prefix or remove the table",
            ctx.sys.table, live.key
        )));
    }
    let mut changes = Vec::new();
    compare(&mut changes, "billingMode", mode(live.on_demand), mode(true));
    compare(&mut changes, "pointInTimeRecovery", live.point_in_time_recovery, true);
    compare(&mut changes, "deletionProtection", live.deletion_protection, true);
    changes.extend(tags::change(ctx, live.tag.as_deref()));
    Ok(changes)
}

fn mode(on_demand: bool) -> &'static str {
    if on_demand { "PAY_PER_REQUEST" } else { "PROVISIONED" }
}

pub async fn reconcile(ctx: &Ctx) -> Result<()> {
    let name = &ctx.sys.table;
    let live = read(ctx).await?;
    let action = match &live {
        None => Action::Create,
        Some(live) => Action::update(changes(ctx, live)?),
    };
    if ctx.applying() {
        match &live {
            None => create(ctx).await?,
            Some(live) => update(ctx, live).await?,
        }
    }
    ctx.report.action(&action, KIND, name);
    Ok(())
}

fn stack_tag(ctx: &Ctx) -> Tag {
    Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("complete")
}

async fn create(ctx: &Ctx) -> Result<()> {
    let name = &ctx.sys.table;
    ctx.aws
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(KeySchemaElement::builder().attribute_name(KEY).key_type(KeyType::Hash).build().expect("complete"))
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete"),
        )
        .deletion_protection_enabled(true)
        .tags(stack_tag(ctx))
        .send()
        .await
        .map_err(|e| aws("dynamodb:CreateTable", name.clone(), e))?;
    wait_active(ctx, name).await?;
    point_in_time_recovery(ctx).await
}

async fn update(ctx: &Ctx, live: &Live) -> Result<()> {
    let name = &ctx.sys.table;
    let db = &ctx.aws.dynamodb;
    if !live.on_demand || !live.deletion_protection {
        db.update_table()
            .table_name(name)
            .set_billing_mode((!live.on_demand).then_some(BillingMode::PayPerRequest))
            .set_deletion_protection_enabled((!live.deletion_protection).then_some(true))
            .send()
            .await
            .map_err(|e| aws("dynamodb:UpdateTable", name.clone(), e))?;
        wait_active(ctx, name).await?;
    }
    if !live.point_in_time_recovery {
        point_in_time_recovery(ctx).await?;
    }
    if !tags::ours(ctx, live.tag.as_deref()) {
        db.tag_resource()
            .resource_arn(&live.arn)
            .tags(stack_tag(ctx))
            .send()
            .await
            .map_err(|e| aws("dynamodb:TagResource", name.clone(), e))?;
    }
    Ok(())
}

async fn point_in_time_recovery(ctx: &Ctx) -> Result<()> {
    let name = &ctx.sys.table;
    ctx.aws
        .dynamodb
        .update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(true).build().expect("complete"),
        )
        .send()
        .await
        .map_err(|e| aws("dynamodb:UpdateContinuousBackups", name.clone(), e))?;
    Ok(())
}

async fn wait_active(ctx: &Ctx, name: &str) -> Result<()> {
    for _ in 0..120 {
        let d = ctx
            .aws
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| aws("dynamodb:DescribeTable", name, e))?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        ctx.report.progress(format!("waiting for table {name} to become active"));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    Err(InfraError::Conflict(format!("table {name} did not become active within 2 minutes")))
}

pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let live = read(ctx).await?;
    let changes = match &live {
        Some(live) => changes(ctx, live)?,
        None => Vec::new(),
    };
    Ok(vec![Check::declared(
        format!("{KIND} {} is on demand, with point-in-time recovery and deletion protection", ctx.sys.table),
        live.is_some(),
        &changes,
    )])
}

/// Kept unless `delete_data`; then deletion protection is lifted and the table deleted.
pub async fn destroy(ctx: &Ctx, delete_data: bool) -> Result<()> {
    let name = &ctx.sys.table;
    let Some(live) = read(ctx).await? else {
        ctx.report.record(Change::Gone, KIND, name);
        return Ok(());
    };
    if !tags::ours(ctx, live.tag.as_deref()) {
        tags::left_alone(ctx, KIND, name);
        return Ok(());
    }
    if !delete_data {
        ctx.report.record(Change::Kept, KIND, format!("{name} (students kept; --delete-data deletes them)"));
        return Ok(());
    }
    if !ctx.applying() {
        ctx.report.to_delete(KIND, format!("{name} (and every student in it)"));
        return Ok(());
    }
    let db = &ctx.aws.dynamodb;
    if live.deletion_protection {
        db.update_table()
            .table_name(name)
            .deletion_protection_enabled(false)
            .send()
            .await
            .map_err(|e| aws("dynamodb:UpdateTable", name.clone(), e))?;
    }
    db.delete_table().table_name(name).send().await.map_err(|e| aws("dynamodb:DeleteTable", name.clone(), e))?;
    ctx.report.record(Change::Deleted, KIND, name);
    Ok(())
}
