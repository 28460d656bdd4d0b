//! DynamoDB tables: on demand, point-in-time recovery on, deletion protection on (lifted only
//! by the `destroy` flag that deletes what the table holds), tagged with the stack. Two are
//! declared: the students (keyed by `studentid`) and the catalog of backups (partition
//! `catalog`, sort `backupId`), which describes the backups and so lives and dies with them.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, ScalarAttributeType,
    TableStatus, Tag,
};
use system::backup::catalog;
use system::student::KEY;

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::{Action, Change, FieldChange, compare};
use crate::verify::Check;

const KIND: &str = "table";

/// A table as declared. Every key attribute is a string.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
    /// What deleting it loses, for `destroy`'s lines: `every student in it`.
    pub holds: &'static str,
    /// What `destroy` says when it keeps the table: what stays and which flag deletes it.
    pub kept: &'static str,
}

/// The student table.
pub fn students(ctx: &Ctx) -> Table {
    Table {
        name: ctx.sys.table.clone(),
        partition_key: KEY,
        sort_key: None,
        holds: "every student in it",
        kept: "students kept; --delete-data deletes them",
    }
}

/// The catalog of backups: without the backups it describes nothing, and without it the
/// backups are still whole (each has its manifest), so it goes with `--delete-backups`.
pub fn backups(ctx: &Ctx) -> Table {
    Table {
        name: ctx.sys.backups_table.clone(),
        partition_key: catalog::PARTITION_KEY,
        sort_key: Some(catalog::SORT_KEY),
        holds: "the record of every backup",
        kept: "the catalog of backups kept; --delete-backups deletes it",
    }
}

/// The table as it is in the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub arn: String,
    /// The key attributes, partition key first.
    pub key: Vec<String>,
    pub on_demand: bool,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
    pub tag: Option<String>,
}

fn mode(on_demand: bool) -> &'static str {
    if on_demand { "PAY_PER_REQUEST" } else { "PROVISIONED" }
}

impl Table {
    /// The key attributes, partition key first.
    fn key(&self) -> Vec<&'static str> {
        std::iter::once(self.partition_key).chain(self.sort_key).collect()
    }

    pub async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let name = &self.name;
        let db = &ctx.aws.dynamodb;
        let described = found(
            db.describe_table()
                .table_name(name)
                .send()
                .await
                .map_err(|e| aws("dynamodb:DescribeTable", name.clone(), e)),
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
        let mut key: Vec<&KeySchemaElement> = table.key_schema().iter().collect();
        key.sort_by_key(|k| *k.key_type() != KeyType::Hash);
        Ok(Some(Live {
            key: key.iter().map(|k| k.attribute_name().to_owned()).collect(),
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
    pub fn changes(&self, ctx: &Ctx, live: &Live) -> Result<Vec<FieldChange>> {
        let key = self.key();
        if live.key != key {
            return Err(InfraError::Conflict(format!(
                "table {} exists with key {:?}, not {key:?}: a key cannot change; choose another --prefix or remove the table",
                self.name, live.key
            )));
        }
        let mut changes = Vec::new();
        compare(&mut changes, "billingMode", mode(live.on_demand), mode(true));
        compare(&mut changes, "pointInTimeRecovery", live.point_in_time_recovery, true);
        compare(&mut changes, "deletionProtection", live.deletion_protection, true);
        changes.extend(tags::change(ctx, live.tag.as_deref()));
        Ok(changes)
    }

    pub async fn reconcile(&self, ctx: &Ctx) -> Result<()> {
        let live = self.read(ctx).await?;
        let action = match &live {
            None => Action::Create,
            Some(live) => Action::update(self.changes(ctx, live)?),
        };
        if ctx.applying() {
            match &live {
                None => self.create(ctx).await?,
                Some(live) => self.update(ctx, live).await?,
            }
        }
        ctx.report.action(&action, KIND, &self.name);
        Ok(())
    }

    async fn create(&self, ctx: &Ctx) -> Result<()> {
        let name = &self.name;
        let key = self.key();
        let schema = key.iter().zip([KeyType::Hash, KeyType::Range]).map(|(attribute, kind)| {
            KeySchemaElement::builder().attribute_name(*attribute).key_type(kind).build().expect("complete")
        });
        let definitions = key.iter().map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(*attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete")
        });
        ctx.aws
            .dynamodb
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(schema.collect()))
            .set_attribute_definitions(Some(definitions.collect()))
            .deletion_protection_enabled(true)
            .tags(stack_tag(ctx))
            .send()
            .await
            .map_err(|e| aws("dynamodb:CreateTable", name.clone(), e))?;
        wait_active(ctx, name).await?;
        self.point_in_time_recovery(ctx).await
    }

    async fn update(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        let name = &self.name;
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
            self.point_in_time_recovery(ctx).await?;
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

    async fn point_in_time_recovery(&self, ctx: &Ctx) -> Result<()> {
        let name = &self.name;
        ctx.aws
            .dynamodb
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(|e| aws("dynamodb:UpdateContinuousBackups", name.clone(), e))?;
        Ok(())
    }

    pub async fn checks(&self, ctx: &Ctx) -> Result<Vec<Check>> {
        let live = self.read(ctx).await?;
        let changes = match &live {
            Some(live) => self.changes(ctx, live)?,
            None => Vec::new(),
        };
        Ok(vec![Check::declared(
            format!("{KIND} {} is on demand, with point-in-time recovery and deletion protection", self.name),
            live.is_some(),
            &changes,
        )])
    }

    /// Kept unless `delete` (the flag its `kept` line names was given); then deletion
    /// protection is lifted and the table deleted.
    pub async fn destroy(&self, ctx: &Ctx, delete: bool) -> Result<()> {
        let name = &self.name;
        let Some(live) = self.read(ctx).await? else {
            ctx.report.record(Change::Gone, KIND, name);
            return Ok(());
        };
        if !tags::ours(ctx, live.tag.as_deref()) {
            tags::left_alone(ctx, KIND, name);
            return Ok(());
        }
        if !delete {
            ctx.report.record(Change::Kept, KIND, format!("{name} ({})", self.kept));
            return Ok(());
        }
        if !ctx.applying() {
            ctx.report.to_delete(KIND, format!("{name} (and {})", self.holds));
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
}

fn stack_tag(ctx: &Ctx) -> Tag {
    Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("complete")
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
