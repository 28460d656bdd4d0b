//! Reads the REST API as deployed from the control plane (the emulator's API Gateway, through
//! `aws-sdk-apigateway`) and keeps a [`Snapshot`] fresh by polling.
//!
//! API Gateway serves a deployment's snapshot of the methods, not the methods as they are
//! now: a stage picks up method changes only when redeployed. The emulator keeps no such
//! snapshot, so the first time this reader sees a deployment id it records the methods as
//! they are then, and serves that until the stage points at another deployment. Keys, plans
//! and gateway responses take effect at once, as in AWS.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::IntegrationType;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::Value;

use crate::model::{
    ApiKey, GatewayResponseConfig, HeaderSource, Integration, MethodRoute, Period, Quota, ResourceRoute, RouteTable,
    Snapshot, StageThrottles, Throttle, UsagePlan, method_key,
};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no REST API named {0} in the control plane (run infra deploy)")]
    NoApi(String),
    #[error("control plane call {0} failed: {1}")]
    Call(&'static str, String),
}

/// The error and its causes, not its Debug form: an SDK error's Debug carries the raw
/// response, and GetApiKeys' holds every key's value.
fn call<E: std::error::Error>(op: &'static str) -> impl FnOnce(E) -> ControlError {
    move |e| ControlError::Call(op, DisplayErrorContext(&e).to_string().chars().take(300).collect())
}

/// Which API to serve.
#[derive(Debug, Clone)]
pub enum ApiSelector {
    Name(String),
    Id(String),
}

pub struct ControlPlane {
    client: Client,
    api: ApiSelector,
    /// Deployment id → the methods it serves (recorded when first seen).
    deployments: HashMap<String, Arc<RouteTable>>,
}

impl ControlPlane {
    pub fn new(client: Client, api: ApiSelector) -> Self {
        Self { client, api, deployments: HashMap::new() }
    }

    async fn api_id(&self) -> Result<String, ControlError> {
        match &self.api {
            ApiSelector::Id(id) => Ok(id.clone()),
            ApiSelector::Name(name) => {
                let apis = self.client.get_rest_apis().limit(500).send().await.map_err(call("GetRestApis"))?;
                apis.items()
                    .iter()
                    .find(|a| a.name() == Some(name.as_str()))
                    .and_then(|a| a.id().map(str::to_owned))
                    .ok_or_else(|| ControlError::NoApi(name.clone()))
            }
        }
    }

    /// Reads everything once.
    pub async fn read(&mut self) -> Result<Snapshot, ControlError> {
        let api_id = self.api_id().await?;
        let stages = self.client.get_stages().rest_api_id(&api_id).send().await.map_err(call("GetStages"))?;
        let mut served = HashMap::new();
        let mut stage_throttles = HashMap::new();
        for stage in stages.item() {
            let (Some(name), Some(deployment)) = (stage.stage_name(), stage.deployment_id()) else { continue };
            if let Some(settings) = stage.method_settings() {
                stage_throttles.insert(name.to_owned(), stage_throttling(settings));
            }
            if !self.deployments.contains_key(deployment) {
                let table = self.route_table(&api_id).await?;
                tracing::info!(stage = name, deployment, "serving a new deployment");
                self.deployments.insert(deployment.to_owned(), Arc::new(table));
            }
            served.insert(name.to_owned(), (deployment.to_owned(), self.deployments[deployment].clone()));
        }
        Ok(Snapshot {
            stages: served,
            stage_throttles,
            keys_by_value: self.keys().await?,
            plans: self.plans(&api_id).await?,
            gateway_responses: self.gateway_responses(&api_id).await?,
            api_id,
        })
    }

    async fn route_table(&self, api_id: &str) -> Result<RouteTable, ControlError> {
        let resources =
            self.client.get_resources().rest_api_id(api_id).limit(500).send().await.map_err(call("GetResources"))?;
        let api = self.client.get_rest_api().rest_api_id(api_id).send().await.map_err(call("GetRestApi"))?;
        let mut table = RouteTable { binary_media_types: api.binary_media_types().to_vec(), ..RouteTable::default() };
        for resource in resources.items() {
            let (Some(id), Some(path)) = (resource.id(), resource.path()) else { continue };
            let mut methods = HashMap::new();
            for name in resource.resource_methods().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                let m = self
                    .client
                    .get_method()
                    .rest_api_id(api_id)
                    .resource_id(id)
                    .http_method(&name)
                    .send()
                    .await
                    .map_err(call("GetMethod"))?;
                let integration = match m.method_integration() {
                    None => Integration::Unsupported("no integration".into()),
                    Some(i) => match i.r#type() {
                        // Lambda is invoked with POST: API Gateway fails any other method (500).
                        Some(IntegrationType::AwsProxy) if i.http_method() != Some("POST") => Integration::Unsupported(
                            format!("AWS_PROXY with integrationHttpMethod {:?} (Lambda needs POST)", i.http_method()),
                        ),
                        Some(IntegrationType::AwsProxy) => match i.uri().and_then(function_name) {
                            Some(function) => Integration::LambdaProxy { function },
                            None => Integration::Unsupported(format!("AWS_PROXY to {:?}", i.uri())),
                        },
                        Some(IntegrationType::Mock) => {
                            let params = i
                                .integration_responses()
                                .and_then(|r| r.get("200"))
                                .and_then(|r| r.response_parameters())
                                .cloned()
                                .unwrap_or_default();
                            let mut headers: Vec<(String, String)> = params
                                .iter()
                                .filter_map(|(k, v)| {
                                    Some((k.strip_prefix("method.response.header.")?.to_owned(), literal(v)?))
                                })
                                .collect();
                            headers.sort();
                            Integration::Mock { headers }
                        }
                        other => Integration::Unsupported(format!("{other:?}")),
                    },
                };
                let route = MethodRoute {
                    resource_id: id.to_owned(),
                    resource_path: path.to_owned(),
                    api_key_required: m.api_key_required().unwrap_or(false),
                    integration,
                };
                methods.insert(name, route);
            }
            let segments = crate::model::segments(path).map(str::to_owned).collect();
            table.resources.push(ResourceRoute { segments, methods });
        }
        Ok(table)
    }

    async fn keys(&self) -> Result<HashMap<String, ApiKey>, ControlError> {
        let mut keys = HashMap::new();
        let mut position = None;
        loop {
            let page = self
                .client
                .get_api_keys()
                .include_values(true)
                .limit(500)
                .set_position(position)
                .send()
                .await
                .map_err(call("GetApiKeys"))?;
            for k in page.items() {
                if let (Some(id), Some(value)) = (k.id(), k.value()) {
                    let name = k.name().unwrap_or_default().to_owned();
                    keys.insert(value.to_owned(), ApiKey { id: id.to_owned(), name, enabled: k.enabled() });
                }
            }
            position = page.position().map(str::to_owned);
            if position.is_none() {
                return Ok(keys);
            }
        }
    }

    /// The usage plans, with the per-method throttles of `api_id`'s stages.
    async fn plans(&self, api_id: &str) -> Result<Vec<UsagePlan>, ControlError> {
        let raw = match self.client.get_usage_plans().limit(500).send().await {
            Ok(out) => out
                .items()
                .iter()
                .map(|p| {
                    let throttle = |t: &aws_sdk_apigateway::types::ThrottleSettings| serde_json::json!({"rateLimit": t.rate_limit(), "burstLimit": t.burst_limit()});
                    serde_json::json!({
                        "id": p.id(),
                        "name": p.name(),
                        "throttle": p.throttle().map(throttle),
                        "quota": p.quota().map(|q| serde_json::json!({"limit": q.limit(), "period": q.period().map(|p| p.as_str())})),
                        "apiStages": p.api_stages().iter().map(|s| serde_json::json!({
                            "apiId": s.api_id(),
                            "stage": s.stage(),
                            "throttle": s.throttle().map(|m| m.iter().map(|(k, t)| (k.clone(), throttle(t))).collect::<serde_json::Map<_, _>>()),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect::<Vec<_>>(),
            // The emulator stores a patched quota limit as a string ("limit": "3"), which the
            // SDK refuses to parse; read the same (successful) response leniently rather than
            // go blind.
            Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) => {
                let body = e.raw_response().and_then(|r| r.body().bytes()).unwrap_or_default();
                let value: Value = serde_json::from_slice(body).map_err(call("GetUsagePlans (lenient)"))?;
                value["item"].as_array().or_else(|| value["items"].as_array()).cloned().unwrap_or_default()
            }
            Err(e) => return Err(call("GetUsagePlans")(e)),
        };
        let mut plans = Vec::new();
        for p in raw {
            let id = p["id"].as_str().unwrap_or_default().to_owned();
            let keys = self
                .client
                .get_usage_plan_keys()
                .usage_plan_id(&id)
                .limit(500)
                .send()
                .await
                .map_err(call("GetUsagePlanKeys"))?;
            let key_ids: HashSet<String> = keys.items().iter().filter_map(|k| k.id().map(str::to_owned)).collect();
            let plan_throttle = p.get("throttle").and_then(throttle);
            let quota = p.get("quota").filter(|q| q.is_object()).and_then(|q| {
                let period = match q["period"].as_str()? {
                    "DAY" => Period::Day,
                    "WEEK" => Period::Week,
                    "MONTH" => Period::Month,
                    _ => return None,
                };
                Some(Quota { limit: number(&q["limit"])? as u64, period })
            });
            let api_stages = p["apiStages"].as_array().into_iter().flatten();
            let stages = api_stages
                .clone()
                .filter_map(|s| Some((s["apiId"].as_str()?.to_owned(), s["stage"].as_str()?.to_owned())))
                .collect();
            // `"/students/GET": {rateLimit, burstLimit}` per stage of this API.
            let method_throttles = api_stages
                .filter(|s| s["apiId"] == api_id)
                .filter_map(|s| {
                    let methods =
                        s["throttle"].as_object()?.iter().filter_map(|(k, t)| Some((k.clone(), throttle(t)?)));
                    Some((s["stage"].as_str()?.to_owned(), methods.collect()))
                })
                .collect();
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            plans.push(UsagePlan { id, name, throttle: plan_throttle, quota, stages, key_ids, method_throttles });
        }
        Ok(plans)
    }

    async fn gateway_responses(&self, api_id: &str) -> Result<HashMap<String, GatewayResponseConfig>, ControlError> {
        let out = self
            .client
            .get_gateway_responses()
            .rest_api_id(api_id)
            .limit(500)
            .send()
            .await
            .map_err(call("GetGatewayResponses"))?;
        let mut responses = HashMap::new();
        for r in out.items() {
            let Some(kind) = r.response_type() else { continue };
            let mut headers: Vec<(String, HeaderSource)> = r
                .response_parameters()
                .map(|p| {
                    p.iter()
                        .filter_map(|(k, v)| Some((k.strip_prefix("gatewayresponse.header.")?.to_owned(), source(v)?)))
                        .collect()
                })
                .unwrap_or_default();
            headers.sort_by(|a, b| a.0.cmp(&b.0));
            let status = r.status_code().and_then(|s| s.parse().ok());
            responses.insert(kind.as_str().to_owned(), GatewayResponseConfig { status, headers });
        }
        Ok(responses)
    }
}

/// `{rateLimit, burstLimit}` (numbers, or numbers written as strings).
fn throttle(t: &Value) -> Option<Throttle> {
    t.is_object().then_some(())?;
    Some(Throttle { rate_limit: number(&t["rateLimit"])?, burst_limit: number(&t["burstLimit"])? })
}

/// A stage's `methodSettings` throttling: `*/*` is the default for every method; other keys
/// are `<resource path, '/' written '~1'>/<HTTP method>` (`~1students/GET`).
fn stage_throttling(settings: &HashMap<String, aws_sdk_apigateway::types::MethodSetting>) -> StageThrottles {
    let mut throttles = StageThrottles::default();
    for (key, setting) in settings {
        let limits = Throttle {
            rate_limit: setting.throttling_rate_limit(),
            burst_limit: f64::from(setting.throttling_burst_limit()),
        };
        if key == "*/*" {
            throttles.default = Some(limits);
        } else if let Some((path, method)) = key.rsplit_once('/') {
            let path = path.replace("~1", "/");
            throttles.methods.insert(method_key(&format!("/{}", path.trim_start_matches('/')), method), limits);
        }
    }
    throttles
}

/// A gateway response's header mapping: a `'literal'` or `method.request.header.<name>`.
fn source(v: &str) -> Option<HeaderSource> {
    if let Some(name) = v.strip_prefix("method.request.header.") {
        return Some(HeaderSource::RequestHeader(name.to_owned()));
    }
    literal(v).map(HeaderSource::Literal)
}

/// A number, or a number written as a string (the emulator's patched values).
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}

/// `'value'` → `value`; mappings from the request (`method.request...`) are not literals.
fn literal(v: &str) -> Option<String> {
    v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).map(str::to_owned)
}

/// `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations`
/// → the function's name (cargo lambda serves functions by name).
pub fn function_name(uri: &str) -> Option<String> {
    let arn = uri.split("/functions/").nth(1)?.strip_suffix("/invocations")?;
    crate::lambda::function_name(arn).map(str::to_owned)
}

/// The snapshot the server reads, refreshed by [`poll`].
pub type Shared = Arc<RwLock<Arc<Snapshot>>>;

/// Refreshes `shared` every `interval`, calling `on_read` with each snapshot before it is in
/// force. On a failed read the last snapshot stays in force (the emulator restarting does not
/// take the gateway down).
pub async fn poll(
    mut control: ControlPlane,
    shared: Shared,
    interval: Duration,
    on_read: impl Fn(&Snapshot) + Send + 'static,
) {
    let mut failing = false;
    loop {
        match control.read().await {
            Ok(snapshot) => {
                if failing {
                    tracing::info!("control plane reachable again");
                    failing = false;
                }
                on_read(&snapshot);
                *shared.write().expect("not poisoned") = Arc::new(snapshot);
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "control plane read failed; serving the last known configuration");
                    failing = true;
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_come_from_integration_uris() {
        let uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:getStudentData/invocations";
        assert_eq!(function_name(uri).as_deref(), Some("getStudentData"));
        let qualified = uri.replace("getStudentData/", "getStudentData:live/");
        assert_eq!(function_name(&qualified).as_deref(), Some("getStudentData"));
        assert_eq!(function_name("arn:aws:apigateway:us-east-1:s3:path/bucket"), None);
    }

    #[test]
    fn numbers_may_be_strings_and_literals_are_quoted() {
        assert_eq!(number(&serde_json::json!(5)), Some(5.0));
        assert_eq!(number(&serde_json::json!("3")), Some(3.0));
        assert_eq!(number(&serde_json::json!("x")), None);
        assert_eq!(literal("'*'").as_deref(), Some("*"));
        assert_eq!(literal("method.request.header.Origin"), None);
        assert_eq!(source("method.request.header.Origin"), Some(HeaderSource::RequestHeader("Origin".into())));
        assert_eq!(source("'*'"), Some(HeaderSource::Literal("*".into())));
        assert_eq!(throttle(&serde_json::json!({"rateLimit": "2", "burstLimit": 3})).map(|t| t.burst_limit), Some(3.0));
    }
}
