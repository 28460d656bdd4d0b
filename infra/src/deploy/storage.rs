//! The table, the backup bucket and the SES identities.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, ScalarAttributeType,
    TableStatus,
};
use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::Change;

/// On-demand, keyed by `studentid`, point-in-time recovery on.
pub async fn table(ctx: &Ctx) -> Result<Change> {
    let name = &ctx.sys.table;
    let db = &ctx.aws.dynamodb;
    let described = found(
        db.describe_table().table_name(name).send().await.map_err(|e| aws("dynamodb:DescribeTable", name.clone(), e)),
        &["ResourceNotFoundException"],
    )?;
    let mut change = Change::Unchanged;
    match described.and_then(|d| d.table) {
        None => {
            db.create_table()
                .table_name(name)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("studentid")
                        .key_type(KeyType::Hash)
                        .build()
                        .expect("complete"),
                )
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("studentid")
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .expect("complete"),
                )
                .send()
                .await
                .map_err(|e| aws("dynamodb:CreateTable", name.clone(), e))?;
            wait_active(ctx, name).await?;
            change = Change::Created;
        }
        Some(table) => {
            let key: Vec<_> = table.key_schema().iter().map(|k| k.attribute_name().to_owned()).collect();
            if key != ["studentid"] {
                return Err(InfraError::Conflict(format!(
                    "table {name} exists with key {key:?}, not studentid: a key cannot change; choose another --prefix or remove the table"
                )));
            }
            let on_demand =
                table.billing_mode_summary().and_then(|b| b.billing_mode()) == Some(&BillingMode::PayPerRequest);
            if !on_demand {
                db.update_table()
                    .table_name(name)
                    .billing_mode(BillingMode::PayPerRequest)
                    .send()
                    .await
                    .map_err(|e| aws("dynamodb:UpdateTable", name.clone(), e))?;
                wait_active(ctx, name).await?;
                change = Change::Updated;
            }
        }
    }
    let backups = db
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(|e| aws("dynamodb:DescribeContinuousBackups", name.clone(), e))?;
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str() == "ENABLED")
        .unwrap_or(false);
    if !pitr {
        db.update_continuous_backups()
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
        change = change.or_updated();
    }
    Ok(ctx.report.record(change, "table", name))
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

/// The backup bucket: all public access blocked, SSE-S3 encryption.
pub async fn bucket(ctx: &Ctx) -> Result<Change> {
    private_bucket(ctx, &ctx.sys.bucket, "bucket").await
}

/// A bucket with all public access blocked and SSE-S3 encryption.
pub async fn private_bucket(ctx: &Ctx, name: &str, kind: &str) -> Result<Change> {
    let name = &name.to_owned();
    let s3 = &ctx.aws.s3;
    let mut change = Change::Unchanged;
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            let mut create = s3.create_bucket().bucket(name);
            if ctx.region != "us-east-1" {
                create = create.create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(ctx.region.as_str().into())
                        .build(),
                );
            }
            create.send().await.map_err(|e| aws("s3:CreateBucket", name.clone(), e))?;
            change = Change::Created;
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
            return Err(InfraError::Conflict(format!(
                "bucket {name} belongs to another account (bucket names are global): deploy with another --prefix"
            )));
        }
        Err(e) => return Err(aws("s3:ListBucket", name.clone(), e)),
    }

    let blocked =
        s3.get_public_access_block().bucket(name).send().await.ok().and_then(|o| o.public_access_block_configuration);
    let all_blocked = blocked.is_some_and(|b| {
        [b.block_public_acls, b.ignore_public_acls, b.block_public_policy, b.restrict_public_buckets]
            .iter()
            .all(|v| *v == Some(true))
    });
    if !all_blocked {
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws("s3:PutBucketPublicAccessBlock", name.clone(), e))?;
        change = change.or_updated();
    }

    let encryption = s3.get_bucket_encryption().bucket(name).send().await.ok();
    let encrypted = encryption
        .and_then(|o| o.server_side_encryption_configuration)
        .is_some_and(|c| c.rules().iter().any(|r| r.apply_server_side_encryption_by_default().is_some()));
    if !encrypted {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .expect("complete"),
            )
            .build();
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("complete"),
            )
            .send()
            .await
            .map_err(|e| aws("s3:PutEncryptionConfiguration", name.clone(), e))?;
        change = change.or_updated();
    }
    Ok(ctx.report.record(change, kind, name))
}

/// The sender (and the backup recipient, which the SES sandbox also requires) as SES
/// identities. In a real account this sends the verification email.
pub async fn email_identities(ctx: &Ctx) -> Result<()> {
    let mut addresses = vec![ctx.sys.options.sender_email.clone(), ctx.sys.options.recipient_email.clone()];
    addresses.dedup();
    for address in addresses {
        let existing = email_identity(ctx, &address).await?;
        let change = match existing {
            Some(_) => Change::Unchanged,
            None => {
                ctx.aws
                    .ses
                    .create_email_identity()
                    .email_identity(&address)
                    .send()
                    .await
                    .map_err(|e| aws("ses:CreateEmailIdentity", address.clone(), e))?;
                Change::Created
            }
        };
        ctx.report.record(change, "email-identity", &address);
    }
    Ok(())
}

/// The SES identity of `address`, or `None` when there is none.
pub async fn email_identity(
    ctx: &Ctx,
    address: &str,
) -> Result<Option<aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityOutput>> {
    found(
        ctx.aws
            .ses
            .get_email_identity()
            .email_identity(address)
            .send()
            .await
            .map_err(|e| aws("ses:GetEmailIdentity", address, e)),
        &["NotFoundException"],
    )
}

/// Empties and deletes a bucket; `absent` when it is not there.
pub async fn delete_bucket(ctx: &Ctx, name: &str, kind: &str) -> Result<()> {
    let s3 = &ctx.aws.s3;
    if s3.head_bucket().bucket(name).send().await.is_err() {
        ctx.report.record(Change::Gone, kind, name);
        return Ok(());
    }
    loop {
        let page = s3.list_objects_v2().bucket(name).send().await.map_err(|e| aws("s3:ListBucket", name, e))?;
        if page.contents().is_empty() {
            break;
        }
        for object in page.contents() {
            let key = object.key().unwrap_or_default();
            s3.delete_object()
                .bucket(name)
                .key(key)
                .send()
                .await
                .map_err(|e| aws("s3:DeleteObject", format!("{name}/{key}"), e))?;
        }
    }
    s3.delete_bucket().bucket(name).send().await.map_err(|e| aws("s3:DeleteBucket", name, e))?;
    ctx.report.record(Change::Deleted, kind, name);
    Ok(())
}
