//! `verify`: an environment tested on the spec it runs, recorded so that the promotion gate
//! of the environments promoted from it can ask "did staging pass its tests on this spec?".
//!
//! Owns [`Verification`], [`Verified`], [`VerifyError`], [`prepare`] and [`latest_matching`].
//! Invariants: a verification is only ever recorded for an environment read with no drift
//! against the spec (so it ran exactly the spec's parity digest), after its command passed;
//! it carries the environment's live fingerprint at that read, so any change made to the
//! environment afterwards (by envctl or by hand) makes it stale; the command itself is run by
//! the front end (this crate spawns nothing) and the record is written by the [`LockStore`]
//! next to the environment's lock, never overwriting one.

use envctl_spec::{DesiredState, Spec};
use serde::{Deserialize, Serialize};

use super::lock::{LockError, LockStore};
use super::{LookupError, ReadError};
use crate::drift::DriftReport;
use crate::live::LiveState;
use crate::provider::Environments;

/// One passed verification of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Unique; names the record.
    pub id: String,
    pub environment: String,
    /// The spec's parity digest the environment ran.
    pub parity_digest: String,
    /// The environment's live fingerprint when it was verified ([`LiveState::fingerprint`]).
    pub live_fingerprint: String,
    /// The spec's git revision, when the spec is in a git work tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The command that passed, as typed.
    pub command: String,
    /// `user@host` of whoever ran it.
    pub who: String,
    /// Seconds since the Unix epoch when it passed.
    pub at_unix: u64,
}

/// An environment read for verification: no drift, so it runs the spec.
#[derive(Debug, Clone)]
pub struct Verified {
    pub desired: DesiredState,
    pub live: LiveState,
}

/// Why an environment cannot be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The environment departs from the spec: what would be tested is not the spec.
    #[error("`{}` has drifted from the spec ({} departure{}): a test of it would not test this spec", report.environment, report.drift.len(), if report.drift.len() == 1 { "" } else { "s" })]
    Drifted { report: DriftReport },
    /// The record could not be written or read.
    #[error(transparent)]
    Store(#[from] LockError),
}

/// Reads `environment` and refuses it when it has drifted; its live state is what the
/// command's environment describes and what the record's fingerprint is taken from.
pub async fn prepare<E: Environments + ?Sized>(
    environments: &E,
    spec: &Spec,
    environment: &str,
) -> Result<Verified, VerifyError> {
    let desired = spec.expand(environment).map_err(LookupError::from)?;
    let (_, report, live) =
        super::drift::drift_and_live(environments.provider(environment), &desired)
            .await
            .map_err(|source| LookupError::from(ReadError::of(environment, source)))?;
    if !report.is_clean() {
        return Err(VerifyError::Drifted { report });
    }
    Ok(Verified { desired, live })
}

/// Records `verification` of `project`'s environment in `locks`.
pub async fn record<L: LockStore + ?Sized>(
    locks: &L,
    project: &str,
    verification: &Verification,
) -> Result<(), LockError> {
    locks
        .record_verification(project, &verification.environment, verification)
        .await
}

/// How an environment's verifications stand for a spec's parity digest and its live state now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// A verification at this digest, taken of the live state as it is now.
    Verified(Verification),
    /// No verification at all.
    Never,
    /// The newest verification is at another digest (no verification is at this one).
    OtherDigest(Verification),
    /// Verified at this digest, but the environment changed since.
    Stale(Verification),
}

/// Judges `verifications` (newest first) against `parity_digest` and the environment's live
/// `fingerprint` now.
pub fn latest_matching(
    verifications: &[Verification],
    parity_digest: &str,
    fingerprint: &str,
) -> Standing {
    let Some(newest) = verifications.first() else {
        return Standing::Never;
    };
    let mut at_digest = verifications
        .iter()
        .filter(|v| v.parity_digest == parity_digest);
    match at_digest.next() {
        None => Standing::OtherDigest(newest.clone()),
        Some(v) if v.live_fingerprint == fingerprint => Standing::Verified(v.clone()),
        Some(v) => Standing::Stale(v.clone()),
    }
}
