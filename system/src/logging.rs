//! What no log may show, whatever level `RUST_LOG` or Lambda's `AWS_LAMBDA_LOG_LEVEL` ask for:
//! the API key or a secret. Some libraries print whole request and response bodies at TRACE,
//! and those bodies carry them: `lambda_runtime` dumps the raw event ("raw JSON event received
//! from Lambda"), whose `headers.x-api-key` and `requestContext.identity.apiKey` are the key;
//! the AWS SDK's orchestrator prints each request and response (CreateApiKey and
//! GetApiKeys(includeValues) answer with key values, CreateSecret and GetSecretValue carry the
//! secret). Every binary's log filter drops TRACE from these targets, on top of what the
//! environment asks for, so no directive can turn them back on.

/// Crates (tracing targets, with their modules) whose TRACE events print bodies.
pub const BODY_PRINTING_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_smithy_http_client",
];

/// Whether an event of `target` at TRACE must be dropped: it may print a body.
pub fn trace_prints_bodies(target: &str) -> bool {
    BODY_PRINTING_TARGETS
        .iter()
        .any(|crate_name| target.strip_prefix(crate_name).is_some_and(|rest| rest.is_empty() || rest.starts_with("::")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crates_and_their_modules_are_matched_and_nothing_else() {
        assert!(trace_prints_bodies("lambda_runtime"));
        assert!(trace_prints_bodies("lambda_runtime::layers::api_response"));
        assert!(trace_prints_bodies("aws_smithy_runtime::client::orchestrator::http"));
        assert!(!trace_prints_bodies("lambda_runtime_other"));
        assert!(!trace_prints_bodies("students::handlers"));
        assert!(!trace_prints_bodies("aws_sdk_apigateway::operation"));
    }
}
