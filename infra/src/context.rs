//! One AWS configuration and one client per service for the whole run.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::error::{Result, aws};
use crate::report::Report;
use system::System;

pub struct Clients {
    pub apigateway: aws_sdk_apigateway::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            apigateway: aws_sdk_apigateway::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sts: aws_sdk_sts::Client::new(sdk),
            cloudfront: aws_sdk_cloudfront::Client::new(sdk),
        }
    }
}

/// The SDK configuration from the standard environment (profile, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`), with `region` when none is configured.
pub async fn sdk_config(region: &str) -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .operation_attempt_timeout(std::time::Duration::from_secs(60))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .region(
            aws_config::meta::region::RegionProviderChain::default_provider().or_else(Region::new(region.to_owned())),
        )
        .timeout_config(timeouts)
        .load()
        .await
}

/// Everything a command works with.
pub struct Ctx {
    pub sys: System,
    pub aws: Clients,
    pub report: Report,
    pub account: String,
    pub region: String,
    /// The local gateway's base URL, when the API is served by one instead of API Gateway.
    pub gateway: Option<String>,
}

impl Ctx {
    pub async fn new(sys: System, sdk: &SdkConfig, gateway: Option<String>) -> Result<Self> {
        let clients = Clients::new(sdk);
        let identity = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws("sts:GetCallerIdentity", "the caller", e))?;
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| sys.options.region.clone());
        Ok(Self {
            sys,
            aws: clients,
            report: Report,
            account: identity.account().unwrap_or_default().to_owned(),
            region,
            gateway,
        })
    }
}
