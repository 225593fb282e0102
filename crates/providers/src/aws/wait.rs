//! Waiting for a resource to reach a state, with a deadline.
//!
//! Owns [`wait_until`]. Invariants: the first check happens at once (the emulator and many
//! real calls are done immediately); polls back off from 2 s to 15 s; an error from a poll
//! ends the wait with that error; the deadline ends it with [`ProviderError::Timeout`].

use std::future::Future;
use std::time::{Duration, Instant};

use envctl_engine::ProviderError;

/// Polls `check` until it returns `Ok(true)`, an error, or `timeout` passes.
pub(crate) async fn wait_until<F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, ProviderError>>,
{
    let started = Instant::now();
    let mut interval = Duration::from_secs(2);
    loop {
        if check().await? {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(ProviderError::Timeout {
                what: what.to_string(),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(interval.min(timeout.saturating_sub(started.elapsed()))).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(15));
    }
}
