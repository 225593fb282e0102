//! The library operations the CLI commands are thin wrappers over, one operation a file (as
//! cargo's `ops`), so that another program could embed them.
//!
//! Owns the sequencing and the policy of every operation: `plan` (read -> plan, and the plan a
//! person reviews with the gates' refusals as blockers), `apply` (one plan, an environment,
//! a saved plan bound to spec and cloud), `destroy`, `redeploy`, `reconcile` (the controller
//! loop and its error policy), `drift`, `parity`, `compliance`, `audit`, `verify` (an
//! environment tested and the test recorded), `import` (a network built by hand drafted as a
//! spec, a second one merged into it) and `adopt` (imported resources tagged as the
//! environment's); what they share: `change` (plan, refuse,
//! confirm, lock, apply, roll back), `gate` (expired differences and the promotion gate,
//! verified upstreams included), `expiry` (declared differences judged against a date), `lock`
//! (the `LockStore` seam, which also keeps verifications) and `events` (what they report). [`Operation`] names the operations that change the
//! cloud. No command walks a graph or diffs state itself. Invariants: every operation reads
//! live state fresh and nothing is cached between operations; nothing here prints or reads the
//! date: dates are passed in, and what a person should see is an [`Event`] through the
//! [`Reporter`](crate::execute::Reporter) or is returned; every refusal is a typed error, its
//! wording and hints are the front end's.

pub mod adopt;
pub mod apply;
pub mod audit;
pub mod change;
pub mod compliance;
pub mod destroy;
pub mod drift;
pub mod events;
pub mod expiry;
pub mod gate;
pub mod import;
pub mod lock;
pub mod parity;
pub mod plan;
pub mod reconcile;
pub mod redeploy;
pub mod verify;

use envctl_spec::UnknownEnvironment;

use crate::provider::ProviderError;

pub use adopt::{AdoptError, Adoption, ImportRecord, adopt, changes_after_adoption, plan_adoption};
pub use apply::{ApplyError, apply, apply_environment, apply_saved};
pub use audit::{Audit, AuditFinding, AuditPlace, audit};
pub use change::{
    Approval, ChangeError, ChangeOptions, ChangeOutcome, Frontend, Risk, SavedPlanError, Session,
};
pub use compliance::{ComplianceReport, compliance, live_violations};
pub use destroy::destroy;
pub use drift::{drift, drift_and_live, reconcile_options};
pub use events::{Event, RollbackCause};
pub use expiry::{DeclaredDifference, EXPIRY_WARNING_DAYS, ExpiryStatus, declared_differences};
pub use gate::{GateError, GateOptions, GateState};
pub use import::{ImportError, ImportRequest, Imported, Member, Merge, import, merge};
pub use lock::{HeldLock, LockError, LockInfo, LockStore, Locking};
pub use plan::{plan, plan_destroy, plan_gated, plan_with, read_live, scope_of};
pub use reconcile::{ReconcileOptions, ReconcileReport, Repair, Timer, Watch, reconcile};
pub use redeploy::{RedeployOptions, redeploy};
pub use verify::{Standing, Verification, Verified, VerifyError};

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
