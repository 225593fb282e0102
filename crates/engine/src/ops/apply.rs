//! `apply`: carry out a plan.
//!
//! Owns [`apply`], which builds the apply graph from a plan and runs it. Invariant: a blocked
//! plan is refused whole, before any change.

use crate::execute::{ApplyOptions, ApplyReport, Reporter, execute};
use crate::graph::{ApplyGraph, GraphError};
use crate::plan::{Blocker, Plan};
use crate::provider::Provider;

/// Why [`apply`] refused to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The plan has blockers; nothing was changed.
    #[error("the plan cannot be carried out: {}", blockers.iter().map(|b| b.message.as_str()).collect::<Vec<_>>().join("; "))]
    Blocked { blockers: Vec<Blocker> },
    /// The changes cannot be ordered; nothing was changed.
    #[error("cannot order the changes: {0}")]
    Unorderable(#[from] GraphError),
}

/// Builds the apply graph from `plan` and runs it; a blocked plan is refused whole, before
/// any change.
pub async fn apply<P: Provider + ?Sized, R: Reporter + ?Sized>(
    provider: &P,
    plan: &Plan,
    options: ApplyOptions,
    reporter: &R,
) -> Result<ApplyReport, ApplyError> {
    if !plan.blockers.is_empty() {
        return Err(ApplyError::Blocked {
            blockers: plan.blockers.clone(),
        });
    }
    let graph = ApplyGraph::from_plan_rolling(plan, options.max_unavailable)?;
    Ok(execute(plan, &graph, provider, options, reporter).await)
}
