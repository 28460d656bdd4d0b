//! One AWS configuration and one client per service for the whole run, in one region.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use system::System;

use crate::error::{Result, caller};
use crate::report::Report;

/// Where nothing else names a region.
pub const DEFAULT_REGION: &str = "us-east-1";

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
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub events: aws_sdk_eventbridge::Client,
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
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
        }
    }
}

/// The SDK configuration from the standard environment (profile, credentials,
/// `AWS_ENDPOINT_URL`), in one region, resolved once: `--region`, else the SDK's chain
/// (`AWS_REGION`, the profile), else [`DEFAULT_REGION`]. Every client, ARN, URL and output
/// then uses `sdk.region()`.
pub async fn sdk_config(region: Option<&str>) -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    let loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    let loader = match region {
        Some(region) => loader.region(Region::new(region.to_owned())),
        None => loader.region(
            aws_config::meta::region::RegionProviderChain::default_provider().or_else(Region::new(DEFAULT_REGION)),
        ),
    };
    loader.load().await
}

/// The region the configuration resolved to.
pub fn region_of(sdk: &SdkConfig) -> String {
    sdk.region().map_or_else(|| DEFAULT_REGION.to_owned(), ToString::to_string)
}

/// The account of the credentials in `sdk` (STS GetCallerIdentity). Missing or refused
/// credentials are named as such, with the endpoint that was asked.
pub async fn caller_account(sdk: &SdkConfig) -> Result<String> {
    let identity = aws_sdk_sts::Client::new(sdk).get_caller_identity().send().await.map_err(|e| caller(sdk, e))?;
    Ok(identity.account().unwrap_or_default().to_owned())
}

/// Whether a run changes the account or only says what it would change (`deploy --plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Plan,
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
    /// An S3 endpoint without TLS (the emulator's), where a policy denying plain HTTP would
    /// lock everyone out.
    pub plain_http_s3: bool,
}

impl Ctx {
    /// `sys` must have been declared for `sdk`'s region and the caller's account.
    pub fn new(sys: System, sdk: &SdkConfig, gateway: Option<String>, mode: Mode) -> Self {
        let plain_http_s3 = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .is_some_and(|url| url.starts_with("http://"));
        Self {
            account: sys.options.account.clone(),
            region: sys.options.region.clone(),
            aws: Clients::new(sdk),
            report: Report::new(mode),
            sys,
            gateway,
            plain_http_s3,
        }
    }

    /// False for `deploy --plan`: read, compare and report, change nothing.
    pub fn applying(&self) -> bool {
        self.report.mode() == Mode::Apply
    }
}
