//! Creates whose outcome may be unknown: sent once, then looked for before sending again.
//!
//! Owns [`AwsProvider::create_once`] and the per-call override that switches the SDK's
//! retries off for a create. Invariant: a create is never re-sent blindly after an answer
//! that leaves its outcome unknown (a timeout, a lost connection, a 5xx: the call may have
//! happened); the resource is first looked for by its ownership tags or unique name and
//! adopted when found. Only answers that prove the call did not happen (throttling) are
//! retried without looking. The SDK's own retry layer, which would re-send blindly, is
//! switched off for these calls; this loop owns their retries, with the same attempts and
//! backoff.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use envctl_engine::ProviderError;

use super::AwsProvider;
use super::pace::Family;

/// An EC2 per-call configuration without SDK retries (for creates).
pub(crate) fn ec2_no_retry() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// An RDS per-call configuration without SDK retries (for creates).
pub(crate) fn rds_no_retry() -> aws_sdk_rds::config::Builder {
    aws_sdk_rds::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// Whether a failed call may nevertheless have happened.
fn outcome_unknown(error: &ProviderError) -> bool {
    matches!(
        error,
        ProviderError::Transient { .. } | ProviderError::Timeout { .. }
    )
}

impl AwsProvider {
    /// Sends `create` (a change of `service`) at most once per attempt; after an answer that
    /// leaves the outcome unknown, `find` looks for what the call may have made, and a found resource is
    /// adopted instead of creating a second one.
    pub(crate) async fn create_once<T, C, CF, F, FF>(
        &self,
        what: &str,
        service: &str,
        mut create: C,
        mut find: F,
    ) -> Result<T, ProviderError>
    where
        C: FnMut() -> CF,
        CF: Future<Output = Result<T, ProviderError>>,
        F: FnMut() -> FF,
        FF: Future<Output = Result<Option<T>, ProviderError>>,
    {
        let attempts = self.retries.max_attempts.max(1);
        let mut backoff = self.retries.initial_backoff;
        let mut attempt = 1;
        loop {
            let error = match create().await {
                Ok(made) => return Ok(made),
                Err(error) => error,
            };
            let retry = match &error {
                ProviderError::Throttled { .. } => true,
                unknown if outcome_unknown(unknown) => {
                    tracing::info!(%what, %error, "create outcome unknown: looking before sending again");
                    if let Some(found) = find().await? {
                        tracing::info!(%what, "the create had happened: adopted what it made");
                        return Ok(found);
                    }
                    true
                }
                _ => false,
            };
            if !retry || attempt >= attempts {
                return Err(error);
            }
            attempt += 1;
            // Still a call of its family while it backs off (see `pace`).
            let _calling = self
                .pacing
                .as_ref()
                .map(|rates| rates.call(&Family::changes(service)));
            tokio::time::sleep(jittered(backoff)).await;
            backoff = (backoff * 2).min(self.retries.max_backoff);
        }
    }
}

/// `base` with up to half of it added, so that parallel creates do not retry in lock-step.
fn jittered(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    base + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
}
