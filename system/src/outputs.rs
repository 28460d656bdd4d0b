//! What `infra deploy` writes for people and scripts (`.local/outputs[-PREFIX].json`): the
//! URLs and ids of what it made, and each function's environment as configured, which
//! `scripts/dev` hands to `cargo lambda watch` unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    pub invoke_url: String,
    pub api_id: String,
    pub stage: String,
    pub key_id: String,
    pub key_name: String,
    pub secret_arn: String,
    pub usage_plan_id: String,
    pub region: String,
    pub table: String,
    pub bucket: String,
    /// By function name.
    pub functions: BTreeMap<String, FunctionOutputs>,
    /// The web page on CloudFront, when deployed with `--web-dir`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub web_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionOutputs {
    pub arn: String,
    pub environment: BTreeMap<String, String>,
}
