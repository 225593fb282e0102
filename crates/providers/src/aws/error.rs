//! Turns SDK errors into the engine's classified [`ProviderError`].
//!
//! Owns [`classify`]. Invariant: every SDK failure maps to exactly one class, with the AWS
//! error code, message and request id kept when the service sent them; nothing is collapsed
//! into a bare string.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use envctl_engine::ProviderError;

/// Error codes AWS uses for throttling.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Error code suffixes that mean "the thing is not there".
const NOT_FOUND_MARKERS: &[&str] = &["NotFound", "NotFoundFault", "NotFoundException"];

/// The answer of a describe by name or id, `None` when AWS says there is no such thing; any
/// other failure classified as [`classify`] does.
pub(crate) fn found<T, E>(
    answer: Result<T, SdkError<E, HttpResponse>>,
    what: &str,
) -> Result<Option<T>, ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match answer {
        Ok(found) => Ok(Some(found)),
        Err(error) => match classify(error, what) {
            ProviderError::NotFound { .. } => Ok(None),
            other => Err(other),
        },
    }
}

/// Classifies an SDK error; `what` names the resource for not-found and exists errors.
pub(crate) fn classify<E>(error: SdkError<E, HttpResponse>, what: &str) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(service) = &error {
        let err = service.err();
        let message = err.message().unwrap_or_default().to_string();
        let request_id = err.meta().extra("aws_request_id").map(str::to_string);
        return match err.code() {
            Some(code) => classify_code(code.to_string(), message, request_id, what),
            // No AWS error code: only the HTTP status says what happened.
            None => classify_status(service.raw().status().as_u16(), request_id, what),
        };
    }
    let chain = source_chain(&error);
    // Missing or broken credentials surface as construction or dispatch failures.
    if chain.contains("credential provider") || chain.contains("no credentials") {
        let message = if chain.contains("no credentials found in chain") {
            "no credentials were found in the credential chain".to_string()
        } else {
            // The SDK's own words, without its request internals and a dangling list.
            let first = chain.lines().next().unwrap_or_default();
            let first = first
                .trim_start_matches("dispatch failure: ")
                .trim_start_matches("other: ");
            first
                .trim_end()
                .trim_end_matches("Attempted:")
                .trim_end()
                .trim_end_matches('.')
                .to_string()
        };
        return ProviderError::Credentials { message };
    }
    match &error {
        SdkError::TimeoutError(_) => ProviderError::Transient {
            message: format!("request for {what} timed out"),
        },
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
            ProviderError::Transient {
                message: format!("cannot reach the endpoint: {chain}"),
            }
        }
        SdkError::ResponseError(_) => ProviderError::Transient {
            message: format!("unreadable response: {chain}"),
        },
        SdkError::ConstructionFailure(_) => ProviderError::Rejected {
            code: "RequestNotBuilt".into(),
            message: chain,
            request_id: None,
        },
        _ => ProviderError::Transient { message: chain },
    }
}

/// Classifies an answer that carried no AWS error code by its HTTP status.
fn classify_status(status: u16, request_id: Option<String>, what: &str) -> ProviderError {
    match status {
        429 => ProviderError::Throttled {
            code: "HTTP 429".to_string(),
        },
        500..=599 => ProviderError::Transient {
            message: format!("the service answered HTTP {status} for {what}"),
        },
        404 => ProviderError::NotFound {
            what: what.to_string(),
        },
        _ => ProviderError::Rejected {
            code: format!("HTTP {status}"),
            message: format!("the service refused the request for {what}"),
            request_id,
        },
    }
}

/// Classifies an AWS error code.
pub(crate) fn classify_code(
    code: String,
    message: String,
    request_id: Option<String>,
    what: &str,
) -> ProviderError {
    if THROTTLING_CODES.contains(&code.as_str()) {
        ProviderError::Throttled { code }
    } else if (code.contains("AlreadyExists") && !code.contains("Snapshot"))
        || code.ends_with(".Duplicate")
    {
        // (A snapshot name that is taken is not the resource existing: that stays a rejection
        // with its own code and message.)
        ProviderError::AlreadyExists {
            what: what.to_string(),
        }
    } else if NOT_FOUND_MARKERS.iter().any(|m| code.ends_with(m)) {
        ProviderError::NotFound {
            what: what.to_string(),
        }
    } else if matches!(
        code.as_str(),
        "AuthFailure" | "UnrecognizedClientException" | "InvalidClientTokenId" | "ExpiredToken"
    ) {
        ProviderError::Credentials { message }
    } else if matches!(
        code.as_str(),
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable"
    ) {
        ProviderError::Transient { message }
    } else {
        ProviderError::Rejected {
            code,
            message,
            request_id,
        }
    }
}

/// The error and its sources on one line.
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_are_throttled() {
        let e = classify_code(
            "RequestLimitExceeded".into(),
            "slow".into(),
            None,
            "vpc.main",
        );
        assert!(matches!(e, ProviderError::Throttled { .. }));
    }

    #[test]
    fn not_found_codes_keep_the_address() {
        let e = classify_code(
            "InvalidVpcID.NotFound".into(),
            String::new(),
            None,
            "vpc.main",
        );
        assert_eq!(e.to_string(), "vpc.main was not found");
        let e = classify_code("DBClusterNotFoundFault".into(), String::new(), None, "db");
        assert!(matches!(e, ProviderError::NotFound { .. }));
    }

    #[test]
    fn other_codes_are_rejections_with_their_request_id() {
        let e = classify_code(
            "DependencyViolation".into(),
            "has dependencies".into(),
            Some("req-1".into()),
            "vpc.main",
        );
        assert_eq!(
            e.to_string(),
            "DependencyViolation: has dependencies (request id req-1)"
        );
    }
}
