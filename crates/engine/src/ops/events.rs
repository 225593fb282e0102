//! What the operations tell whoever runs them, as they go: the [`Event`]s a
//! [`Reporter`](crate::execute::Reporter) receives besides the progress of single
//! operations.
//!
//! Owns [`Event`] and [`RollbackCause`]. Invariants: an event describes what happened or is
//! about to happen, in domain terms; wording, color and streams are the front end's; every
//! warning an operation has for a person is an event (the library never prints).

use std::time::Duration;

use super::lock::{HeldLock, LockError};
use super::{Operation, ReadError};
use crate::drift::DriftReport;
use crate::execute::ApplyReport;
use crate::plan::Plan;
use crate::rollback::RollbackReport;

/// Why a failed run is being rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackCause {
    /// The run was asked to roll back on failure (`--rollback`).
    Requested,
    /// The environment is protected: a failed run in it is always rolled back.
    Protected,
}

/// Something an operation reports as it runs.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A declared difference `environment` relies on has expired and the change goes on
    /// anyway, for `reason` (recorded as a tag on its VPCs).
    ExpiredAllowed {
        environment: &'a str,
        expired: usize,
        reason: &'a str,
    },
    /// The promotion gate of `environment` is skipped for `reason` (recorded as a tag).
    GateSkipped {
        environment: &'a str,
        upstream: &'a str,
        reason: &'a str,
    },
    /// The upstream environment has converged on the spec: the promotion gate lets the
    /// change through.
    GateConverged {
        upstream: &'a str,
        parity_digest: &'a str,
    },
    /// The upstream environment holds a passed verification of this spec, of its live state
    /// as it is now: the promotion gate lets the change through.
    GateVerified {
        upstream: &'a str,
        verification: &'a super::verify::Verification,
    },
    /// The plan about to be confirmed and carried out (or refused, when it has blockers).
    Planned {
        operation: Operation,
        plan: &'a Plan,
    },
    /// The confirmation said no: nothing was changed.
    Declined { operation: Operation },
    /// The run was interrupted before its first change: nothing was changed.
    NotStarted { operation: Operation },
    /// The change runs without the environment's lock (`--no-lock`).
    Unlocked { environment: &'a str },
    /// Another run holds the environment's lock: this one waits up to `timeout` for it.
    LockWaiting {
        environment: &'a str,
        holder: &'a super::lock::LockInfo,
        timeout: Duration,
    },
    /// The environment's lock is held (possibly taken over from a dead holder).
    Locked { lock: &'a HeldLock },
    /// The lock was released.
    Released { lock: &'a HeldLock },
    /// The lock could not be released: it stays until force-unlocked.
    ReleaseFailed {
        lock: &'a HeldLock,
        error: &'a LockError,
    },
    /// A plan was carried out (completely or not).
    Applied {
        operation: Operation,
        report: &'a ApplyReport,
    },
    /// The changes of a failed run are about to be undone.
    RollingBack {
        environment: &'a str,
        cause: RollbackCause,
    },
    /// The undoing is over.
    RolledBack { report: &'a RollbackReport },
    /// Reconcile read an environment: how it departs from the spec.
    Drift { report: &'a DriftReport },
    /// Reconcile could not read an environment; it is tried again after `retry_in`, the other
    /// environments go on.
    ReadFailed {
        error: &'a ReadError,
        retry_in: Duration,
    },
    /// The reconcile loop waits `after` before its next pass.
    NextPass { after: Duration },
    /// The reconcile loop stopped because it was asked to: after a complete pass, or while
    /// waiting between passes.
    Stopped { between_passes: bool },
}
