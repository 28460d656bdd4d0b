//! S3 buckets: private (all public access blocked), encrypted (SSE-S3), requests without TLS
//! denied, tagged with the stack; the backup bucket also versioned, with incomplete multipart
//! uploads aborted after a week. Every call names the account as the expected bucket owner.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus, CreateBucketConfiguration,
    ExpirationStatus, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use serde_json::{Value, json};

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::{Action, Change, FieldChange, compare};
use crate::verify::Check;

/// S3 aborts a multipart upload left incomplete this many days (the backup function aborts
/// its own on failure; this catches a process killed mid-upload).
pub const ABORT_INCOMPLETE_UPLOADS_DAYS: i32 = 7;
const LIFECYCLE_RULE: &str = "abort-incomplete-multipart-uploads";
const TLS_STATEMENT: &str = "DenyRequestsWithoutTls";

/// A bucket as declared.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub kind: &'static str,
    pub name: String,
    pub versioned: bool,
    pub abort_incomplete_uploads: bool,
    /// Statements beside the TLS denial (the web page's: CloudFront may read it).
    pub statements: Vec<Value>,
}

/// The backup bucket.
pub fn backups(ctx: &Ctx) -> Bucket {
    Bucket {
        kind: "bucket",
        name: ctx.sys.bucket.clone(),
        versioned: true,
        abort_incomplete_uploads: true,
        statements: Vec::new(),
    }
}

/// The bucket as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub public_access_blocked: bool,
    pub encrypted: bool,
    pub versioned: bool,
    pub policy: Option<Value>,
    pub aborts_incomplete_uploads: Option<i32>,
    pub tag: Option<String>,
}

impl Bucket {
    /// The policy: no request without TLS (unless the endpoint itself has none, as the
    /// emulator's: the denial would lock everyone out), and the extra statements.
    pub fn policy(&self, plain_http_endpoint: bool) -> Option<Value> {
        let mut statements = self.statements.clone();
        if !plain_http_endpoint {
            statements.insert(
                0,
                json!({
                    "Sid": TLS_STATEMENT,
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [format!("arn:aws:s3:::{}", self.name), format!("arn:aws:s3:::{}/*", self.name)],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}
                }),
            );
        }
        (!statements.is_empty()).then(|| json!({"Version": "2012-10-17", "Statement": statements}))
    }

    pub async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let (s3, name, owner) = (&ctx.aws.s3, &self.name, &ctx.account);
        match s3.head_bucket().bucket(name).expected_bucket_owner(owner).send().await {
            Ok(head) => {
                if let Some(region) = head.bucket_region().filter(|r| *r != ctx.region) {
                    return Err(InfraError::Conflict(format!(
                        "bucket {name} is in {region}, not {}: bucket names are global, so a deploy in a second region needs another --prefix",
                        ctx.region
                    )));
                }
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return Err(InfraError::Conflict(format!(
                    "bucket {name} belongs to another account (bucket names are global): deploy with another --prefix"
                )));
            }
            Err(e) => return Err(aws("s3:ListBucket", name.clone(), e)),
        }
        let blocked = found(
            s3.get_public_access_block()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| aws("s3:GetBucketPublicAccessBlock", name.clone(), e)),
            &["NoSuchPublicAccessBlockConfiguration"],
        )?
        .and_then(|o| o.public_access_block_configuration)
        .is_some_and(|b| {
            [b.block_public_acls, b.ignore_public_acls, b.block_public_policy, b.restrict_public_buckets]
                .iter()
                .all(|v| *v == Some(true))
        });
        let encrypted = found(
            s3.get_bucket_encryption()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| aws("s3:GetEncryptionConfiguration", name.clone(), e)),
            &["ServerSideEncryptionConfigurationNotFoundError"],
        )?
        .and_then(|o| o.server_side_encryption_configuration)
        .is_some_and(|c| c.rules().iter().any(|r| r.apply_server_side_encryption_by_default().is_some()));
        let versioned = match s3.get_bucket_versioning().bucket(name).expected_bucket_owner(owner).send().await {
            Ok(v) => v.status() == Some(&BucketVersioningStatus::Enabled),
            // The emulator answers with another XML root than S3's, which the SDK refuses to
            // read: read the same (successful) answer's status leniently rather than go blind.
            Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) => e
                .raw_response()
                .and_then(|r| r.body().bytes())
                .is_some_and(|b| String::from_utf8_lossy(b).contains("<Status>Enabled</Status>")),
            Err(e) => return Err(aws("s3:GetBucketVersioning", name.clone(), e)),
        };
        let policy = found(
            s3.get_bucket_policy()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| aws("s3:GetBucketPolicy", name.clone(), e)),
            &["NoSuchBucketPolicy"],
        )?
        .and_then(|p| p.policy)
        .and_then(|p| serde_json::from_str(&p).ok());
        let aborts_incomplete_uploads = found(
            s3.get_bucket_lifecycle_configuration()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| aws("s3:GetLifecycleConfiguration", name.clone(), e)),
            &["NoSuchLifecycleConfiguration"],
        )?
        .and_then(|l| {
            l.rules()
                .iter()
                .filter(|r| r.status() == &ExpirationStatus::Enabled)
                .find_map(|r| r.abort_incomplete_multipart_upload()?.days_after_initiation())
        });
        let tag = found(
            s3.get_bucket_tagging()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| aws("s3:GetBucketTagging", name.clone(), e)),
            &["NoSuchTagSet"],
        )?
        .and_then(|t| tags::value_in(t.tag_set().iter().map(|t| (t.key(), t.value()))));
        Ok(Some(Live { public_access_blocked: blocked, encrypted, versioned, policy, aborts_incomplete_uploads, tag }))
    }

    pub fn changes(&self, ctx: &Ctx, live: &Live) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        compare(&mut changes, "publicAccessBlock", live.public_access_blocked, true);
        compare(&mut changes, "encryption", encryption(live.encrypted), encryption(true));
        if self.versioned {
            compare(&mut changes, "versioning", versioning(live.versioned), versioning(true));
        }
        let policy = self.policy(ctx.plain_http_s3);
        if live.policy != policy {
            let (old, new) = (describe(live.policy.as_ref()), describe(policy.as_ref()));
            let new = if old == new { format!("{new} (statements changed)") } else { new };
            changes.push(FieldChange::new("policy", old, new));
        }
        if self.abort_incomplete_uploads && live.aborts_incomplete_uploads != Some(ABORT_INCOMPLETE_UPLOADS_DAYS) {
            changes.push(FieldChange::optional(
                "lifecycle.abortIncompleteMultipartUpload.days",
                live.aborts_incomplete_uploads,
                ABORT_INCOMPLETE_UPLOADS_DAYS,
            ));
        }
        changes.extend(tags::change(ctx, live.tag.as_deref()));
        changes
    }

    pub async fn reconcile(&self, ctx: &Ctx) -> Result<()> {
        let live = self.read(ctx).await?;
        let action = match &live {
            None => Action::Create,
            Some(live) => Action::update(self.changes(ctx, live)),
        };
        if ctx.applying() && action != Action::Unchanged {
            if live.is_none() {
                self.create(ctx).await?;
            }
            self.configure(ctx, live.as_ref()).await?;
        }
        ctx.report.action(&action, self.kind, &self.name);
        Ok(())
    }

    async fn create(&self, ctx: &Ctx) -> Result<()> {
        let mut create = ctx.aws.s3.create_bucket().bucket(&self.name);
        if ctx.region != crate::context::DEFAULT_REGION {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder().location_constraint(ctx.region.as_str().into()).build(),
            );
        }
        create.send().await.map_err(|e| aws("s3:CreateBucket", self.name.clone(), e))?;
        Ok(())
    }

    /// Puts every setting that is not as declared (all of them for a new bucket).
    async fn configure(&self, ctx: &Ctx, live: Option<&Live>) -> Result<()> {
        let (s3, name, owner) = (&ctx.aws.s3, &self.name, &ctx.account);
        if !live.is_some_and(|l| l.public_access_blocked) {
            s3.put_public_access_block()
                .bucket(name)
                .expected_bucket_owner(owner)
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
        }
        if !live.is_some_and(|l| l.encrypted) {
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
                .expected_bucket_owner(owner)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("complete"),
                )
                .send()
                .await
                .map_err(|e| aws("s3:PutEncryptionConfiguration", name.clone(), e))?;
        }
        if self.versioned && !live.is_some_and(|l| l.versioned) {
            s3.put_bucket_versioning()
                .bucket(name)
                .expected_bucket_owner(owner)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                )
                .send()
                .await
                .map_err(|e| aws("s3:PutBucketVersioning", name.clone(), e))?;
        }
        let policy = self.policy(ctx.plain_http_s3);
        if live.map(|l| &l.policy) != Some(&policy) {
            match &policy {
                Some(policy) => s3
                    .put_bucket_policy()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .policy(policy.to_string())
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws("s3:PutBucketPolicy", name.clone(), e))?,
                None => s3
                    .delete_bucket_policy()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws("s3:DeleteBucketPolicy", name.clone(), e))?,
            }
        }
        if self.abort_incomplete_uploads
            && live.and_then(|l| l.aborts_incomplete_uploads) != Some(ABORT_INCOMPLETE_UPLOADS_DAYS)
        {
            let rule = LifecycleRule::builder()
                .id(LIFECYCLE_RULE)
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(ABORT_INCOMPLETE_UPLOADS_DAYS)
                        .build(),
                )
                .build()
                .expect("complete");
            s3.put_bucket_lifecycle_configuration()
                .bucket(name)
                .expected_bucket_owner(owner)
                .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().expect("complete"))
                .send()
                .await
                .map_err(|e| aws("s3:PutLifecycleConfiguration", name.clone(), e))?;
        }
        if !live.is_some_and(|l| tags::ours(ctx, l.tag.as_deref())) {
            let tag = Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("complete");
            s3.put_bucket_tagging()
                .bucket(name)
                .expected_bucket_owner(owner)
                .tagging(Tagging::builder().tag_set(tag).build().expect("complete"))
                .send()
                .await
                .map_err(|e| aws("s3:PutBucketTagging", name.clone(), e))?;
        }
        Ok(())
    }

    pub async fn checks(&self, ctx: &Ctx) -> Result<Vec<Check>> {
        let live = self.read(ctx).await?;
        let changes = live.as_ref().map(|l| self.changes(ctx, l)).unwrap_or_default();
        let mut what = vec!["private", "encrypted"];
        if self.versioned {
            what.push("versioned");
        }
        what.push(if ctx.plain_http_s3 { "(TLS-only policy: not on a plain-HTTP endpoint)" } else { "TLS only" });
        if self.abort_incomplete_uploads {
            what.push("incomplete uploads aborted");
        }
        Ok(vec![Check::declared(
            format!("{} {} is {}", self.kind, self.name, what.join(", ")),
            live.is_some(),
            &changes,
        )])
    }

    /// Empties (every version of every object) and deletes the bucket, if it carries the tag.
    pub async fn destroy(&self, ctx: &Ctx) -> Result<()> {
        let (kind, name) = (self.kind, &self.name);
        let Some(live) = self.read(ctx).await? else {
            ctx.report.record(Change::Gone, kind, name);
            return Ok(());
        };
        if !tags::ours(ctx, live.tag.as_deref()) {
            tags::left_alone(ctx, kind, name);
            return Ok(());
        }
        if !ctx.applying() {
            ctx.report.to_delete(kind, format!("{name} (and everything in it)"));
            return Ok(());
        }
        let (s3, owner) = (&ctx.aws.s3, &ctx.account);
        loop {
            let page = s3
                .list_object_versions()
                .bucket(name)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| aws("s3:ListBucketVersions", name.clone(), e))?;
            let objects: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())))
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder().key(key?).set_version_id(version.map(str::to_owned)).build().ok()
                })
                .collect();
            if objects.is_empty() {
                break;
            }
            for object in objects {
                let key = object.key().to_owned();
                s3.delete_object()
                    .bucket(name)
                    .key(&key)
                    .set_version_id(object.version_id().map(str::to_owned))
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .map_err(|e| aws("s3:DeleteObjectVersion", format!("{name}/{key}"), e))?;
            }
        }
        s3.delete_bucket()
            .bucket(name)
            .expected_bucket_owner(owner)
            .send()
            .await
            .map_err(|e| aws("s3:DeleteBucket", name.clone(), e))?;
        ctx.report.record(Change::Deleted, kind, name);
        Ok(())
    }
}

fn encryption(on: bool) -> &'static str {
    if on { "SSE-S3" } else { "none" }
}

fn versioning(on: bool) -> &'static str {
    if on { "Enabled" } else { "off" }
}

/// A policy in a plan line: its statements' ids (the JSON itself would swamp the line).
fn describe(policy: Option<&Value>) -> String {
    match policy {
        None => "none".into(),
        Some(p) => {
            let sids: Vec<&str> = p["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s["Sid"].as_str().unwrap_or("(unnamed)"))
                .collect();
            format!("[{}]", sids.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(statements: Vec<Value>) -> Bucket {
        Bucket { kind: "bucket", name: "b".into(), versioned: true, abort_incomplete_uploads: true, statements }
    }

    #[test]
    fn requests_without_tls_are_denied_except_where_the_endpoint_has_none() {
        let policy = bucket(Vec::new()).policy(false).unwrap();
        let deny = &policy["Statement"][0];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Principal"], "*");
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(deny["Resource"], json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"]));
        assert_eq!(bucket(Vec::new()).policy(true), None);
        let read = json!({"Sid": "CloudFrontReadsThePage"});
        let both = bucket(vec![read.clone()]).policy(false).unwrap();
        assert_eq!(both["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(bucket(vec![read.clone()]).policy(true).unwrap()["Statement"], json!([read]));
    }
}
