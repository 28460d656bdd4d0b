//! The one error type of the infra tool: every failure says what was being done, to what,
//! and what to do about it.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error(
        "access denied: the deploying identity needs `{action}` on {target}. Add it to the user's or role's policy (see README, \"Deploying to AWS\")"
    )]
    AccessDenied { action: &'static str, target: String },
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

/// Turns an SDK error into an [`InfraError`] naming the IAM action that was attempted.
pub fn aws<E, R>(action: &'static str, target: impl Into<String>, err: SdkError<E, R>) -> InfraError
where
    E: ProvideErrorMetadata + std::error::Error,
    R: std::fmt::Debug,
{
    let target = target.into();
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            if ACCESS_DENIED.contains(&code.as_str()) {
                return InfraError::AccessDenied { action, target };
            }
            InfraError::Aws { action, target, code, message: e.message().unwrap_or_default().to_owned() }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            InfraError::Unreachable { action, target, detail: format!("{err:?}").chars().take(200).collect() }
        }
        other => InfraError::Aws {
            action,
            target,
            code: "Unknown".into(),
            message: format!("{other:?}").chars().take(300).collect(),
        },
    }
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
        let e =
            aws("iam:CreateRole", "role getStudentData-role", service_error("AccessDenied", "User is not authorized"));
        let text = e.to_string();
        assert!(matches!(e, InfraError::AccessDenied { action: "iam:CreateRole", .. }));
        assert!(text.contains("needs `iam:CreateRole` on role getStudentData-role"), "{text}");
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
}
