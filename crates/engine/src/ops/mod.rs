//! The library operations the CLI commands are thin wrappers over, one operation a file (as
//! cargo's `ops`).
//!
//! Owns the sequencing of every operation: read -> plan (`plan`), plan -> graph -> execute
//! (`apply`), drift (`drift`). No command walks a graph or diffs state itself.
//! Invariant: every operation reads live state fresh; nothing is cached between operations.

pub mod apply;
pub mod drift;
pub mod plan;

pub use apply::{ApplyError, apply};
pub use drift::{drift, reconcile_options};
pub use plan::{plan, plan_destroy, plan_with, read_live, scope_of};
