//! The web page in the cloud: a private S3 bucket behind a CloudFront distribution (origin
//! access control), `config.json` with the invoke URL, and invalidation of what changed.
//! The distribution's origin is the one the functions and the API allow (CORS).

use std::path::{Path, PathBuf};

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins, Paths, S3OriginConfig,
    ViewerProtocolPolicy,
};
use aws_sdk_s3::primitives::ByteStream;
use md5::Digest as _;
use serde_json::json;

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::Change;

/// CloudFront's managed "CachingOptimized" cache policy.
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// The site's bucket: bucket names are global, so the account and region are part of it.
pub fn bucket_name(ctx: &Ctx) -> String {
    format!("{}student-web-{}-{}", ctx.sys.options.prefix.to_ascii_lowercase(), ctx.account, ctx.region)
}

fn comment(ctx: &Ctx) -> String {
    format!("{} web page (managed by infra)", ctx.sys.api)
}

/// The distribution: the private bucket as its only origin, read through the origin access
/// control (no legacy identity), HTTPS only, `index.html` at the root.
pub fn distribution_config(
    bucket: &str,
    region: &str,
    oac: &str,
    comment: &str,
    caller_reference: &str,
) -> DistributionConfig {
    let origin_id = "web-bucket";
    let origin = Origin::builder()
        .id(origin_id)
        .domain_name(format!("{bucket}.s3.{region}.amazonaws.com"))
        .origin_access_control_id(oac)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .expect("complete");
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(origin_id)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy_id(CACHING_OPTIMIZED)
        .compress(true)
        .build()
        .expect("complete");
    DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment(comment)
        .enabled(true)
        .default_root_object("index.html")
        .origins(Origins::builder().quantity(1).items(origin).build().expect("complete"))
        .default_cache_behavior(behavior)
        .build()
        .expect("complete")
}

/// The distribution of this system, if deployed: (id, ARN, domain name).
pub async fn find_distribution(ctx: &Ctx) -> Result<Option<(String, String, String)>> {
    let list = ctx
        .aws
        .cloudfront
        .list_distributions()
        .send()
        .await
        .map_err(|e| aws("cloudfront:ListDistributions", "distributions", e))?;
    let wanted = comment(ctx);
    Ok(list.distribution_list().and_then(|l| {
        l.items()
            .iter()
            .find(|d| d.comment() == wanted)
            .map(|d| (d.id().to_owned(), d.arn().to_owned(), d.domain_name().to_owned()))
    }))
}

/// Bucket, origin access control and distribution; returns the page's origin
/// (`https://dxxxx.cloudfront.net`), which CORS must allow.
pub async fn hosting(ctx: &Ctx) -> Result<String> {
    let bucket = bucket_name(ctx);
    crate::deploy::storage::private_bucket(ctx, &bucket, "web-bucket").await?;

    let cf = &ctx.aws.cloudfront;
    let oac_name = oac_name(ctx);
    let oac = match find_origin_access_control(ctx, &oac_name).await? {
        Some(id) => {
            ctx.report.record(Change::Unchanged, "origin-access-control", &oac_name);
            id
        }
        None => {
            let config = OriginAccessControlConfig::builder()
                .name(&oac_name)
                .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
                .signing_behavior(OriginAccessControlSigningBehaviors::Always)
                .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
                .build()
                .expect("complete");
            let created = cf
                .create_origin_access_control()
                .origin_access_control_config(config)
                .send()
                .await
                .map_err(|e| aws("cloudfront:CreateOriginAccessControl", &oac_name, e))?;
            ctx.report.record(Change::Created, "origin-access-control", &oac_name);
            created.origin_access_control().map(|c| c.id().to_owned()).unwrap_or_default()
        }
    };

    let (arn, domain) = match find_distribution(ctx).await? {
        Some((_, arn, domain)) => {
            ctx.report.record(Change::Unchanged, "distribution", &domain);
            (arn, domain)
        }
        None => {
            let config = distribution_config(
                &bucket,
                &ctx.region,
                &oac,
                &comment(ctx),
                &format!("{}-{}", comment(ctx), ctx.account),
            );
            ctx.report.progress("creating the CloudFront distribution (it takes minutes to reach every edge)");
            let created = ctx
                .aws
                .cloudfront
                .create_distribution()
                .distribution_config(config)
                .send()
                .await
                .map_err(|e| aws("cloudfront:CreateDistribution", comment(ctx), e))?;
            let d = created
                .distribution()
                .ok_or_else(|| InfraError::Conflict("CloudFront returned no distribution".into()))?;
            ctx.report.record(Change::Created, "distribution", d.domain_name());
            (d.arn().to_owned(), d.domain_name().to_owned())
        }
    };

    // Only this distribution may read the bucket.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudFrontReadsThePage",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": arn}}
        }]
    });
    let current = ctx.aws.s3.get_bucket_policy().bucket(&bucket).send().await.ok().and_then(|p| p.policy);
    let had_one = current.is_some();
    let same = current.and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok()).is_some_and(|p| p == policy);
    let change = if same {
        Change::Unchanged
    } else {
        ctx.aws
            .s3
            .put_bucket_policy()
            .bucket(&bucket)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|e| aws("s3:PutBucketPolicy", &bucket, e))?;
        Change::replacing(had_one)
    };
    ctx.report.record(change, "bucket-policy", &bucket);
    Ok(format!("https://{domain}"))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Every file below `root`, sorted.
pub(crate) fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

fn oac_name(ctx: &Ctx) -> String {
    format!("{}student-web", ctx.sys.options.prefix)
}

/// The id of the origin access control named `name`, if there is one.
async fn find_origin_access_control(ctx: &Ctx, name: &str) -> Result<Option<String>> {
    let controls = ctx
        .aws
        .cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .map_err(|e| aws("cloudfront:ListOriginAccessControls", name, e))?;
    Ok(controls
        .origin_access_control_list()
        .and_then(|l| l.items().iter().find(|c| c.name() == name).map(|c| c.id().to_owned())))
}

/// Uploads the built page and its `config.json`, each only when its content changed, and
/// invalidates the changed paths. Returns how many files changed.
pub async fn publish(ctx: &Ctx, dir: &Path, invoke_url: &str) -> Result<usize> {
    let bucket = bucket_name(ctx);
    let mut uploads: Vec<(String, Vec<u8>, &'static str)> = Vec::new();
    for path in files_under(dir) {
        let key = path.strip_prefix(dir).expect("under dir").to_string_lossy().replace('\\', "/");
        if key == "config.json" {
            continue; // written below, for this deployment
        }
        let bytes = std::fs::read(&path).map_err(|e| InfraError::Io(format!("{}: {e}", path.display())))?;
        uploads.push((key, bytes, content_type(&path)));
    }
    if !uploads.iter().any(|(k, _, _)| k == "index.html") {
        return Err(InfraError::Missing(format!("{}/index.html: build the page first (web/build.sh)", dir.display())));
    }
    let config = serde_json::to_vec_pretty(&json!({"apiUrl": invoke_url})).expect("plain data");
    uploads.push(("config.json".into(), config, "application/json"));

    let mut changed = Vec::new();
    for (key, bytes, kind) in uploads {
        // A single-part object's ETag is the MD5 of its content: compare before uploading.
        let etag = format!("\"{:x}\"", md5::Md5::digest(&bytes));
        let head = found(
            ctx.aws.s3.head_object().bucket(&bucket).key(&key).send().await.map_err(|e| aws("s3:GetObject", &key, e)),
            &["NotFound", "NoSuchKey"],
        )
        .unwrap_or(None);
        if head.as_ref().and_then(|h| h.e_tag()) == Some(etag.as_str()) {
            continue;
        }
        ctx.aws
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type(kind)
            // The page is small and changes at deploys: browsers revalidate, CloudFront caches.
            .cache_control("no-cache")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| aws("s3:PutObject", &key, e))?;
        changed.push(format!("/{key}"));
    }
    let change = if changed.is_empty() { Change::Unchanged } else { Change::Updated };
    ctx.report.record(change, "web-files", format!("{} ({} changed)", bucket, changed.len()));
    if !changed.is_empty()
        && let Some((id, _, _)) = find_distribution(ctx).await?
    {
        if changed.iter().any(|p| p == "/index.html") {
            changed.push("/".into());
        }
        let paths =
            Paths::builder().quantity(changed.len() as i32).set_items(Some(changed.clone())).build().expect("complete");
        let batch = aws_sdk_cloudfront::types::InvalidationBatch::builder()
            .paths(paths)
            .caller_reference(format!("infra-{}", time::OffsetDateTime::now_utc().unix_timestamp_nanos()))
            .build()
            .expect("complete");
        ctx.aws
            .cloudfront
            .create_invalidation()
            .distribution_id(&id)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|e| aws("cloudfront:CreateInvalidation", &id, e))?;
        ctx.report.record(Change::Created, "invalidation", changed.join(" "));
    }
    Ok(changed.len())
}

/// Checks of the published page: its `config.json` names this API, and the functions allow
/// its origin. `None` when no page is deployed.
pub async fn checks(ctx: &Ctx, invoke_url: &str) -> Result<Option<Vec<(String, Option<String>)>>> {
    let Some((_, _, domain)) = find_distribution(ctx).await? else { return Ok(None) };
    let origin = format!("https://{domain}");
    let mut out = Vec::new();
    let config = ctx.aws.s3.get_object().bucket(bucket_name(ctx)).key("config.json").send().await;
    let api_url = match config {
        Ok(o) => {
            let bytes = o.body.collect().await.map(|b| b.into_bytes()).unwrap_or_default();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["apiUrl"].as_str().map(str::to_owned))
        }
        Err(_) => None,
    };
    out.push((
        format!("the page's config.json names {invoke_url}"),
        (api_url.as_deref() != Some(invoke_url))
            .then(|| format!("it names {api_url:?}; run `infra deploy --web-dir web/dist` to repair")),
    ));
    for f in &ctx.sys.functions {
        let config = ctx.aws.lambda.get_function_configuration().function_name(&f.name).send().await.ok();
        let allowed = config
            .as_ref()
            .and_then(|c| c.environment())
            .and_then(|e| e.variables())
            .and_then(|v| v.get("ALLOWED_ORIGIN"))
            .cloned();
        out.push((
            format!("{} allows the page's origin {origin}", f.name),
            (allowed.as_deref() != Some(origin.as_str()))
                .then(|| format!("ALLOWED_ORIGIN is {allowed:?}, so the browser cannot read its answers; run `infra deploy` to repair")),
        ));
    }
    Ok(Some(out))
}

/// Removes the distribution (disabled first, as CloudFront requires), the origin access
/// control and the site's bucket.
pub async fn destroy(ctx: &Ctx) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    match find_distribution(ctx).await? {
        None => {
            ctx.report.record(Change::Gone, "distribution", comment(ctx));
        }
        Some((id, _, domain)) => {
            let got = cf
                .get_distribution_config()
                .id(&id)
                .send()
                .await
                .map_err(|e| aws("cloudfront:GetDistributionConfig", &id, e))?;
            let mut etag = got.e_tag().unwrap_or_default().to_owned();
            if let Some(config) = got.distribution_config().filter(|c| c.enabled()) {
                let mut disabled = config.clone();
                disabled.enabled = false;
                let updated = cf
                    .update_distribution()
                    .id(&id)
                    .if_match(&etag)
                    .distribution_config(disabled)
                    .send()
                    .await
                    .map_err(|e| aws("cloudfront:UpdateDistribution", &id, e))?;
                etag = updated.e_tag().unwrap_or_default().to_owned();
            }
            match cf.delete_distribution().id(&id).if_match(&etag).send().await {
                Ok(_) => {
                    ctx.report.record(Change::Deleted, "distribution", &domain);
                }
                // In AWS a distribution can be deleted only once disabling has reached every
                // edge (about 15 minutes).
                Err(e) if e.as_service_error().is_some_and(|s| s.is_distribution_not_disabled()) => {
                    ctx.report.record(
                        Change::Kept,
                        "distribution",
                        format!("{domain} (disabled; run `infra destroy` again in ~15 minutes to delete it)"),
                    );
                    return Ok(());
                }
                Err(e) => return Err(aws("cloudfront:DeleteDistribution", &id, e)),
            }
        }
    }
    let name = oac_name(ctx);
    if let Some(id) = find_origin_access_control(ctx, &name).await? {
        let etag = cf.get_origin_access_control().id(&id).send().await.ok().and_then(|o| o.e_tag).unwrap_or_default();
        cf.delete_origin_access_control()
            .id(&id)
            .if_match(etag)
            .send()
            .await
            .map_err(|e| aws("cloudfront:DeleteOriginAccessControl", &id, e))?;
        ctx.report.record(Change::Deleted, "origin-access-control", &name);
    }
    crate::deploy::storage::delete_bucket(ctx, &bucket_name(ctx), "web-bucket").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distribution_reads_the_private_bucket_through_its_access_control_over_https() {
        let c = distribution_config("site", "eu-west-1", "OAC1", "student web page", "ref");
        let origin = &c.origins().unwrap().items()[0];
        assert_eq!(origin.domain_name(), "site.s3.eu-west-1.amazonaws.com");
        assert_eq!(origin.origin_access_control_id(), Some("OAC1"));
        assert_eq!(origin.s3_origin_config().unwrap().origin_access_identity(), "", "no legacy origin access identity");
        let behavior = c.default_cache_behavior().unwrap();
        assert_eq!(behavior.viewer_protocol_policy(), &ViewerProtocolPolicy::RedirectToHttps);
        assert_eq!(behavior.target_origin_id(), origin.id());
        assert_eq!(c.default_root_object(), Some("index.html"));
        assert!(c.enabled());
    }
}
