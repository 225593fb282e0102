//! One log event as each AWS call starts, each attempt ends, and each call ends.
//!
//! Owns [`CallLog`], an SDK interceptor registered on every service client. Invariants: an
//! event names the service, the operation, the HTTP status and the time taken, never a
//! request or response body, a header or a credential; with logging off (the default) an event
//! costs one check of the log filter.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Logs every AWS call at debug level (target `envctl_providers::aws::trace`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallLog;

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

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
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
