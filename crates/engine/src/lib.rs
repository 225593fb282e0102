//! The envctl engine: from desired and live state to a plan, from a plan to an applied cloud.
//!
//! Owns the plan types, the provider trait (the seam every cloud implements), the apply graph
//! and its executor. Knows no cloud SDK and no terminal: providers and the CLI plug in through
//! [`provider::Provider`] and [`execute::Reporter`]. Data flows one way: desired + live ->
//! [`plan::Plan`] -> [`graph::ApplyGraph`] -> [`execute::ApplyReport`].

pub mod diff;
pub mod drift;
pub mod execute;
pub mod graph;
pub mod live;
pub mod ops;
pub mod parity;
pub mod plan;
pub mod probe;
pub mod provider;
pub mod rollback;

pub use diff::{TAGS_FIELD, diff_fields, plain_diff};
pub use drift::{Departure, DriftEntry, DriftKind, DriftReport, drift_of};
pub use execute::{
    ApplyOptions, ApplyReport, Interrupt, OperationReport, Outcome, Reporter, SilentReporter,
    execute,
};
pub use graph::{ApplyGraph, GraphError, Operation, Step, default_max_unavailable};
pub use live::{
    Conflict, ForeignName, LiveResource, LiveState, UNMANAGED_PREFIX, applied_digest,
    unmanaged_address,
};
pub use parity::{ParityDifference, ParityReport, compare_environments};
pub use plan::{
    Action, Blocker, BlockerKind, Cause, Change, Plan, PlanOptions, PlanSummary, ReplacePolicy,
    ResourceChange, is_deletion_protected, make_destroy_plan, make_plan,
};
pub use provider::{
    CloudIds, DELETION_PROTECTION_FIELD, DeleteOptions, Environments, FieldChange, NoProgress,
    Note, Progress, Provider, ProviderError, ProviderPerEnvironment, ReadDepth, ReplaceOrder,
    ResourceDiff, SECRET_VALUE, Scope,
};
pub use rollback::{RollbackReport, rollback};
