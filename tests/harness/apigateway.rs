//! API Gateway control-plane changes made by tests and the benchmark, the way a console user
//! or a script would make them: a method proxying to a function, a key in a plan of its own.

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::{ApiStage, IntegrationType, QuotaPeriodType, QuotaSettings, ThrottleSettings};

/// The integration URI of a Lambda proxy integration.
pub fn lambda_uri(function_arn: &str) -> String {
    format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations")
}

/// Puts `http_method` on a resource as a Lambda proxy to `uri`, with or without a key.
/// (The method must not exist: the emulator has no UpdateMethod.)
pub async fn put_proxy_method(
    gw: &Client,
    api: &str,
    resource: &str,
    http_method: &str,
    key_required: bool,
    uri: &str,
) {
    put_proxy_method_with(gw, api, resource, http_method, key_required, uri, "POST").await;
}

/// ... invoking the function with `integration_method` (API Gateway fails any but POST).
pub async fn put_proxy_method_with(
    gw: &Client,
    api: &str,
    resource: &str,
    http_method: &str,
    key_required: bool,
    uri: &str,
    integration_method: &str,
) {
    gw.put_method()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method(http_method)
        .authorization_type("NONE")
        .api_key_required(key_required)
        .send()
        .await
        .expect("put method");
    gw.put_integration()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method(http_method)
        .r#type(IntegrationType::AwsProxy)
        .integration_http_method(integration_method)
        .uri(uri)
        .send()
        .await
        .expect("put integration");
}

/// A new key `value`, in a plan of its own for `api`'s `prod` stage with `per_second` as both
/// rate and burst and `per_day` as the daily quota.
pub async fn key_in_own_plan(gw: &Client, api: &str, name: &str, value: &str, per_second: i32, per_day: i32) {
    let key = gw.create_api_key().name(name).value(value).enabled(true).send().await.expect("create key");
    let plan = gw
        .create_usage_plan()
        .name(name)
        .throttle(ThrottleSettings::builder().rate_limit(f64::from(per_second)).burst_limit(per_second).build())
        .quota(QuotaSettings::builder().limit(per_day).period(QuotaPeriodType::Day).build())
        .api_stages(ApiStage::builder().api_id(api).stage("prod").build())
        .send()
        .await
        .expect("create plan");
    link_key(gw, plan.id().unwrap(), key.id().unwrap()).await;
}

/// Puts the key `key_id` in the usage plan `plan_id`.
pub async fn link_key(gw: &Client, plan_id: &str, key_id: &str) {
    gw.create_usage_plan_key()
        .usage_plan_id(plan_id)
        .key_id(key_id)
        .key_type("API_KEY")
        .send()
        .await
        .expect("link key to plan");
}
