//! The web page in the cloud: a private S3 bucket behind a CloudFront distribution (origin
//! access control), the page's security headers on every answer (a response-headers policy:
//! its Content-Security-Policy, HSTS, `nosniff`, `frame-ancestors 'none'`), `config.json` with
//! the invoke URL, and invalidation of what changed. The distribution's origin is the one the
//! functions and the API allow (CORS).

use std::path::{Path, PathBuf};

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, FrameOptionsList, Origin, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins,
    Paths, ReferrerPolicyList, ResponseHeadersPolicyConfig, ResponseHeadersPolicyContentSecurityPolicy,
    ResponseHeadersPolicyContentTypeOptions, ResponseHeadersPolicyFrameOptions, ResponseHeadersPolicyReferrerPolicy,
    ResponseHeadersPolicySecurityHeadersConfig, ResponseHeadersPolicyStrictTransportSecurity,
    ResponseHeadersPolicyType, S3OriginConfig, Tag, Tags, ViewerProtocolPolicy,
};
use aws_sdk_s3::primitives::ByteStream;
use md5::Digest as _;
use serde_json::json;
use system::System;

use super::bucket::Bucket;
use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::{Action, Change, FieldChange};
use crate::verify::Check;

/// CloudFront's managed "CachingOptimized" cache policy.
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// HSTS: two years, subdomains included (the distribution's own domain is CloudFront's).
const HSTS_SECONDS: i32 = 63_072_000;

/// The site's bucket: bucket names are global, so the account and region are part of it.
pub fn bucket_name(sys: &System) -> String {
    format!("{}student-web-{}-{}", sys.options.prefix.to_ascii_lowercase(), sys.options.account, sys.options.region)
}

fn comment(sys: &System) -> String {
    format!("{} web page (managed by infra)", sys.api)
}

fn oac_name(sys: &System) -> String {
    format!("{}student-web", sys.options.prefix)
}

fn headers_policy_name(sys: &System) -> String {
    format!("{}student-web-headers", sys.options.prefix)
}

/// The distribution: the private bucket as its only origin, read through the origin access
/// control (no legacy identity), HTTPS only, `index.html` at the root, the security headers
/// on every answer.
pub fn distribution_config(
    bucket: &str,
    region: &str,
    oac: &str,
    comment: &str,
    caller_reference: &str,
    headers_policy: Option<&str>,
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
        .set_response_headers_policy_id(headers_policy.map(str::to_owned))
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

/// The page's own Content-Security-Policy (the `<meta>` tag of its `index.html`, so it is
/// declared once, with the page), plus what only a header can say: `frame-ancestors 'none'`.
pub fn content_security_policy(index_html: &str) -> Option<String> {
    let start = index_html.find("http-equiv=\"Content-Security-Policy\"")?;
    let tag = &index_html[start..];
    let content = tag.split("content=\"").nth(1)?.split('"').next()?;
    Some(format!("{}; frame-ancestors 'none'", content.trim_end_matches(';').trim()))
}

/// The security headers CloudFront adds to every answer of the page.
pub fn headers_policy_config(name: &str, csp: &str) -> ResponseHeadersPolicyConfig {
    let security = ResponseHeadersPolicySecurityHeadersConfig::builder()
        .content_security_policy(
            ResponseHeadersPolicyContentSecurityPolicy::builder()
                .content_security_policy(csp)
                .r#override(true)
                .build()
                .expect("complete"),
        )
        .strict_transport_security(
            ResponseHeadersPolicyStrictTransportSecurity::builder()
                .access_control_max_age_sec(HSTS_SECONDS)
                .include_subdomains(true)
                .r#override(true)
                .build()
                .expect("complete"),
        )
        .content_type_options(
            ResponseHeadersPolicyContentTypeOptions::builder().r#override(true).build().expect("complete"),
        )
        .frame_options(
            ResponseHeadersPolicyFrameOptions::builder()
                .frame_option(FrameOptionsList::Deny)
                .r#override(true)
                .build()
                .expect("complete"),
        )
        .referrer_policy(
            ResponseHeadersPolicyReferrerPolicy::builder()
                .referrer_policy(ReferrerPolicyList::NoReferrer)
                .r#override(true)
                .build()
                .expect("complete"),
        )
        .build();
    ResponseHeadersPolicyConfig::builder()
        .name(name)
        .comment("Student records web page: the page's CSP, HSTS, nosniff, no framing (managed by infra)")
        .security_headers_config(security)
        .build()
        .expect("complete")
}

/// What is wrong with a headers policy's security headers (none when it is as declared).
pub fn headers_changes(current: &ResponseHeadersPolicyConfig, csp: Option<&str>) -> Vec<FieldChange> {
    let security = current.security_headers_config();
    let mut changes = Vec::new();
    let current_csp = security.and_then(|s| s.content_security_policy()).map(|c| c.content_security_policy());
    match csp {
        Some(csp) if current_csp != Some(csp) => {
            changes.push(FieldChange::optional("Content-Security-Policy", current_csp, csp));
        }
        _ if !current_csp.is_some_and(|c| c.contains("frame-ancestors 'none'")) => {
            changes.push(FieldChange::optional(
                "Content-Security-Policy",
                current_csp,
                "(with frame-ancestors 'none')",
            ));
        }
        _ => {}
    }
    let hsts = security.and_then(|s| s.strict_transport_security()).map(|h| h.access_control_max_age_sec());
    if hsts != Some(HSTS_SECONDS) {
        changes.push(FieldChange::optional("Strict-Transport-Security.max-age", hsts, HSTS_SECONDS));
    }
    if security.and_then(|s| s.content_type_options()).is_none() {
        changes.push(FieldChange::new("X-Content-Type-Options", "none", "nosniff"));
    }
    changes
}

/// The distribution of this system, if deployed.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub id: String,
    pub arn: String,
    pub domain: String,
    pub tag: Option<String>,
}

pub async fn find_distribution(ctx: &Ctx) -> Result<Option<Distribution>> {
    let cf = &ctx.aws.cloudfront;
    let list =
        cf.list_distributions().send().await.map_err(|e| aws("cloudfront:ListDistributions", "distributions", e))?;
    let wanted = comment(&ctx.sys);
    let Some(d) = list.distribution_list().and_then(|l| l.items().iter().find(|d| d.comment() == wanted)) else {
        return Ok(None);
    };
    let tags = cf
        .list_tags_for_resource()
        .resource(d.arn())
        .send()
        .await
        .map_err(|e| aws("cloudfront:ListTagsForResource", d.arn(), e))?;
    let tag = tags::value_in(
        tags.tags().map(|t| t.items()).unwrap_or_default().iter().map(|t| (t.key(), t.value().unwrap_or_default())),
    );
    Ok(Some(Distribution { id: d.id().to_owned(), arn: d.arn().to_owned(), domain: d.domain_name().to_owned(), tag }))
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

/// A response-headers policy, as the endpoint has it.
enum HeadersPolicy {
    Found {
        id: String,
        config: Box<ResponseHeadersPolicyConfig>,
        etag: String,
    },
    Absent,
    /// The endpoint does not implement response-headers policies (the AWS emulator): an
    /// answer with no AWS error code, only a status.
    Unsupported,
}

fn unsupported<E: aws_smithy_types::error::metadata::ProvideErrorMetadata, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool {
    e.as_service_error().is_some_and(|s| s.code().is_none())
}

async fn find_headers_policy(ctx: &Ctx) -> Result<HeadersPolicy> {
    let cf = &ctx.aws.cloudfront;
    let name = headers_policy_name(&ctx.sys);
    let listed = match cf.list_response_headers_policies().r#type(ResponseHeadersPolicyType::Custom).send().await {
        Ok(listed) => listed,
        Err(e) if unsupported(&e) => return Ok(HeadersPolicy::Unsupported),
        Err(e) => return Err(aws("cloudfront:ListResponseHeadersPolicies", name, e)),
    };
    let found = listed.response_headers_policy_list().and_then(|l| {
        l.items()
            .iter()
            .filter_map(|s| s.response_headers_policy())
            .find(|p| p.response_headers_policy_config().is_some_and(|c| c.name() == name))
            .map(|p| p.id().to_owned())
    });
    let Some(id) = found else { return Ok(HeadersPolicy::Absent) };
    let got = cf
        .get_response_headers_policy()
        .id(&id)
        .send()
        .await
        .map_err(|e| aws("cloudfront:GetResponseHeadersPolicy", id.clone(), e))?;
    let config = got
        .response_headers_policy()
        .and_then(|p| p.response_headers_policy_config())
        .cloned()
        .ok_or_else(|| InfraError::Conflict(format!("response headers policy {id} has no configuration")))?;
    Ok(HeadersPolicy::Found { id, config: Box::new(config), etag: got.e_tag().unwrap_or_default().to_owned() })
}

/// The page's security headers; returns the policy id (`None` where the endpoint has none,
/// or in a plan where it does not exist yet).
async fn headers_policy(ctx: &Ctx, csp: Option<&str>) -> Result<Option<String>> {
    const KIND: &str = "response-headers-policy";
    let cf = &ctx.aws.cloudfront;
    let name = headers_policy_name(&ctx.sys);
    let csp_or_default = csp.map_or_else(|| "default-src 'self'; frame-ancestors 'none'".to_owned(), str::to_owned);
    match find_headers_policy(ctx).await? {
        HeadersPolicy::Unsupported => {
            ctx.report.left_alone(KIND, &name, "not implemented by this endpoint: the page goes without it");
            Ok(None)
        }
        HeadersPolicy::Absent => {
            if !ctx.applying() {
                ctx.report.action(&Action::Create, KIND, &name);
                return Ok(None);
            }
            let created = cf
                .create_response_headers_policy()
                .response_headers_policy_config(headers_policy_config(&name, &csp_or_default))
                .send()
                .await
                .map_err(|e| aws("cloudfront:CreateResponseHeadersPolicy", name.clone(), e))?;
            ctx.report.action(&Action::Create, KIND, &name);
            Ok(created.response_headers_policy().map(|p| p.id().to_owned()))
        }
        HeadersPolicy::Found { id, config, etag } => {
            let action = Action::update(headers_changes(&config, csp));
            if ctx.applying() && action != Action::Unchanged {
                let csp = csp.map_or_else(
                    || {
                        config
                            .security_headers_config()
                            .and_then(|s| s.content_security_policy())
                            .map_or(csp_or_default.clone(), |c| c.content_security_policy().to_owned())
                    },
                    str::to_owned,
                );
                cf.update_response_headers_policy()
                    .id(&id)
                    .if_match(etag)
                    .response_headers_policy_config(headers_policy_config(&name, &csp))
                    .send()
                    .await
                    .map_err(|e| aws("cloudfront:UpdateResponseHeadersPolicy", id.clone(), e))?;
            }
            ctx.report.action(&action, KIND, &name);
            Ok(Some(id))
        }
    }
}

/// The page's hosting: origin access control, security headers, distribution, bucket. Returns
/// the page's origin (`https://dxxxx.cloudfront.net`), which CORS must allow. `csp`: the page's
/// own policy, from the `index.html` being published (none when only looking).
pub async fn hosting(ctx: &Ctx, csp: Option<&str>) -> Result<String> {
    let cf = &ctx.aws.cloudfront;
    let bucket = bucket_name(&ctx.sys);
    let oac_name = oac_name(&ctx.sys);
    let oac = match find_origin_access_control(ctx, &oac_name).await? {
        Some(id) => {
            ctx.report.action(&Action::Unchanged, "origin-access-control", &oac_name);
            Some(id)
        }
        None if !ctx.applying() => {
            ctx.report.action(&Action::Create, "origin-access-control", &oac_name);
            None
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
            created.origin_access_control().map(|c| c.id().to_owned())
        }
    };
    let headers = headers_policy(ctx, csp).await?;

    let (arn, domain) = match find_distribution(ctx).await? {
        Some(d) => {
            let mut changes: Vec<FieldChange> = tags::change(ctx, d.tag.as_deref()).into_iter().collect();
            let got = cf
                .get_distribution_config()
                .id(&d.id)
                .send()
                .await
                .map_err(|e| aws("cloudfront:GetDistributionConfig", &d.id, e))?;
            let attached = got
                .distribution_config()
                .and_then(|c| c.default_cache_behavior())
                .and_then(|b| b.response_headers_policy_id())
                .map(str::to_owned);
            if headers.is_some() && attached != headers {
                changes.push(FieldChange::optional(
                    "responseHeadersPolicy",
                    attached.as_deref(),
                    headers.as_deref().unwrap_or_default(),
                ));
            }
            let action = Action::update(changes);
            if ctx.applying() && action != Action::Unchanged {
                if !tags::ours(ctx, d.tag.as_deref()) {
                    tag_distribution(ctx, &d.arn).await?;
                }
                if let (Some(headers), Some(config)) = (&headers, got.distribution_config())
                    && attached.as_deref() != Some(headers.as_str())
                {
                    let mut config = config.clone();
                    if let Some(behavior) = config.default_cache_behavior.as_mut() {
                        behavior.response_headers_policy_id = Some(headers.clone());
                    }
                    cf.update_distribution()
                        .id(&d.id)
                        .if_match(got.e_tag().unwrap_or_default())
                        .distribution_config(config)
                        .send()
                        .await
                        .map_err(|e| aws("cloudfront:UpdateDistribution", &d.id, e))?;
                }
            }
            ctx.report.action(&action, "distribution", &d.domain);
            (d.arn, d.domain)
        }
        None if !ctx.applying() => {
            ctx.report.action(&Action::Create, "distribution", comment(&ctx.sys));
            (format!("arn:aws:cloudfront::{}:distribution/(new)", ctx.account), "(new distribution)".to_owned())
        }
        None => {
            let config = distribution_config(
                &bucket,
                &ctx.region,
                oac.as_deref().unwrap_or_default(),
                &comment(&ctx.sys),
                &format!("{}-{}", comment(&ctx.sys), ctx.account),
                headers.as_deref(),
            );
            ctx.report.progress("creating the CloudFront distribution (it takes minutes to reach every edge)");
            let created = cf
                .create_distribution()
                .distribution_config(config)
                .send()
                .await
                .map_err(|e| aws("cloudfront:CreateDistribution", comment(&ctx.sys), e))?;
            let d = created
                .distribution()
                .ok_or_else(|| InfraError::Conflict("CloudFront returned no distribution".into()))?;
            tag_distribution(ctx, d.arn()).await?;
            ctx.report.record(Change::Created, "distribution", d.domain_name());
            (d.arn().to_owned(), d.domain_name().to_owned())
        }
    };

    // Only this distribution may read the bucket.
    let read_by_cloudfront = json!({
        "Sid": "CloudFrontReadsThePage",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringEquals": {"AWS:SourceArn": arn}}
    });
    site_bucket(ctx, vec![read_by_cloudfront]).reconcile(ctx).await?;
    Ok(format!("https://{domain}"))
}

fn site_bucket(ctx: &Ctx, statements: Vec<serde_json::Value>) -> Bucket {
    Bucket {
        kind: "web-bucket",
        name: bucket_name(&ctx.sys),
        versioned: false,
        abort_incomplete_uploads: false,
        statements,
    }
}

async fn tag_distribution(ctx: &Ctx, arn: &str) -> Result<()> {
    let tag = Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("complete");
    ctx.aws
        .cloudfront
        .tag_resource()
        .resource(arn)
        .tags(Tags::builder().items(tag).build())
        .send()
        .await
        .map_err(|e| aws("cloudfront:TagResource", arn, e))?;
    Ok(())
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

/// The `index.html` of a built page, checked to be there.
pub fn index_html(dir: &Path) -> Result<String> {
    std::fs::read_to_string(dir.join("index.html"))
        .map_err(|_| InfraError::Missing(format!("{}/index.html: build the page first (web/build.sh)", dir.display())))
}

/// Uploads the built page and its `config.json`, each only when its content changed, and
/// invalidates the changed paths. Returns how many files changed.
pub async fn publish(ctx: &Ctx, dir: &Path, invoke_url: &str) -> Result<usize> {
    let bucket = bucket_name(&ctx.sys);
    index_html(dir)?;
    let mut uploads: Vec<(String, Vec<u8>, &'static str)> = Vec::new();
    for path in files_under(dir) {
        let key = path.strip_prefix(dir).expect("under dir").to_string_lossy().replace('\\', "/");
        if key == "config.json" {
            continue; // written below, for this deployment
        }
        let bytes = std::fs::read(&path).map_err(|e| InfraError::Io(format!("{}: {e}", path.display())))?;
        uploads.push((key, bytes, content_type(&path)));
    }
    let config = serde_json::to_vec_pretty(&json!({"apiUrl": invoke_url})).expect("plain data");
    uploads.push(("config.json".into(), config, "application/json"));

    let mut changed = Vec::new();
    for (key, bytes, kind) in uploads {
        // A single-part object's ETag is the MD5 of its content: compare before uploading.
        let etag = format!("\"{:x}\"", md5::Md5::digest(&bytes));
        let head = found(
            ctx.aws
                .s3
                .head_object()
                .bucket(&bucket)
                .key(&key)
                .expected_bucket_owner(&ctx.account)
                .send()
                .await
                .map_err(|e| aws("s3:GetObject", &key, e)),
            &["NotFound", "NoSuchKey"],
        )
        .unwrap_or(None);
        if head.as_ref().and_then(|h| h.e_tag()) == Some(etag.as_str()) {
            continue;
        }
        changed.push(format!("/{key}"));
        if !ctx.applying() {
            continue;
        }
        ctx.aws
            .s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .expected_bucket_owner(&ctx.account)
            .content_type(kind)
            // The page is small and changes at deploys: browsers revalidate, CloudFront caches.
            .cache_control("no-cache")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| aws("s3:PutObject", &key, e))?;
    }
    let action = if changed.is_empty() {
        Action::Unchanged
    } else {
        Action::Update(vec![FieldChange::new("files", format!("{} differ", changed.len()), "uploaded")])
    };
    if ctx.applying() {
        ctx.report.record(action.change(), "web-files", format!("{} ({} changed)", bucket, changed.len()));
    } else {
        ctx.report.action(&action, "web-files", &bucket);
    }
    if ctx.applying()
        && !changed.is_empty()
        && let Some(d) = find_distribution(ctx).await?
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
            .distribution_id(&d.id)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|e| aws("cloudfront:CreateInvalidation", &d.id, e))?;
        ctx.report.record(Change::Created, "invalidation", changed.join(" "));
    }
    Ok(changed.len())
}

/// Checks of the published page: its `config.json` names this API, the functions allow its
/// origin, its bucket is private and TLS-only, and its answers carry the security headers.
/// `None` when no page is deployed.
pub async fn checks(ctx: &Ctx, invoke_url: &str) -> Result<Option<Vec<Check>>> {
    let Some(d) = find_distribution(ctx).await? else { return Ok(None) };
    let origin = format!("https://{}", d.domain);
    let bucket = bucket_name(&ctx.sys);
    let mut out = Vec::new();
    let object = |key: &'static str| {
        let s3 = ctx.aws.s3.clone();
        let (bucket, owner) = (bucket.clone(), ctx.account.clone());
        async move {
            let got = s3.get_object().bucket(bucket).key(key).expected_bucket_owner(owner).send().await.ok()?;
            got.body.collect().await.ok().map(|b| b.into_bytes())
        }
    };
    let api_url = object("config.json")
        .await
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["apiUrl"].as_str().map(str::to_owned));
    out.push(Check::of(
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
            .and_then(|v| v.get(system::env::ALLOWED_ORIGIN))
            .cloned();
        out.push(Check::of(
            format!("{} allows the page's origin {origin}", f.name),
            (allowed.as_deref() != Some(origin.as_str())).then(|| {
                format!("ALLOWED_ORIGIN is {allowed:?}, so the browser cannot read its answers; run `infra deploy` to repair")
            }),
        ));
    }
    let statement = json!({
        "Sid": "CloudFrontReadsThePage",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringEquals": {"AWS:SourceArn": d.arn}}
    });
    out.extend(site_bucket(ctx, vec![statement]).checks(ctx).await?);
    let csp = object("index.html")
        .await
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .and_then(|html| content_security_policy(&html));
    let name = format!(
        "the page's answers carry its CSP (frame-ancestors 'none'), HSTS and nosniff ({})",
        headers_policy_name(&ctx.sys)
    );
    out.push(match find_headers_policy(ctx).await? {
        HeadersPolicy::Unsupported => Check::skip(name, "this endpoint does not implement response-headers policies"),
        HeadersPolicy::Absent => {
            Check::of(name, Some("there is no response-headers policy; run `infra deploy --web-dir web/dist`".into()))
        }
        HeadersPolicy::Found { id, config, .. } => {
            let attached = ctx
                .aws
                .cloudfront
                .get_distribution_config()
                .id(&d.id)
                .send()
                .await
                .map_err(|e| aws("cloudfront:GetDistributionConfig", &d.id, e))?
                .distribution_config()
                .and_then(|c| c.default_cache_behavior())
                .and_then(|b| b.response_headers_policy_id())
                .map(str::to_owned);
            let mut changes = headers_changes(&config, csp.as_deref());
            if attached.as_deref() != Some(id.as_str()) {
                changes.push(FieldChange::optional("distribution.responseHeadersPolicy", attached.as_deref(), &id));
            }
            Check::declared(name, true, &changes)
        }
    });
    Ok(Some(out))
}

/// Removes the distribution (disabled first, as CloudFront requires), the security headers,
/// the origin access control and the site's bucket — those that carry the stack tag.
pub async fn destroy(ctx: &Ctx) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    match find_distribution(ctx).await? {
        None => {
            ctx.report.record(Change::Gone, "distribution", comment(&ctx.sys));
        }
        Some(d) if !tags::ours(ctx, d.tag.as_deref()) => {
            tags::left_alone(ctx, "distribution", &d.domain);
            return Ok(());
        }
        Some(d) if !ctx.applying() => ctx.report.to_delete("distribution", &d.domain),
        Some(d) => {
            let got = cf
                .get_distribution_config()
                .id(&d.id)
                .send()
                .await
                .map_err(|e| aws("cloudfront:GetDistributionConfig", &d.id, e))?;
            let mut etag = got.e_tag().unwrap_or_default().to_owned();
            if let Some(config) = got.distribution_config().filter(|c| c.enabled()) {
                let mut disabled = config.clone();
                disabled.enabled = false;
                let updated = cf
                    .update_distribution()
                    .id(&d.id)
                    .if_match(&etag)
                    .distribution_config(disabled)
                    .send()
                    .await
                    .map_err(|e| aws("cloudfront:UpdateDistribution", &d.id, e))?;
                etag = updated.e_tag().unwrap_or_default().to_owned();
            }
            match cf.delete_distribution().id(&d.id).if_match(&etag).send().await {
                Ok(_) => {
                    ctx.report.record(Change::Deleted, "distribution", &d.domain);
                }
                // In AWS a distribution can be deleted only once disabling has reached every
                // edge (about 15 minutes).
                Err(e) if e.as_service_error().is_some_and(|s| s.is_distribution_not_disabled()) => {
                    ctx.report.record(
                        Change::Kept,
                        "distribution",
                        format!("{} (disabled; run `infra destroy` again in ~15 minutes to delete it)", d.domain),
                    );
                    return Ok(());
                }
                Err(e) => return Err(aws("cloudfront:DeleteDistribution", &d.id, e)),
            }
        }
    }
    if let HeadersPolicy::Found { id, etag, .. } = find_headers_policy(ctx).await? {
        let name = headers_policy_name(&ctx.sys);
        if ctx.applying() {
            cf.delete_response_headers_policy()
                .id(&id)
                .if_match(etag)
                .send()
                .await
                .map_err(|e| aws("cloudfront:DeleteResponseHeadersPolicy", &id, e))?;
            ctx.report.record(Change::Deleted, "response-headers-policy", name);
        } else {
            ctx.report.to_delete("response-headers-policy", name);
        }
    }
    let name = oac_name(&ctx.sys);
    if let Some(id) = find_origin_access_control(ctx, &name).await? {
        if ctx.applying() {
            let etag =
                cf.get_origin_access_control().id(&id).send().await.ok().and_then(|o| o.e_tag).unwrap_or_default();
            cf.delete_origin_access_control()
                .id(&id)
                .if_match(etag)
                .send()
                .await
                .map_err(|e| aws("cloudfront:DeleteOriginAccessControl", &id, e))?;
            ctx.report.record(Change::Deleted, "origin-access-control", &name);
        } else {
            ctx.report.to_delete("origin-access-control", &name);
        }
    }
    site_bucket(ctx, Vec::new()).destroy(ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distribution_reads_the_private_bucket_through_its_access_control_over_https() {
        let c = distribution_config("site", "eu-west-1", "OAC1", "student web page", "ref", Some("H1"));
        let origin = &c.origins().unwrap().items()[0];
        assert_eq!(origin.domain_name(), "site.s3.eu-west-1.amazonaws.com");
        assert_eq!(origin.origin_access_control_id(), Some("OAC1"));
        assert_eq!(origin.s3_origin_config().unwrap().origin_access_identity(), "", "no legacy origin access identity");
        let behavior = c.default_cache_behavior().unwrap();
        assert_eq!(behavior.viewer_protocol_policy(), &ViewerProtocolPolicy::RedirectToHttps);
        assert_eq!(behavior.target_origin_id(), origin.id());
        assert_eq!(behavior.response_headers_policy_id(), Some("H1"));
        assert_eq!(c.default_root_object(), Some("index.html"));
        assert!(c.enabled());
    }

    #[test]
    fn the_headers_carry_the_pages_own_csp_and_forbid_framing() {
        let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/src/index.html")).unwrap();
        let csp = content_security_policy(&page).expect("the page declares its CSP");
        assert!(csp.starts_with("default-src 'self'") && csp.ends_with("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("form-action 'none'"), "no form submits anywhere, script or not: {csp}");
        let config = headers_policy_config("p", &csp);
        assert_eq!(headers_changes(&config, Some(&csp)), Vec::new());
        let security = config.security_headers_config().unwrap();
        assert_eq!(security.strict_transport_security().unwrap().access_control_max_age_sec(), HSTS_SECONDS);
        assert!(security.content_type_options().is_some(), "X-Content-Type-Options: nosniff");
        let drifted = headers_policy_config("p", "default-src *");
        let changes = headers_changes(&drifted, Some(&csp));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "Content-Security-Policy");
    }
}
