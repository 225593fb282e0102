//! The library operations the CLI commands are thin wrappers over.
//!
//! Owns the sequencing read -> plan and plan -> graph -> execute, so that no command walks a
//! graph or diffs state itself. Invariant: every operation reads live state fresh; nothing is
//! cached between operations.

use envctl_spec::DesiredState;

use crate::execute::{ApplyOptions, ApplyReport, Reporter, execute};
use crate::graph::{ApplyGraph, GraphError};
use crate::live::LiveState;
use crate::plan::{Plan, make_destroy_plan, make_plan};
use crate::provider::{Provider, ProviderError, Scope};

/// The scope whose ownership tags select `desired`'s live resources.
pub fn scope_of(desired: &DesiredState) -> Scope {
    Scope {
        project: desired.project.clone(),
        environment: desired.environment.clone(),
    }
}

/// Reads the environment's live state.
pub async fn read_live<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<LiveState, ProviderError> {
    provider.read(&scope_of(desired)).await
}

/// Reads live state and plans the changes that bring it to `desired`.
pub async fn plan<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<Plan, ProviderError> {
    let live = read_live(provider, desired).await?;
    Ok(make_plan(desired, &live, provider))
}

/// Reads live state and plans deleting all of it.
pub async fn plan_destroy<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<Plan, ProviderError> {
    let live = read_live(provider, desired).await?;
    Ok(make_destroy_plan(desired, &live))
}

/// Builds the apply graph from `plan` and runs it.
pub async fn apply<P: Provider + ?Sized, R: Reporter + ?Sized>(
    provider: &P,
    plan: &Plan,
    options: ApplyOptions,
    reporter: &R,
) -> Result<ApplyReport, GraphError> {
    let graph = ApplyGraph::from_plan(plan)?;
    Ok(execute(plan, &graph, provider, options, reporter).await)
}
