//! The one error type of the infra tool: every failure says what was being done, to what,
//! and what to do about it. AWS errors are shown as their chain of causes in words (what the
//! SDK's `DisplayErrorContext` writes, without the Debug dump it appends), never as a dump.

use aws_config::SdkConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Where the README says how to give infra credentials and permissions.
const DEPLOYING: &str = "README, \"Deploying to a real AWS account\"";

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error(
        "access denied: the deploying identity needs `{action}` on {target}. `infra deployer-policy` prints the policy that grants everything infra does (see {DEPLOYING})"
    )]
    AccessDenied { action: &'static str, target: String },
    #[error(
        "no AWS credentials found (asked {endpoint}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them (see {DEPLOYING}); against the local stack, `set -a; . .local/stack.env; set +a`"
    )]
    NoCredentials { endpoint: String },
    #[error(
        "the AWS credentials were refused by {endpoint} ({code}: {message}): they are wrong, expired or for another partition; renew them (aws sso login, or new access keys)"
    )]
    CredentialsRefused { endpoint: String, code: String, message: String },
    #[error("{action} on {target} failed: {code}: {message}")]
    Aws { action: &'static str, target: String, code: String, message: String },
    #[error("{action} on {target} could not reach AWS: {detail}. Check the network, AWS_REGION and AWS_ENDPOINT_URL")]
    Unreachable { action: &'static str, target: String, detail: String },
    #[error("missing prerequisite: {0}")]
    Missing(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Io(String),
}

impl InfraError {
    /// The AWS error code, when AWS gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

const ACCESS_DENIED: [&str; 4] =
    ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"];
const REFUSED_CREDENTIALS: [&str; 4] =
    ["InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidAccessKeyId"];

/// An error and its causes in words: `dispatch failure: io error: connection refused`.
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut words: Vec<String> = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !words.last().is_some_and(|w| w.ends_with(&text)) {
            words.push(text);
        }
        cause = e.source();
    }
    words.join(": ")
}

/// Whether the SDK could not even sign the request: no credentials anywhere in its chain.
fn credentials_not_loaded<E, R>(err: &SdkError<E, R>) -> bool
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if matches!(e.downcast_ref::<CredentialsError>(), Some(CredentialsError::CredentialsNotLoaded(_))) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Turns an SDK error into an [`InfraError`] naming the IAM action that was attempted.
pub fn aws<E, R>(action: &'static str, target: impl Into<String>, err: SdkError<E, R>) -> InfraError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let target = target.into();
    if credentials_not_loaded(&err) {
        return InfraError::NoCredentials { endpoint: format!("{action} on {target}") };
    }
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            if ACCESS_DENIED.contains(&code.as_str()) {
                return InfraError::AccessDenied { action, target };
            }
            let message = match e.message() {
                Some(m) if !m.is_empty() => m.to_owned(),
                _ => causes(&err),
            };
            InfraError::Aws { action, target, code, message }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            InfraError::Unreachable { action, target, detail: causes(&err) }
        }
        _ => InfraError::Aws { action, target, code: "Unknown".into(), message: causes(&err) },
    }
}

/// The error of the first call a run makes (STS GetCallerIdentity), where missing or refused
/// credentials show first: those are named with the endpoint that was asked.
pub fn caller<E, R>(sdk: &SdkConfig, err: SdkError<E, R>) -> InfraError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let endpoint = sdk
        .endpoint_url()
        .map_or_else(|| format!("https://sts.{}.amazonaws.com", crate::context::region_of(sdk)), str::to_owned);
    if credentials_not_loaded(&err) {
        return InfraError::NoCredentials { endpoint };
    }
    if let Some(e) = err.as_service_error()
        && let Some(code) = e.code().filter(|c| REFUSED_CREDENTIALS.contains(c))
    {
        return InfraError::CredentialsRefused {
            endpoint,
            code: code.to_owned(),
            message: e.message().unwrap_or_default().to_owned(),
        };
    }
    aws("sts:GetCallerIdentity", "the caller", err)
}

/// `Ok(None)` for the given "not found" codes: looking up a resource that is not there yet.
pub fn found<T>(result: Result<T, InfraError>, not_found: &[&str]) -> Result<Option<T>, InfraError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code().is_some_and(|c| not_found.contains(&c)) => Ok(None),
        Err(e) => Err(e),
    }
}

pub type Result<T, E = InfraError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(
        code: &str,
        message: &str,
    ) -> SdkError<aws_sdk_iam::operation::create_role::CreateRoleError, Response> {
        let err = aws_sdk_iam::operation::create_role::CreateRoleError::generic(
            ErrorMetadata::builder().code(code).message(message).build(),
        );
        SdkError::service_error(err, Response::new(StatusCode::try_from(403).unwrap(), SdkBody::empty()))
    }

    #[test]
    fn access_denied_names_the_missing_permission() {
        let e = aws(
            "iam:CreateRole",
            "role getStudentData-us-east-1",
            service_error("AccessDenied", "User is not authorized"),
        );
        let text = e.to_string();
        assert!(matches!(e, InfraError::AccessDenied { action: "iam:CreateRole", .. }));
        assert!(text.contains("needs `iam:CreateRole` on role getStudentData-us-east-1"), "{text}");
        assert!(text.contains("infra deployer-policy"), "{text}");
    }

    #[test]
    fn other_service_errors_keep_their_code_and_not_found_is_absence() {
        let e = aws("iam:CreateRole", "r", service_error("LimitExceeded", "too many roles"));
        assert_eq!(e.code(), Some("LimitExceeded"));
        assert!(e.to_string().contains("LimitExceeded: too many roles"));
        let absent = found::<()>(Err(aws("iam:GetRole", "r", service_error("NoSuchEntity", "no"))), &["NoSuchEntity"]);
        assert!(matches!(absent, Ok(None)));
        let failed = found::<()>(Err(aws("iam:GetRole", "r", service_error("Throttling", "slow"))), &["NoSuchEntity"]);
        assert!(failed.is_err());
    }

    #[test]
    fn refused_credentials_are_named_with_the_endpoint() {
        let sdk = SdkConfig::builder().endpoint_url("http://127.0.0.1:4566").build();
        let e = caller(
            &sdk,
            service_error("InvalidClientTokenId", "The security token included in the request is invalid"),
        );
        let text = e.to_string();
        assert!(
            text.starts_with("the AWS credentials were refused by http://127.0.0.1:4566 (InvalidClientTokenId"),
            "{text}"
        );
    }
}
