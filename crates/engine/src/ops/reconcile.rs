//! `reconcile`: repair drift, once or as a controller loop (as kube-rs's runtime does it).
//!
//! Owns [`reconcile`], [`ReconcileOptions`], [`Watch`], the loop's [`Timer`] and its error
//! policy. Invariants: each pass reads every environment that is due, shows its drift, and
//! repairs only what differs, through the same gates and the same change (confirm, lock,
//! apply) as an apply, so a pass is safe to run again after being cancelled at any point;
//! the runtime, not each step, decides retries: in a loop, a failed read of one environment
//! is reported and that environment alone is tried again after an exponential backoff
//! (`first_retry`, doubling, at most the interval), while the others go on; any other error
//! ends the loop, as it ends a single pass; the loop stops between passes once its stop flag
//! is raised, never half-way through a repair; a single pass starts no further environment
//! once the run is interrupted. The engine has no runtime: the caller's [`Timer`] tells the
//! time and sleeps.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use envctl_spec::{DesiredState, Spec};

use super::change::{ChangeError, ChangeOptions, ChangeOutcome, Frontend, Session, change};
use super::gate::{self, GateOptions};
use super::lock::LockStore;
use super::{Event, Operation, ReadError};
use crate::execute::Interrupt;
use crate::provider::Environments;

/// The clock of the controller loop, from the runtime the caller runs on.
pub trait Timer: Sync {
    /// Now.
    fn now(&self) -> Instant;
    /// Resolves after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// How the controller loop runs.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Time from the end of a pass to the next read of an environment that was read.
    pub interval: Duration,
    /// Raised to stop the loop (between passes: a pass in progress finishes).
    pub stop: Interrupt,
    /// Wait before the first retry of a failed read; it doubles with each failure in a row,
    /// up to `interval`.
    pub first_retry: Duration,
}

impl Watch {
    /// A loop with a pass every `interval`, stopped by `stop`, retrying failed reads after
    /// 1s, 2s, 4s ... (at most `interval`).
    pub fn new(interval: Duration, stop: Interrupt) -> Watch {
        Watch {
            interval,
            stop,
            first_retry: Duration::from_secs(1).min(interval),
        }
    }

    /// The wait before reading an environment again after `failures` failed reads in a row.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first_retry
            .saturating_mul(1 << doublings)
            .min(self.interval)
    }
}

/// How `reconcile` runs.
#[derive(Debug, Clone, Default)]
pub struct ReconcileOptions {
    pub gate: GateOptions,
    /// How each repair runs (with `--watch`, its interrupt is never raised: a repair is not
    /// interrupted half-way; the loop stops between passes instead).
    pub change: ChangeOptions,
    /// Keep going as a controller loop; `None`: one pass.
    pub watch: Option<Watch>,
    /// Repair only these addresses and what they depend on (`--target`); empty: everything.
    pub targets: std::collections::BTreeSet<envctl_spec::Address>,
}

/// What the passes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Passes run (a pass reads the environments that are due).
    pub passes: usize,
    /// Environments read and found without drift.
    pub clean: usize,
    /// Repairs carried out completely.
    pub repaired: usize,
    /// Repairs that failed, were declined, or did not start.
    pub failed: usize,
    /// Reads that failed and were retried (in a loop only).
    pub failed_reads: usize,
    /// The single pass stopped early because the run was interrupted.
    pub interrupted: bool,
}

/// What reconciling one environment came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Repair {
    /// No drift: nothing to repair.
    Clean,
    /// Drift, and the change that repaired it (or tried to).
    Changed(ChangeOutcome),
}

/// Reads `desired`'s environment, reports its drift, and repairs it: the gates (with
/// `gate`'s overrides), then the change, planned again under the lock.
pub async fn repair<P, L, F>(
    session: Session<'_, P, L, F>,
    spec: &Spec,
    desired: &DesiredState,
    gate: &GateOptions,
    options: &ChangeOptions,
    targets: &std::collections::BTreeSet<envctl_spec::Address>,
) -> Result<Repair, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
{
    let name = &desired.environment;
    let provider = session.environments.provider(&desired.environment);
    let (_, report) = super::drift::drift_of_targets(provider, desired, targets)
        .await
        .map_err(|source| ReadError::of(name, source))?;
    session.frontend.on_event(&Event::Drift { report: &report });
    if let Some(error) = session.frontend.failure() {
        return Err(ChangeError::Frontend(error));
    }
    if report.is_clean() {
        return Ok(Repair::Clean);
    }
    let mut desired = desired.clone();
    gate::admit(
        session.environments,
        session.locks,
        spec,
        &mut desired,
        gate,
        session.today,
        session.frontend,
    )
    .await?;
    let desired = &desired;
    // The repair is planned again under the lock (with the override tags, if any).
    let outcome = change(session, Operation::Reconcile, desired, options, || async {
        super::drift::drift_of_targets(
            session.environments.provider(&desired.environment),
            desired,
            targets,
        )
        .await
        .map(|(plan, _)| plan)
        .map_err(|source| ReadError::of(name, source).into())
    })
    .await?;
    Ok(Repair::Changed(outcome))
}

/// Reconciles `environments` (in order): one pass, or, with [`ReconcileOptions::watch`], a
/// controller loop until its stop flag is raised (see the module's invariants).
pub async fn reconcile<P, L, F, T>(
    session: Session<'_, P, L, F>,
    spec: &Spec,
    environments: &[DesiredState],
    options: &ReconcileOptions,
    timer: &T,
) -> Result<ReconcileReport, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
    T: Timer + ?Sized,
{
    let mut report = ReconcileReport::default();
    let start = timer.now();
    // When each environment is read next, and its failed reads in a row.
    let mut due: Vec<Instant> = vec![start; environments.len()];
    let mut failures: Vec<u32> = vec![0; environments.len()];
    loop {
        report.passes += 1;
        let now = timer.now();
        // The wait after this pass of each environment read in it.
        let mut waits: Vec<Option<Duration>> = vec![None; environments.len()];
        for (index, desired) in environments.iter().enumerate() {
            if due[index] > now {
                continue;
            }
            if options.change.apply.interrupt.is_triggered() {
                // An interrupted run starts nothing more.
                report.interrupted = true;
                break;
            }
            let interval = options.watch.as_ref().map(|w| w.interval);
            match repair(
                session,
                spec,
                desired,
                &options.gate,
                &options.change,
                &options.targets,
            )
            .await
            {
                Ok(repair) => {
                    failures[index] = 0;
                    waits[index] = interval;
                    match repair {
                        Repair::Clean => report.clean += 1,
                        Repair::Changed(outcome) if outcome.is_success() => report.repaired += 1,
                        Repair::Changed(_) => report.failed += 1,
                    }
                }
                Err(error) => {
                    let (Some(watch), Some(read)) = (&options.watch, error.read_error()) else {
                        return Err(error);
                    };
                    failures[index] = failures[index].saturating_add(1);
                    let retry_in = watch.backoff(failures[index]);
                    report.failed_reads += 1;
                    session.frontend.on_event(&Event::ReadFailed {
                        error: read,
                        retry_in,
                    });
                    waits[index] = Some(retry_in);
                }
            }
        }
        let Some(watch) = &options.watch else {
            return Ok(report);
        };
        if watch.stop.is_triggered() {
            session.frontend.on_event(&Event::Stopped {
                between_passes: false,
            });
            return Ok(report);
        }
        let end = timer.now();
        for (index, wait) in waits.iter().enumerate() {
            if let Some(wait) = wait {
                due[index] = end + *wait;
            }
        }
        let after = due
            .iter()
            .min()
            .map_or(watch.interval, |next| next.saturating_duration_since(end));
        session.frontend.on_event(&Event::NextPass { after });
        let sleep = pin!(timer.sleep(after));
        let stopped = pin!(watch.stop.raised());
        if let futures::future::Either::Right(_) = futures::future::select(sleep, stopped).await {
            session.frontend.on_event(&Event::Stopped {
                between_passes: true,
            });
            return Ok(report);
        }
    }
}
