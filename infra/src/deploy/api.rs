//! The REST API: resources, methods (key required, Lambda proxy), OPTIONS (MOCK, no key, CORS),
//! gateway responses with CORS, and a deployment of the stage whenever the methods changed.

use std::collections::HashMap;

use aws_sdk_apigateway::types::{GatewayResponseType, IntegrationType, Method, Op, PatchOperation, Resource};
use sha2::{Digest, Sha256};

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::Change;
use system::{CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, Route};

/// The deployment description names the methods it serves, so a later run (and `verify`)
/// can tell whether the stage serves the current methods.
const FINGERPRINT_PREFIX: &str = "infra deploy; methods ";

pub async fn find_api(ctx: &Ctx) -> Result<Option<String>> {
    let pages = ctx.aws.apigateway.get_rest_apis().limit(500).into_paginator().items().send();
    let apis = pages.try_collect().await.map_err(|e| aws("apigateway:GET", "/restapis", e))?;
    let mut ids: Vec<String> =
        apis.into_iter().filter(|a| a.name() == Some(ctx.sys.api.as_str())).filter_map(|a| a.id).collect();
    match ids.len() {
        0 => Ok(None),
        1 => Ok(ids.pop()),
        _ => Err(InfraError::Conflict(format!(
            "{} REST APIs are named {} ({}): remove the extra ones in the API Gateway console, then deploy again",
            ids.len(),
            ctx.sys.api,
            ids.join(", ")
        ))),
    }
}

pub async fn rest_api(ctx: &Ctx) -> Result<String> {
    if let Some(id) = find_api(ctx).await? {
        ctx.report.record(Change::Unchanged, "rest-api", &ctx.sys.api);
        return Ok(id);
    }
    let created = ctx
        .aws
        .apigateway
        .create_rest_api()
        .name(&ctx.sys.api)
        .description("Student records (managed by infra deploy)")
        .send()
        .await
        .map_err(|e| aws("apigateway:POST", "/restapis", e))?;
    ctx.report.record(Change::Created, "rest-api", &ctx.sys.api);
    Ok(created.id().unwrap_or_default().to_owned())
}

pub async fn resources_by_path(ctx: &Ctx, api: &str) -> Result<HashMap<String, Resource>> {
    let pages = ctx.aws.apigateway.get_resources().rest_api_id(api).limit(500).into_paginator().items().send();
    let resources =
        pages.try_collect().await.map_err(|e| aws("apigateway:GET", format!("/restapis/{api}/resources"), e))?;
    Ok(resources.into_iter().filter_map(|r| Some((r.path()?.to_owned(), r))).collect())
}

/// Creates the missing top-level resources; returns path → resource id.
pub async fn resources(ctx: &Ctx, api: &str) -> Result<HashMap<String, String>> {
    let existing = resources_by_path(ctx, api).await?;
    let root = existing
        .get("/")
        .and_then(|r| r.id())
        .ok_or_else(|| InfraError::Conflict(format!("API {api} has no root resource")))?
        .to_owned();
    let mut ids: HashMap<String, String> =
        existing.iter().filter_map(|(p, r)| Some((p.clone(), r.id()?.to_owned()))).collect();
    for path in ctx.sys.paths() {
        if ids.contains_key(path) {
            ctx.report.record(Change::Unchanged, "resource", path);
            continue;
        }
        let created = ctx
            .aws
            .apigateway
            .create_resource()
            .rest_api_id(api)
            .parent_id(&root)
            .path_part(path.trim_start_matches('/'))
            .send()
            .await
            .map_err(|e| aws("apigateway:POST", format!("/restapis/{api}/resources"), e))?;
        ctx.report.record(Change::Created, "resource", path);
        ids.insert(path.to_owned(), created.id().unwrap_or_default().to_owned());
    }
    Ok(ids)
}

pub fn integration_uri(region: &str, function_arn: &str) -> String {
    format!("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
}

async fn get_method(ctx: &Ctx, api: &str, resource: &str, method: &str) -> Result<Option<Method>> {
    let got = ctx.aws.apigateway.get_method().rest_api_id(api).resource_id(resource).http_method(method).send().await;
    let got =
        got.map_err(|e| aws("apigateway:GET", format!("/restapis/{api}/resources/{resource}/methods/{method}"), e))?;
    // Map to the plain Method shape the rest of the module inspects.
    Ok(Some(
        Method::builder()
            .set_http_method(got.http_method)
            .set_authorization_type(got.authorization_type)
            .set_api_key_required(got.api_key_required)
            .set_method_integration(got.method_integration)
            .build(),
    ))
}

/// The method, or `None` when the resource has no such method.
pub async fn method_if_any(ctx: &Ctx, api: &str, resource: &str, method: &str) -> Result<Option<Method>> {
    Ok(found(get_method(ctx, api, resource, method).await, &["NotFoundException"])?.flatten())
}

fn proxy_method_matches(m: &Method, uri: &str) -> bool {
    let integration = m.method_integration();
    m.api_key_required() == Some(true)
        && m.authorization_type() == Some("NONE")
        && integration.and_then(|i| i.r#type()) == Some(&IntegrationType::AwsProxy)
        && integration.and_then(|i| i.uri()) == Some(uri)
        && integration.and_then(|i| i.http_method()) == Some("POST")
}

async fn delete_method(ctx: &Ctx, api: &str, resource: &str, method: &str) -> Result<()> {
    ctx.aws
        .apigateway
        .delete_method()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method(method)
        .send()
        .await
        .map_err(|e| aws("apigateway:DELETE", format!("/restapis/{api}/resources/{resource}/methods/{method}"), e))?;
    Ok(())
}

/// Every route: the key required, a Lambda proxy integration. A method that differs is
/// deleted and put again (the emulator implements neither UpdateMethod nor UpdateIntegration,
/// and a second PutMethod on AWS is a conflict).
pub async fn methods(
    ctx: &Ctx,
    api: &str,
    resources: &HashMap<String, String>,
    arns: &HashMap<String, String>,
) -> Result<()> {
    let gw = &ctx.aws.apigateway;
    for Route { path, method, function } in &ctx.sys.routes {
        let resource = &resources[*path];
        let uri = integration_uri(&ctx.region, &arns[function]);
        let current = method_if_any(ctx, api, resource, method).await?;
        if current.as_ref().is_some_and(|m| proxy_method_matches(m, &uri)) {
            ctx.report.record(Change::Unchanged, "method", format!("{method} {path}"));
            continue;
        }
        if current.is_some() {
            delete_method(ctx, api, resource, method).await?;
        }
        let target = format!("/restapis/{api}/resources/{resource}/methods/{method}");
        gw.put_method()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method(*method)
            .authorization_type("NONE")
            .api_key_required(true)
            .send()
            .await
            .map_err(|e| aws("apigateway:PUT", target.clone(), e))?;
        gw.put_integration()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method(*method)
            .r#type(IntegrationType::AwsProxy)
            .integration_http_method("POST")
            .uri(&uri)
            .send()
            .await
            .map_err(|e| aws("apigateway:PUT", format!("{target}/integration"), e))?;
        let change = Change::replacing(current.is_some());
        ctx.report.record(change, "method", format!("{method} {path}"));
    }
    Ok(())
}

/// The CORS headers the preflight answers with, as integration response parameters.
pub fn cors_integration_parameters(ctx: &Ctx, path: &str) -> HashMap<String, String> {
    let quoted = |v: &str| format!("'{v}'");
    HashMap::from([
        ("method.response.header.Access-Control-Allow-Headers".into(), quoted(CORS_ALLOW_HEADERS)),
        ("method.response.header.Access-Control-Allow-Methods".into(), quoted(&ctx.sys.methods_of(path))),
        ("method.response.header.Access-Control-Allow-Origin".into(), quoted(&ctx.sys.options.allowed_origin)),
    ])
}

fn options_matches(m: &Method, params: &HashMap<String, String>) -> bool {
    let integration = m.method_integration();
    let answered = integration
        .and_then(|i| i.integration_responses())
        .and_then(|r| r.get("200"))
        .and_then(|r| r.response_parameters());
    m.api_key_required() != Some(true)
        && m.authorization_type() == Some("NONE")
        && integration.and_then(|i| i.r#type()) == Some(&IntegrationType::Mock)
        && answered == Some(params)
}

/// `OPTIONS` on every resource: a MOCK integration answering the preflight, no key.
pub async fn options(ctx: &Ctx, api: &str, resources: &HashMap<String, String>) -> Result<()> {
    let gw = &ctx.aws.apigateway;
    for path in ctx.sys.paths() {
        let resource = &resources[path];
        let params = cors_integration_parameters(ctx, path);
        let current = method_if_any(ctx, api, resource, "OPTIONS").await?;
        if current.as_ref().is_some_and(|m| options_matches(m, &params)) {
            ctx.report.record(Change::Unchanged, "method", format!("OPTIONS {path}"));
            continue;
        }
        if current.is_some() {
            delete_method(ctx, api, resource, "OPTIONS").await?;
        }
        let target = format!("/restapis/{api}/resources/{resource}/methods/OPTIONS");
        let fail = |what: &str| format!("{target}{what}");
        gw.put_method()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method("OPTIONS")
            .authorization_type("NONE")
            .api_key_required(false)
            .send()
            .await
            .map_err(|e| aws("apigateway:PUT", fail(""), e))?;
        let declared: HashMap<String, bool> = params.keys().map(|k| (k.clone(), false)).collect();
        gw.put_method_response()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method("OPTIONS")
            .status_code("200")
            .set_response_parameters(Some(declared))
            .send()
            .await
            .map_err(|e| aws("apigateway:PUT", fail("/responses/200"), e))?;
        gw.put_integration()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method("OPTIONS")
            .r#type(IntegrationType::Mock)
            .request_templates("application/json", r#"{"statusCode": 200}"#)
            .send()
            .await
            .map_err(|e| aws("apigateway:PUT", fail("/integration"), e))?;
        gw.put_integration_response()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method("OPTIONS")
            .status_code("200")
            .set_response_parameters(Some(params))
            .send()
            .await
            .map_err(|e| aws("apigateway:PUT", fail("/integration/responses/200"), e))?;
        let change = Change::replacing(current.is_some());
        ctx.report.record(change, "method", format!("OPTIONS {path}"));
    }
    Ok(())
}

pub const CORS_GATEWAY_RESPONSES: [GatewayResponseType; 2] =
    [GatewayResponseType::Default4Xx, GatewayResponseType::Default5Xx];

pub fn cors_gateway_parameters(ctx: &Ctx) -> HashMap<String, String> {
    HashMap::from([
        ("gatewayresponse.header.Access-Control-Allow-Origin".into(), format!("'{}'", ctx.sys.options.allowed_origin)),
        ("gatewayresponse.header.Access-Control-Allow-Headers".into(), format!("'{CORS_ALLOW_HEADERS}'")),
        ("gatewayresponse.header.Access-Control-Expose-Headers".into(), format!("'{CORS_EXPOSE_HEADERS}'")),
    ])
}

/// DEFAULT_4XX and DEFAULT_5XX with CORS headers, so a browser can read a 403 or a 429.
pub async fn gateway_responses(ctx: &Ctx, api: &str) -> Result<()> {
    let params = cors_gateway_parameters(ctx);
    for kind in CORS_GATEWAY_RESPONSES {
        let target = format!("/restapis/{api}/gatewayresponses/{}", kind.as_str());
        let current = found(
            ctx.aws
                .apigateway
                .get_gateway_response()
                .rest_api_id(api)
                .response_type(kind.clone())
                .send()
                .await
                .map_err(|e| aws("apigateway:GET", target.clone(), e)),
            &["NotFoundException"],
        )?;
        let current_params = current.as_ref().and_then(|r| r.response_parameters());
        let change = match current_params {
            Some(p) if params.iter().all(|(k, v)| p.get(k) == Some(v)) => Change::Unchanged,
            _ => {
                ctx.aws
                    .apigateway
                    .put_gateway_response()
                    .rest_api_id(api)
                    .response_type(kind.clone())
                    .set_response_parameters(Some(params.clone()))
                    .send()
                    .await
                    .map_err(|e| aws("apigateway:PUT", target.clone(), e))?;
                Change::replacing(current.is_some())
            }
        };
        ctx.report.record(change, "gateway-response", kind.as_str());
    }
    Ok(())
}

/// A digest of the methods as they are now in the API (not as declared), so `verify` can
/// tell whether the stage's deployment still serves them.
pub async fn methods_fingerprint(ctx: &Ctx, api: &str) -> Result<String> {
    let resources = resources_by_path(ctx, api).await?;
    let mut lines = Vec::new();
    let mut paths: Vec<&String> = resources.keys().collect();
    paths.sort();
    for path in paths {
        let resource = resources[path].id().unwrap_or_default();
        let mut names: Vec<&String> =
            resources[path].resource_methods().map(|m| m.keys().collect()).unwrap_or_default();
        names.sort();
        for name in names {
            if let Some(m) = method_if_any(ctx, api, resource, name).await? {
                let i = m.method_integration();
                lines.push(format!(
                    "{path} {name} key={:?} auth={:?} type={:?} uri={:?}",
                    m.api_key_required().unwrap_or(false),
                    m.authorization_type(),
                    i.and_then(|i| i.r#type()).map(|t| t.as_str().to_owned()),
                    i.and_then(|i| i.uri()),
                ));
            }
        }
    }
    // The first 8 bytes of the digest, in hex.
    Ok(format!("{:x}", Sha256::digest(lines.join("\n").as_bytes()))[..16].to_owned())
}

/// The fingerprint a deployment's description records, if it was made by `infra deploy`.
pub fn recorded_fingerprint(description: Option<&str>) -> Option<&str> {
    description.and_then(|d| d.strip_prefix(FINGERPRINT_PREFIX))
}

/// A new deployment of the stage when the methods changed since the one it serves; the
/// stage with CloudWatch metrics on (so the usage plan's requests show in CloudWatch).
pub async fn stage(ctx: &Ctx, api: &str) -> Result<()> {
    let gw = &ctx.aws.apigateway;
    let stage_name = &ctx.sys.stage;
    let target = format!("/restapis/{api}/stages/{stage_name}");
    let fingerprint = methods_fingerprint(ctx, api).await?;
    let current = found(
        gw.get_stage()
            .rest_api_id(api)
            .stage_name(stage_name)
            .send()
            .await
            .map_err(|e| aws("apigateway:GET", target.clone(), e)),
        &["NotFoundException"],
    )?;
    let served = match current.as_ref().and_then(|s| s.deployment_id()) {
        Some(id) => {
            let d = gw
                .get_deployment()
                .rest_api_id(api)
                .deployment_id(id)
                .send()
                .await
                .map_err(|e| aws("apigateway:GET", format!("/restapis/{api}/deployments/{id}"), e))?;
            recorded_fingerprint(d.description()).map(str::to_owned)
        }
        None => None,
    };
    if served.as_deref() == Some(fingerprint.as_str()) {
        ctx.report.record(Change::Unchanged, "deployment", format!("{}:{stage_name}", ctx.sys.api));
    } else {
        gw.create_deployment()
            .rest_api_id(api)
            .stage_name(stage_name)
            .description(format!("{FINGERPRINT_PREFIX}{fingerprint}"))
            .send()
            .await
            .map_err(|e| aws("apigateway:POST", format!("/restapis/{api}/deployments"), e))?;
        let change = Change::replacing(current.is_some());
        ctx.report.record(change, "deployment", format!("{}:{stage_name}", ctx.sys.api));
    }
    let stage = gw
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage_name)
        .send()
        .await
        .map_err(|e| aws("apigateway:GET", target.clone(), e))?;
    let metrics = stage.method_settings().and_then(|m| m.get("*/*")).is_some_and(|s| s.metrics_enabled());
    let change = if metrics {
        Change::Unchanged
    } else {
        gw.update_stage()
            .rest_api_id(api)
            .stage_name(stage_name)
            .patch_operations(
                PatchOperation::builder().op(Op::Replace).path("/*/*/metrics/enabled").value("true").build(),
            )
            .send()
            .await
            .map_err(|e| aws("apigateway:PATCH", target.clone(), e))?;
        Change::replacing(current.is_some())
    };
    ctx.report.record(change, "stage", format!("{}:{stage_name} (metrics on)", ctx.sys.api));
    Ok(())
}
