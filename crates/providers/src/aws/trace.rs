//! One log event as each AWS call starts, each attempt ends, and each call ends; and a
//! [`RetryNotice`] to the front end before each retry.
//!
//! Owns [`CallLog`], an SDK interceptor registered on every service client, [`RetryNotice`]
//! and [`RetryObserver`]. Invariants: an event names the service, the operation, the HTTP
//! status and the time taken, never a request or response body, a header or a credential
//! (a retry's reason is read from the failed answer's status and error code only); with
//! logging off (the default) an event costs one check of the log filter; nothing here prints:
//! a retry is handed to the observer the front end gave.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use std::sync::Arc;

use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// A call about to be tried again: `retrying DescribeVpcs (3/10) after throttling`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryNotice {
    pub service: String,
    pub operation: String,
    /// The attempt about to start (2 for the first retry).
    pub attempt: u32,
    pub max_attempts: u32,
    /// What the previous attempt met: `throttling`, `HTTP 503`, `no answer`.
    pub after: String,
}

/// What the front end does with each [`RetryNotice`] (the CLI prints it on stderr).
#[derive(Clone)]
pub struct RetryObserver(pub Arc<dyn Fn(&RetryNotice) + Send + Sync>);

impl std::fmt::Debug for RetryObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetryObserver")
    }
}

/// Logs every AWS call at debug level (target `envctl_providers::aws::trace`), and tells the
/// observer, if any, of each retry.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog {
    on_retry: Option<RetryObserver>,
    max_attempts: u32,
}

impl CallLog {
    pub(crate) fn new(on_retry: Option<RetryObserver>, max_attempts: u32) -> CallLog {
        CallLog {
            on_retry,
            max_attempts,
        }
    }
}

/// What the last attempt of a call met, kept in the call's own configuration bag.
#[derive(Debug, Clone)]
struct LastAttempt(String);

impl Storable for LastAttempt {
    type Storer = StoreReplace<Self>;
}

/// Whether an answer is AWS throttling the request, from its status and error code: HTTP
/// 429, or an error whose code names throttling (EC2's `RequestLimitExceeded` comes as 503,
/// RDS's `Throttling` as 400).
pub(crate) fn is_throttling(response: &HttpResponse) -> bool {
    let status = response.status().as_u16();
    if status == 429 {
        return true;
    }
    status >= 400
        && response.body().bytes().is_some_and(|body| {
            let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
            [
                "Throttl",
                "RequestLimitExceeded",
                "SlowDown",
                "TooManyRequests",
            ]
            .iter()
            .any(|code| text.contains(code))
        })
}

/// What a failed attempt met, from its answer's status and error code (never its content).
fn attempt_outcome(context: &FinalizerInterceptorContextRef<'_>) -> String {
    let Some(response) = context.response() else {
        return "no answer".to_string();
    };
    if is_throttling(response) {
        "throttling".to_string()
    } else {
        format!("HTTP {}", response.status().as_u16())
    }
}

/// When the call started, kept in the call's own configuration bag.
#[derive(Debug, Clone, Copy)]
struct CallStarted(Instant);

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

/// `(service, operation)` of the call `cfg` belongs to.
fn names(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>().map_or_else(
        || ("?".to_string(), "?".to_string()),
        |m| (m.service().to_string(), m.name().to_string()),
    )
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "envctl-call-log"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(CallStarted(Instant::now()));
        if tracing::enabled!(tracing::Level::DEBUG) {
            let (service, operation) = names(cfg);
            tracing::debug!(%service, %operation, "aws call started");
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        if let Some(observer) = &self.on_retry
            && attempt > 1
        {
            let (service, operation) = names(cfg);
            let after = cfg
                .load::<LastAttempt>()
                .map_or_else(|| "an error".to_string(), |last| last.0.clone());
            (observer.0)(&RetryNotice {
                service,
                operation,
                attempt,
                max_attempts: self.max_attempts,
                after,
            });
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.on_retry.is_some() && context.output_or_error().is_some_and(|r| r.is_err()) {
            cfg.interceptor_state()
                .store_put(LastAttempt(attempt_outcome(context)));
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            let (service, operation) = names(cfg);
            let status = context.response().map(|r| r.status().as_u16());
            tracing::debug!(%service, %operation, ?status, "aws call attempt finished");
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let (service, operation) = names(cfg);
            let elapsed_ms = cfg
                .load::<CallStarted>()
                .map(|started| started.0.elapsed().as_millis());
            let succeeded = context.output_or_error().map(|r| r.is_ok());
            let status = context.response().map(|r| r.status().as_u16());
            tracing::debug!(
                %service,
                %operation,
                ?succeeded,
                ?status,
                ?elapsed_ms,
                "aws call finished"
            );
        }
        Ok(())
    }
}
