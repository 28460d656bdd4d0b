//! `infra deploy`: reconcile the account to the declaration, in dependency order.

pub mod access;
pub mod api;
pub mod functions;
pub mod storage;
pub mod web;

use std::collections::HashMap;

use system::{FunctionOutputs, Outputs};

use crate::context::Ctx;
use crate::error::Result;
pub use functions::CodeSource;

pub async fn deploy(ctx: &Ctx, code: &CodeSource) -> Result<(Outputs, String)> {
    let sys = &ctx.sys;
    storage::table(ctx).await?;
    storage::bucket(ctx).await?;
    storage::email_identities(ctx).await?;

    let packages = functions::packages(ctx, code).await?;
    let mut arns = HashMap::new();
    for f in &sys.functions {
        let role = functions::role(ctx, f).await?;
        let arn = functions::function(ctx, f, &role, &packages[f.binary]).await?;
        arns.insert(f.name.clone(), arn);
    }

    let api = api::rest_api(ctx).await?;
    let resources = api::resources(ctx, &api).await?;
    api::methods(ctx, &api, &resources, &arns).await?;
    api::options(ctx, &api, &resources).await?;
    api::gateway_responses(ctx, &api).await?;
    for route in &sys.routes {
        // Only this API, this method and path may invoke the function.
        let source =
            format!("arn:aws:execute-api:{}:{}:{api}/*/{}{}", ctx.region, ctx.account, route.method, route.path);
        let statement = format!("{}-{}{}", sys.api, route.method, route.path.replace('/', "-"));
        functions::invoke_permission(ctx, &route.function, &statement, &source).await?;
    }
    api::stage(ctx, &api).await?;

    let key = access::api_key(ctx, &sys.api_key).await?;
    let plan = access::usage_plan(ctx, &api).await?;
    access::link(ctx, &plan, &key).await?;
    let secret_arn = access::secret(ctx, &sys.secret, &key).await?;

    let outputs = Outputs {
        invoke_url: sys.invoke_url(&api, ctx.gateway.as_deref()),
        api_id: api,
        stage: sys.stage.clone(),
        key_id: key.id().unwrap_or_default().to_owned(),
        key_name: sys.api_key.clone(),
        secret_arn,
        usage_plan_id: plan,
        region: ctx.region.clone(),
        table: sys.table.clone(),
        bucket: sys.bucket.clone(),
        functions: sys
            .functions
            .iter()
            .map(|f| {
                let environment = f.environment_vars().collect();
                (f.name.clone(), FunctionOutputs { arn: arns[&f.name].clone(), environment })
            })
            .collect(),
        web_url: None,
    };
    Ok((outputs, key.value().unwrap_or_default().to_owned()))
}
