//! Waiting for a resource to reach a state, with a deadline, saying what it reads meanwhile.
//!
//! Owns [`wait_until`], [`Poll`] and the per-kind [`Timeouts`]. Invariants: the first check
//! happens at once (the emulator and many real calls are done immediately); polls back off
//! from [`Timeouts::first_poll`] (2 s) to 15 s; every poll that is not done reports the state it read to the
//! operation's progress; an error from a poll ends the wait with that error; the deadline
//! ends it with [`ProviderError::Timeout`] naming the last state seen.

use std::future::Future;
use std::time::{Duration, Instant};

use envctl_engine::{Progress, ProviderError};
use envctl_spec::ResourceKind;

use super::kinds::Service;

/// What one poll saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Poll {
    /// The awaited state is reached.
    Ready,
    /// Not yet: the resource reads this state.
    Waiting(String),
}

impl Poll {
    /// `Ready` when `done`, else waiting in `state`.
    pub(crate) fn from(done: bool, state: impl Into<String>) -> Poll {
        if done {
            Poll::Ready
        } else {
            Poll::Waiting(state.into())
        }
    }
}

/// How long envctl waits for each kind to become usable or go away, sized for AWS: an
/// Aurora cluster or DB instance takes minutes to create, modify and delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// EC2 resources (instances starting, stopping, terminating; network resources freed).
    pub ec2: Duration,
    /// Aurora clusters and DB instances.
    pub rds: Duration,
    /// The pause after the first poll that is not done; later pauses grow by half up to 15 s.
    pub first_poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            ec2: Duration::from_secs(15 * 60),
            rds: Duration::from_secs(60 * 60),
            first_poll: Duration::from_secs(2),
        }
    }
}

impl Timeouts {
    /// Every kind waits `timeout` (`--wait-timeout`).
    pub fn all(timeout: Duration) -> Self {
        Timeouts {
            ec2: timeout,
            rds: timeout,
            ..Timeouts::default()
        }
    }

    /// The wait for resources of `kind`.
    pub(crate) fn of(&self, kind: ResourceKind) -> Duration {
        match super::kinds::service(kind) {
            Service::Rds => self.rds,
            // Log groups, parameters, alarms and dashboards never wait; the EC2 wait is the short one.
            Service::Ec2 | Service::Logs | Service::Ssm | Service::CloudWatch => self.ec2,
        }
    }
}

/// A progress that says what the waited-for state belongs to (`previous copy deleting`).
pub(crate) struct Prefixed<'a> {
    pub inner: &'a dyn Progress,
    pub prefix: &'static str,
}

impl Progress for Prefixed<'_> {
    fn waiting(&self, state: &str, elapsed: Duration) {
        self.inner
            .waiting(&format!("{} {state}", self.prefix), elapsed);
    }
}

/// Polls `check` until it is [`Poll::Ready`], an error, or `timeout` passes.
pub(crate) async fn wait_until<F, Fut>(
    what: &str,
    timeout: Duration,
    first_poll: Duration,
    progress: &dyn Progress,
    mut check: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll, ProviderError>>,
{
    let started = Instant::now();
    let mut interval = first_poll;
    loop {
        let state = match check().await? {
            Poll::Ready => return Ok(()),
            Poll::Waiting(state) => state,
        };
        progress.waiting(&state, started.elapsed());
        if started.elapsed() >= timeout {
            return Err(ProviderError::Timeout {
                what: format!("{what} (it still reads `{state}`)"),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(interval.min(timeout.saturating_sub(started.elapsed()))).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(15));
    }
}
