//! The REST API: resources, methods (key required, Lambda proxy), OPTIONS (MOCK, no key, CORS),
//! gateway responses with CORS, and a deployment of the stage whenever the methods changed.
//!
//! In a plan, an API that does not exist yet has nothing to read: everything under it is
//! reported as created.

use std::collections::HashMap;

use aws_sdk_apigateway::types::{GatewayResponseType, IntegrationType, Method, Op, PatchOperation, Resource};
use sha2::{Digest, Sha256};
use system::{CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, Route};

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::{Action, Change, FieldChange};

/// The deployment description names the methods it serves, so a later run (and `verify`)
/// can tell whether the stage serves the current methods.
const FINGERPRINT_PREFIX: &str = "infra deploy; methods ";

/// The API of this name, if there is one, and its stack tag.
pub async fn find_api_tagged(ctx: &Ctx) -> Result<Option<(String, Option<String>)>> {
    let pages = ctx.aws.apigateway.get_rest_apis().limit(500).into_paginator().items().send();
    let apis = pages.try_collect().await.map_err(|e| aws("apigateway:GET", "/restapis", e))?;
    let mut found: Vec<(String, Option<String>)> = apis
        .into_iter()
        .filter(|a| a.name() == Some(ctx.sys.api.as_str()))
        .filter_map(|a| {
            let tag = a.tags().and_then(|t| t.get(system::names::STACK_TAG)).cloned();
            Some((a.id?, tag))
        })
        .collect();
    let ids: Vec<String> = found.iter().map(|(id, _)| id.clone()).collect();
    match ids.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(InfraError::Conflict(format!(
            "{} REST APIs are named {} ({}): remove the extra ones in the API Gateway console, then deploy again",
            ids.len(),
            ctx.sys.api,
            ids.join(", ")
        ))),
    }
}

pub async fn find_api(ctx: &Ctx) -> Result<Option<String>> {
    Ok(find_api_tagged(ctx).await?.map(|(id, _)| id))
}

pub fn api_arn(ctx: &Ctx, api: &str) -> String {
    format!("arn:aws:apigateway:{}::/restapis/{api}", ctx.region)
}

/// The API's id; `None` in a plan where it does not exist yet.
pub async fn rest_api(ctx: &Ctx) -> Result<Option<String>> {
    let gw = &ctx.aws.apigateway;
    let name = &ctx.sys.api;
    if let Some((id, tag)) = find_api_tagged(ctx).await? {
        let action = Action::update(tags::change(ctx, tag.as_deref()).into_iter().collect());
        if ctx.applying() && action != Action::Unchanged {
            tags::tag_api_gateway(ctx, &format!("/restapis/{id}")).await?;
        }
        ctx.report.action(&action, "rest-api", name);
        return Ok(Some(id));
    }
    if !ctx.applying() {
        ctx.report.action(&Action::Create, "rest-api", name);
        return Ok(None);
    }
    let created = gw
        .create_rest_api()
        .name(name)
        .description("Student records (managed by infra deploy)")
        .set_tags(Some(tags::map(ctx)))
        .send()
        .await
        .map_err(|e| aws("apigateway:POST", "/restapis", e))?;
    ctx.report.record(Change::Created, "rest-api", name);
    Ok(Some(created.id().unwrap_or_default().to_owned()))
}

pub async fn resources_by_path(ctx: &Ctx, api: &str) -> Result<HashMap<String, Resource>> {
    let pages = ctx.aws.apigateway.get_resources().rest_api_id(api).limit(500).into_paginator().items().send();
    let resources =
        pages.try_collect().await.map_err(|e| aws("apigateway:GET", format!("/restapis/{api}/resources"), e))?;
    Ok(resources.into_iter().filter_map(|r| Some((r.path()?.to_owned(), r))).collect())
}

/// The path of a resource's parent (`/backups/{backupId}` → `/backups`).
fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Creates the missing resources, parents first; returns path → resource id (`None` in a
/// plan for what does not exist yet).
pub async fn resources(ctx: &Ctx, api: Option<&str>) -> Result<HashMap<String, Option<String>>> {
    let existing = match api {
        Some(api) => resources_by_path(ctx, api).await?,
        None => HashMap::new(),
    };
    let mut ids: HashMap<String, Option<String>> =
        existing.iter().map(|(p, r)| (p.clone(), r.id().map(str::to_owned))).collect();
    if let Some(api) = api
        && !ids.contains_key("/")
    {
        return Err(InfraError::Conflict(format!("API {api} has no root resource")));
    }
    for path in ctx.sys.paths() {
        if ids.contains_key(path) {
            ctx.report.action(&Action::Unchanged, "resource", path);
            continue;
        }
        let parent = ids.get(parent_of(path)).cloned().flatten();
        let created = match (api, parent, ctx.applying()) {
            (Some(api), Some(parent), true) => {
                let part = path.rsplit('/').next().unwrap_or_default();
                let created = ctx
                    .aws
                    .apigateway
                    .create_resource()
                    .rest_api_id(api)
                    .parent_id(&parent)
                    .path_part(part)
                    .send()
                    .await
                    .map_err(|e| aws("apigateway:POST", format!("/restapis/{api}/resources"), e))?;
                created.id().map(str::to_owned)
            }
            _ => None,
        };
        ctx.report.action(&Action::Create, "resource", path);
        ids.insert(path.to_owned(), created);
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

/// What differs between a method and a key-requiring Lambda proxy to `uri`.
fn proxy_method_changes(m: &Method, uri: &str) -> Vec<FieldChange> {
    let integration = m.method_integration();
    let mut changes = Vec::new();
    crate::report::compare(&mut changes, "apiKeyRequired", m.api_key_required().unwrap_or(false), true);
    crate::report::compare(&mut changes, "authorizationType", m.authorization_type().unwrap_or("none"), "NONE");
    crate::report::compare(
        &mut changes,
        "integration.type",
        integration.and_then(|i| i.r#type()).map_or("none", |t| t.as_str()),
        "AWS_PROXY",
    );
    crate::report::compare(&mut changes, "integration.uri", integration.and_then(|i| i.uri()).unwrap_or("none"), uri);
    crate::report::compare(
        &mut changes,
        "integration.httpMethod",
        integration.and_then(|i| i.http_method()).unwrap_or("none"),
        "POST",
    );
    changes
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
    api: Option<&str>,
    resources: &HashMap<String, Option<String>>,
    arns: &HashMap<String, String>,
) -> Result<bool> {
    let gw = &ctx.aws.apigateway;
    let mut changed = false;
    for Route { path, method, function } in &ctx.sys.routes {
        let what = format!("{method} {path}");
        let (Some(api), Some(resource)) = (api, resources.get(*path).cloned().flatten()) else {
            ctx.report.action(&Action::Create, "method", what);
            changed = true;
            continue;
        };
        let uri = integration_uri(&ctx.region, &arns[function]);
        let current = method_if_any(ctx, api, &resource, method).await?;
        let action = match &current {
            None => Action::Create,
            Some(m) => Action::update(proxy_method_changes(m, &uri)),
        };
        if ctx.applying() && action != Action::Unchanged {
            if current.is_some() {
                delete_method(ctx, api, &resource, method).await?;
            }
            let target = format!("/restapis/{api}/resources/{resource}/methods/{method}");
            gw.put_method()
                .rest_api_id(api)
                .resource_id(&resource)
                .http_method(*method)
                .authorization_type("NONE")
                .api_key_required(true)
                .send()
                .await
                .map_err(|e| aws("apigateway:PUT", target.clone(), e))?;
            gw.put_integration()
                .rest_api_id(api)
                .resource_id(&resource)
                .http_method(*method)
                .r#type(IntegrationType::AwsProxy)
                .integration_http_method("POST")
                .uri(&uri)
                .send()
                .await
                .map_err(|e| aws("apigateway:PUT", format!("{target}/integration"), e))?;
        }
        changed |= action != Action::Unchanged;
        ctx.report.action(&action, "method", what);
    }
    Ok(changed)
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

/// What differs between an OPTIONS method and a MOCK answering the preflight with `params`.
fn options_changes(m: &Method, params: &HashMap<String, String>) -> Vec<FieldChange> {
    let integration = m.method_integration();
    let answered = integration
        .and_then(|i| i.integration_responses())
        .and_then(|r| r.get("200"))
        .and_then(|r| r.response_parameters());
    let mut changes = Vec::new();
    crate::report::compare(&mut changes, "apiKeyRequired", m.api_key_required().unwrap_or(false), false);
    crate::report::compare(&mut changes, "authorizationType", m.authorization_type().unwrap_or("none"), "NONE");
    crate::report::compare(
        &mut changes,
        "integration.type",
        integration.and_then(|i| i.r#type()).map_or("none", |t| t.as_str()),
        "MOCK",
    );
    if answered != Some(params) {
        let header = |p: Option<&HashMap<String, String>>| {
            p.and_then(|p| p.get("method.response.header.Access-Control-Allow-Origin")).cloned().unwrap_or_default()
        };
        changes.push(FieldChange::new(
            "preflight headers",
            format!("(allow origin {})", header(answered)),
            format!("(allow origin {})", header(Some(params))),
        ));
    }
    changes
}

/// `OPTIONS` on every resource: a MOCK integration answering the preflight, no key.
pub async fn options(ctx: &Ctx, api: Option<&str>, resources: &HashMap<String, Option<String>>) -> Result<bool> {
    let gw = &ctx.aws.apigateway;
    let mut changed = false;
    for path in ctx.sys.paths() {
        let what = format!("OPTIONS {path}");
        let (Some(api), Some(resource)) = (api, resources.get(path).cloned().flatten()) else {
            ctx.report.action(&Action::Create, "method", what);
            changed = true;
            continue;
        };
        let resource = resource.as_str();
        let params = cors_integration_parameters(ctx, path);
        let current = method_if_any(ctx, api, resource, "OPTIONS").await?;
        let action = match &current {
            None => Action::Create,
            Some(m) => Action::update(options_changes(m, &params)),
        };
        changed |= action != Action::Unchanged;
        if !ctx.applying() || action == Action::Unchanged {
            ctx.report.action(&action, "method", what);
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
        ctx.report.action(&action, "method", what);
    }
    Ok(changed)
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
pub async fn gateway_responses(ctx: &Ctx, api: Option<&str>) -> Result<()> {
    let params = cors_gateway_parameters(ctx);
    for kind in CORS_GATEWAY_RESPONSES {
        let Some(api) = api else {
            ctx.report.action(&Action::Create, "gateway-response", kind.as_str());
            continue;
        };
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
        let missing: Vec<FieldChange> = params
            .iter()
            .filter(|(k, v)| current_params.and_then(|p| p.get(*k)) != Some(*v))
            .map(|(k, v)| {
                FieldChange::optional(
                    k.trim_start_matches("gatewayresponse."),
                    current_params.and_then(|p| p.get(k)),
                    v,
                )
            })
            .collect();
        let action = match &current {
            None => Action::Create,
            Some(_) => Action::update(missing),
        };
        if ctx.applying() && action != Action::Unchanged {
            ctx.aws
                .apigateway
                .put_gateway_response()
                .rest_api_id(api)
                .response_type(kind.clone())
                .set_response_parameters(Some(params.clone()))
                .send()
                .await
                .map_err(|e| aws("apigateway:PUT", target.clone(), e))?;
        }
        ctx.report.action(&action, "gateway-response", kind.as_str());
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
/// `methods_changed`: this run changed (or, in a plan, would change) a method.
pub async fn stage(ctx: &Ctx, api: Option<&str>, methods_changed: bool) -> Result<()> {
    let gw = &ctx.aws.apigateway;
    let stage_name = &ctx.sys.stage;
    let deployment = format!("{}:{stage_name}", ctx.sys.api);
    let metrics_line = format!("{}:{stage_name} (metrics on)", ctx.sys.api);
    let Some(api) = api else {
        ctx.report.action(&Action::Create, "deployment", &deployment);
        ctx.report.action(&Action::Create, "stage", &metrics_line);
        return Ok(());
    };
    let target = format!("/restapis/{api}/stages/{stage_name}");
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
    let fingerprint = methods_fingerprint(ctx, api).await?;
    // Applied, the methods are as the fingerprint now reads them; in a plan, a method about to
    // change is not yet, so a planned change counts as one (a method put back exactly as
    // served then shows as a deployment the apply will not need).
    let pending = methods_changed && !ctx.applying();
    let action = match (&current, served.as_deref() == Some(fingerprint.as_str()) && !pending) {
        (None, _) => Action::Create,
        (Some(_), true) => Action::Unchanged,
        (Some(_), false) => Action::Update(vec![FieldChange::new(
            "deployment",
            served.as_deref().unwrap_or("unknown"),
            if pending { "(the changed methods)" } else { fingerprint.as_str() },
        )]),
    };
    if ctx.applying() && action != Action::Unchanged {
        gw.create_deployment()
            .rest_api_id(api)
            .stage_name(stage_name)
            .description(format!("{FINGERPRINT_PREFIX}{fingerprint}"))
            .send()
            .await
            .map_err(|e| aws("apigateway:POST", format!("/restapis/{api}/deployments"), e))?;
    }
    ctx.report.action(&action, "deployment", &deployment);
    let metrics = current
        .as_ref()
        .and_then(|s| s.method_settings())
        .and_then(|m| m.get("*/*"))
        .is_some_and(|s| s.metrics_enabled());
    let action = match (&current, metrics) {
        (_, true) => Action::Unchanged,
        (None, false) => Action::Create,
        (Some(_), false) => Action::Update(vec![FieldChange::new("*/*/metrics/enabled", false, true)]),
    };
    if ctx.applying() && action != Action::Unchanged {
        gw.update_stage()
            .rest_api_id(api)
            .stage_name(stage_name)
            .patch_operations(
                PatchOperation::builder().op(Op::Replace).path("/*/*/metrics/enabled").value("true").build(),
            )
            .send()
            .await
            .map_err(|e| aws("apigateway:PATCH", target.clone(), e))?;
    }
    ctx.report.action(&action, "stage", &metrics_line);
    Ok(())
}

/// Deletes the API (its resources, methods, deployments and stage with it), if it carries the
/// stack tag.
pub async fn destroy(ctx: &Ctx) -> Result<()> {
    let name = &ctx.sys.api;
    match find_api_tagged(ctx).await? {
        None => {
            ctx.report.record(Change::Gone, "rest-api", name);
        }
        Some((_, tag)) if !tags::ours(ctx, tag.as_deref()) => tags::left_alone(ctx, "rest-api", name),
        Some(_) if !ctx.applying() => ctx.report.to_delete("rest-api", format!("{name} (with its stage)")),
        Some((id, _)) => {
            ctx.aws
                .apigateway
                .delete_rest_api()
                .rest_api_id(&id)
                .send()
                .await
                .map_err(|e| aws("apigateway:DELETE", format!("/restapis/{id}"), e))?;
            ctx.report.record(Change::Deleted, "rest-api", name);
        }
    }
    Ok(())
}
