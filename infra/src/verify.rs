//! `infra verify`: the console checklist, one line per check, each naming what is wrong.

use std::time::Duration;

use crate::context::Ctx;
use crate::error::{Result, aws, found};
use crate::report::FieldChange;
use crate::resources::{self, api, api_key, usage_plan};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    /// `None` when it passed; otherwise what is wrong and what to do.
    pub problem: Option<String>,
    /// Why the check could not be made here (the endpoint lacks the feature); not a failure.
    pub skipped: Option<String>,
}

impl Check {
    fn pass(name: impl Into<String>) -> Self {
        Self { name: name.into(), problem: None, skipped: None }
    }

    fn fail(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { name: name.into(), problem: Some(problem.into()), skipped: None }
    }

    pub fn of(name: impl Into<String>, problem: Option<String>) -> Self {
        Self { name: name.into(), problem, skipped: None }
    }

    pub fn skip(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self { name: name.into(), problem: None, skipped: Some(why.into()) }
    }

    /// A resource compared with its declaration: missing, or the fields that differ.
    pub fn declared(name: impl Into<String>, exists: bool, changes: &[FieldChange]) -> Self {
        let problem = if !exists {
            Some(format!("it does not exist; {FIX}"))
        } else if changes.is_empty() {
            None
        } else {
            let fields: Vec<String> = changes.iter().map(ToString::to_string).collect();
            Some(format!("{}; {FIX}", fields.join(", ")))
        };
        Self::of(name, problem)
    }

    pub fn line(&self) -> String {
        match (&self.problem, &self.skipped) {
            (Some(p), _) => format!("FAIL  {}: {p}", self.name),
            (None, Some(why)) => format!("SKIP  {}: {why}", self.name),
            (None, None) => format!("PASS  {}", self.name),
        }
    }
}

/// What every failure says to do.
pub const FIX: &str = "run `infra deploy` to repair";

pub async fn verify(ctx: &Ctx, smoke: bool) -> Result<Vec<Check>> {
    let sys = &ctx.sys;
    let mut checks = Vec::new();
    let Some(api) = api::find_api(ctx).await? else {
        checks.push(Check::fail(format!("REST API {} exists", sys.api), format!("not found; {FIX}")));
        return Ok(checks);
    };
    checks.push(Check::pass(format!("REST API {} exists", sys.api)));

    // The key.
    let key = api_key::find_key(ctx, &sys.api_key).await?;
    checks.push(Check::of(
        format!("API key {} exists and is enabled", sys.api_key),
        match &key {
            None => Some(format!("no API key named {}; {FIX}", sys.api_key)),
            Some(k) if !k.enabled() => Some(format!("the key is disabled: every request with it gets 403; {FIX}")),
            Some(_) => None,
        },
    ));

    // The plan, its limits, its keys and its stages.
    let plan = usage_plan::find_plan(ctx).await?;
    match &plan {
        None => checks.push(Check::fail(format!("usage plan {} exists", sys.usage_plan), format!("not found; {FIX}"))),
        Some(plan) => {
            let plan_id = plan.id().unwrap_or_default();
            let linked = usage_plan::plan_key_ids(ctx, plan_id).await?;
            checks.push(Check::of(
                format!("API key {} is in usage plan {}", sys.api_key, sys.usage_plan),
                match key.as_ref().and_then(|k| k.id()) {
                    Some(id) if linked.iter().any(|k| k == id) => None,
                    Some(_) => {
                        Some(format!("the key is not in the plan, so every request with it gets 403 Forbidden; {FIX}"))
                    }
                    None => Some("there is no key to link".into()),
                },
            ));
            let t = plan.throttle();
            let q = plan.quota();
            let limits = format!(
                "rate {:?}/s, burst {:?}, quota {:?}/{:?}",
                t.map(|t| t.rate_limit()),
                t.map(|t| t.burst_limit()),
                q.map(|q| q.limit()),
                q.and_then(|q| q.period()).map(|p| p.as_str().to_owned())
            );
            checks.push(Check::of(
                format!(
                    "usage plan limits are rate {}/s, burst {}, quota {}/{}",
                    sys.throttle.rate_limit, sys.throttle.burst_limit, sys.quota.limit, sys.quota.period
                ),
                (!usage_plan::limit_changes(ctx, plan).0.is_empty()).then(|| format!("the plan has {limits}; {FIX}")),
            ));
            checks.push(Check::of(
                format!("usage plan {} is associated with {}:{}", sys.usage_plan, sys.api, sys.stage),
                (!usage_plan::is_associated(plan, &api, &sys.stage)).then(|| {
                    format!(
                        "the plan does not include stage {} of API {api}, so every key gets 403 there; {FIX}",
                        sys.stage
                    )
                }),
            ));
        }
    }

    // The methods as they are in the API now.
    let resources = api::resources_by_path(ctx, &api).await?;
    for route in &sys.routes {
        let name = format!("{} {} requires the API key and proxies to {}", route.method, route.path, route.function);
        let Some(resource) = resources.get(route.path).and_then(|r| r.id()) else {
            checks.push(Check::fail(name, format!("resource {} is missing; {FIX}", route.path)));
            continue;
        };
        let method = api::method_if_any(ctx, &api, resource, route.method).await?;
        let problem = match method {
            None => Some(format!("the method is missing; {FIX}")),
            Some(m) if m.api_key_required() != Some(true) => Some(format!(
                "apiKeyRequired is false: anyone can call it without a key; {FIX} (it redeploys the stage)"
            )),
            Some(m) => {
                let uri = m.method_integration().and_then(|i| i.uri()).unwrap_or_default().to_owned();
                (!uri.contains(&format!(":function:{}/", route.function)))
                    .then(|| format!("the integration does not invoke {} (it has {uri:?}); {FIX}", route.function))
            }
        };
        checks.push(Check::of(name, problem));
    }
    for path in sys.paths() {
        let name = format!("OPTIONS {path} answers the CORS preflight without a key");
        let Some(resource) = resources.get(path).and_then(|r| r.id()) else {
            checks.push(Check::fail(name, format!("resource {path} is missing; {FIX}")));
            continue;
        };
        let method = api::method_if_any(ctx, &api, resource, "OPTIONS").await?;
        let wanted = api::cors_integration_parameters(ctx, path);
        let problem = match method {
            None => Some(format!("there is no OPTIONS method, so browsers cannot call {path}; {FIX}")),
            Some(m) if m.api_key_required() == Some(true) => {
                Some(format!("OPTIONS requires a key, but browsers send none on a preflight; {FIX}"))
            }
            Some(m) => {
                let answered = m
                    .method_integration()
                    .and_then(|i| i.integration_responses())
                    .and_then(|r| r.get("200"))
                    .and_then(|r| r.response_parameters())
                    .cloned()
                    .unwrap_or_default();
                (answered != wanted)
                    .then(|| format!("the preflight answers {answered:?}, not the CORS headers {wanted:?}; {FIX}"))
            }
        };
        checks.push(Check::of(name, problem));
    }
    let wanted = api::cors_gateway_parameters(ctx);
    for kind in api::CORS_GATEWAY_RESPONSES {
        let name = format!("gateway response {} carries CORS headers", kind.as_str());
        let current = found(
            ctx.aws
                .apigateway
                .get_gateway_response()
                .rest_api_id(&api)
                .response_type(kind.clone())
                .send()
                .await
                .map_err(|e| aws("apigateway:GET", kind.as_str().to_owned(), e)),
            &["NotFoundException"],
        )?;
        let params = current.and_then(|r| r.response_parameters).unwrap_or_default();
        let missing: Vec<&String> = wanted.iter().filter(|(k, v)| params.get(*k) != Some(*v)).map(|(k, _)| k).collect();
        checks.push(Check::of(
            name,
            (!missing.is_empty())
                .then(|| format!("missing {missing:?}: a browser sees a CORS error instead of the 403 or 429; {FIX}")),
        ));
    }

    // The stage serves the current methods.
    let stage_name = format!("stage {} is deployed with the current methods", sys.stage);
    let stage = found(
        ctx.aws
            .apigateway
            .get_stage()
            .rest_api_id(&api)
            .stage_name(&sys.stage)
            .send()
            .await
            .map_err(|e| aws("apigateway:GET", format!("stage {}", sys.stage), e)),
        &["NotFoundException"],
    )?;
    let problem = match stage.and_then(|s| s.deployment_id) {
        None => Some(format!("the stage does not exist; {FIX}")),
        Some(id) => {
            let d = ctx
                .aws
                .apigateway
                .get_deployment()
                .rest_api_id(&api)
                .deployment_id(&id)
                .send()
                .await
                .map_err(|e| aws("apigateway:GET", format!("deployment {id}"), e))?;
            let current = api::methods_fingerprint(ctx, &api).await?;
            match api::recorded_fingerprint(d.description()) {
                Some(served) if served == current => None,
                Some(_) => Some(format!(
                    "the methods changed after deployment {id}, and changes take effect only when the stage is redeployed; {FIX}"
                )),
                None => {
                    Some(format!("deployment {id} was not made by infra deploy, so what it serves is unknown; {FIX}"))
                }
            }
        }
    };
    checks.push(Check::of(stage_name, problem));

    checks.extend(resources::checks(ctx).await?);
    let url = sys.invoke_url(&api, ctx.gateway.as_deref());
    let web = resources::web::checks(ctx, &url).await?;
    checks.extend(web.iter().flatten().cloned());
    if smoke {
        checks.extend(smoke_checks(&url, key.as_ref().and_then(|k| k.value())).await);
        if web.is_some() && ctx.gateway.is_none() {
            let page = &sys.options.allowed_origin;
            let answered = reqwest::Client::new().get(page).send().await.map(|r| r.status().as_u16());
            checks.push(Check::of(
                format!("smoke: the web page {page} answers"),
                match answered {
                    Ok(200) => None,
                    Ok(s) => Some(format!("got {s}, expected 200 (a new distribution takes minutes to deploy)")),
                    Err(e) => Some(format!("no answer: {e}")),
                },
            ));
        }
    }
    Ok(checks)
}

/// Calls the API as a client would: no key → 403, a wrong key → 403, the key → 200.
pub async fn smoke_checks(invoke_url: &str, key: Option<&str>) -> Vec<Check> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("a client");
    let url = format!("{invoke_url}/students?limit=1");
    let call = |key: Option<String>| {
        let mut request = client.get(&url);
        if let Some(k) = key {
            request = request.header(system::names::API_KEY_HEADER, k);
        }
        async move { request.send().await.map(|r| r.status().as_u16()).map_err(|e| e.to_string()) }
    };
    let expect = |name: &str, got: std::result::Result<u16, String>, want: u16| {
        Check::of(
            name.to_owned(),
            match got {
                Ok(status) if status == want => None,
                Ok(status) => Some(format!("got {status}, expected {want}")),
                Err(e) => Some(format!("{url} did not answer: {e}")),
            },
        )
    };
    vec![
        expect("smoke: GET /students without a key is 403", call(None).await, 403),
        expect(
            "smoke: GET /students with a wrong key is 403",
            call(Some("not-the-key-0000000000000".into())).await,
            403,
        ),
        expect("smoke: GET /students with the key is 200", call(key.map(str::to_owned)).await, 200),
    ]
}
