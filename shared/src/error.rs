//! What an AWS call failure means for a remediation.
//!
//! - `Transient` (throttling, 5xx, timeouts, connection failures): returned as an error so Lambda retries;
//!   the SDK's own retries have already been spent by then.
//! - `NotFound`: the resource is gone; nothing is left to do.
//! - `Permanent` (access denied, unsupported operation, invalid state): a retry cannot help; the
//!   resource ends as a `failed` outcome and people are told.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Transient,
    NotFound,
    Permanent,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    // Worth another try too, though not throttling: S3's "a conflicting conditional operation is
    // currently in progress against this resource, try again" (S3 API Reference, "Error responses");
    // credentials that expired or a request signed too long ago (EC2 API Reference, "Error codes":
    // RequestExpired; ExpiredToken in S3 and STS), which a retry signs afresh.
    "OperationAborted",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
];

const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchBucket",
    "NoSuchKey",
    "NotFound",
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "InvalidSecurityGroupRuleId.NotFound",
    "InvalidPermission.NotFound",
    "InvalidInstanceID.NotFound",
];

impl AwsError {
    pub fn new(
        operation: &'static str,
        kind: ErrorKind,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            operation,
            kind,
            code: code.map(String::from),
            message: message.into(),
        }
    }

    /// Classifies an SDK error of `operation`.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (kind, code, message) = match &err {
            SdkError::ServiceError(context) => {
                let code = context.err().code().map(String::from);
                let status = context.raw().status().as_u16();
                let message = context
                    .err()
                    .message()
                    .map(String::from)
                    .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
                (classify(code.as_deref(), status), code, message)
            }
            SdkError::ConstructionFailure(_) => (
                ErrorKind::Permanent,
                None,
                DisplayErrorContext(&err).to_string(),
            ),
            // Timeouts, connection failures and unreadable responses: worth another try.
            _ => (
                ErrorKind::Transient,
                None,
                DisplayErrorContext(&err).to_string(),
            ),
        };
        AwsError {
            operation,
            kind,
            code,
            message,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// Decides from the error code and HTTP status.
pub fn classify(code: Option<&str>, status: u16) -> ErrorKind {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => ErrorKind::Transient,
        Some(code) if NOT_FOUND_CODES.contains(&code) => ErrorKind::NotFound,
        _ if status == 429 || status >= 500 => ErrorKind::Transient,
        None if status == 404 => ErrorKind::NotFound,
        _ => ErrorKind::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(Some("Throttling"), 400), ErrorKind::Transient);
        assert_eq!(classify(Some("SlowDown"), 503), ErrorKind::Transient);
        assert_eq!(
            classify(Some("RequestLimitExceeded"), 503),
            ErrorKind::Transient
        );
        assert_eq!(classify(None, 500), ErrorKind::Transient);
        assert_eq!(classify(None, 429), ErrorKind::Transient);
        assert_eq!(classify(Some("AccessDenied"), 403), ErrorKind::Permanent);
        assert_eq!(
            classify(Some("UnauthorizedOperation"), 403),
            ErrorKind::Permanent
        );
        assert_eq!(classify(Some("NoSuchBucket"), 404), ErrorKind::NotFound);
        assert_eq!(
            classify(Some("InvalidPermission.NotFound"), 400),
            ErrorKind::NotFound
        );
        assert_eq!(classify(None, 404), ErrorKind::NotFound);
        for retry_helps in ["OperationAborted", "ExpiredToken", "RequestExpired"] {
            assert_eq!(
                classify(Some(retry_helps), 400),
                ErrorKind::Transient,
                "{retry_helps}"
            );
        }
        assert_eq!(
            classify(Some("OperationAborted"), 409),
            ErrorKind::Transient
        );
        assert_eq!(
            classify(Some("AccessControlListNotSupported"), 400),
            ErrorKind::Permanent
        );
    }

    #[test]
    fn message_names_operation_and_code() {
        let err = AwsError::new(
            "PutBucketAcl",
            ErrorKind::Permanent,
            Some("AccessDenied"),
            "Access Denied",
        );
        assert_eq!(
            err.to_string(),
            "PutBucketAcl failed (AccessDenied): Access Denied"
        );
    }
}
