//! The library operations the CLI commands are thin wrappers over, one operation a file (as
//! cargo's `ops`).
//!
//! Owns the sequencing of every operation: read -> plan (`plan`), plan -> graph -> execute
//! (`apply`), drift (`drift`), parity and audit, the gates a change passes (`gate`), the
//! judging of declared differences against a date (`expiry`), and locks (`lock`); [`Operation`] names the operations that change the cloud.
//! No command walks a graph or diffs state itself. Invariants: every operation reads live
//! state fresh and nothing is cached between operations; nothing here prints or reads a
//! clock: dates are passed in, and what a person should see goes through the
//! [`Reporter`](crate::execute::Reporter) or is returned.

pub mod apply;
pub mod audit;
pub mod drift;
pub mod events;
pub mod expiry;
pub mod gate;
pub mod lock;
pub mod parity;
pub mod plan;

use envctl_spec::UnknownEnvironment;

use crate::provider::ProviderError;

pub use apply::{ApplyError, apply};
pub use audit::{Audit, AuditFinding, audit};
pub use drift::{drift, reconcile_options};
pub use events::{Event, RollbackCause};
pub use expiry::{DeclaredDifference, EXPIRY_WARNING_DAYS, ExpiryStatus, declared_differences};
pub use gate::{GateError, GateOptions, GateState};
pub use lock::{HeldLock, LockError, LockInfo, LockStore, Locking};
pub use plan::{plan, plan_destroy, plan_gated, plan_with, read_live, scope_of};

/// An operation that changes the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Bring an environment to the spec (or carry out a saved plan).
    Apply,
    /// Delete everything an environment owns.
    Destroy,
    /// Repair drift, once or as a controller loop.
    Reconcile,
    /// Rebuild an environment from the spec, replacing instead of patching.
    Redeploy,
}

impl Operation {
    /// Only a destroy lifts deletion protection (after confirmation).
    pub fn lifts_deletion_protection(self) -> bool {
        self == Operation::Destroy
    }

    /// Whether a failed run is rolled back (when asked, or in a protected environment): a
    /// destroy is not, since what it deleted cannot come back and running it again finishes it.
    pub fn rolls_back(self) -> bool {
        self != Operation::Destroy
    }
}

/// Reading the live state of one environment (or of two compared with each other) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to read the live state of {}", environments.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(" and "))]
pub struct ReadError {
    /// The environments being read.
    pub environments: Vec<String>,
    #[source]
    pub source: ProviderError,
}

impl ReadError {
    /// Reading `environment` failed with `source`.
    pub fn of(environment: &str, source: ProviderError) -> ReadError {
        ReadError {
            environments: vec![environment.to_string()],
            source,
        }
    }
}

/// Why a read-only operation over several environments could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// A live state could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An environment named is not in the spec.
    #[error(transparent)]
    UnknownEnvironment(#[from] UnknownEnvironment),
}
