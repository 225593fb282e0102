//! The library operations the CLI commands are thin wrappers over.
//!
//! Owns the sequencing read -> plan and plan -> graph -> execute, so that no command walks a
//! graph or diffs state itself. Invariant: every operation reads live state fresh; nothing is
//! cached between operations.

use envctl_spec::DesiredState;

use crate::execute::{ApplyOptions, ApplyReport, Reporter, execute};
use crate::graph::{ApplyGraph, GraphError};
use crate::live::LiveState;
use crate::plan::{Blocker, BlockerKind, Plan, PlanOptions, make_destroy_plan, make_plan};
use crate::provider::{Provider, ProviderError, ReadDepth, Scope};

/// The scope whose ownership tags select `desired`'s live resources.
pub fn scope_of(desired: &DesiredState) -> Scope {
    Scope {
        project: desired.project.clone(),
        environment: desired.environment.clone(),
        known_environments: desired.spec_environments.clone(),
    }
}

/// Reads the environment's live state.
pub async fn read_live<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
    depth: ReadDepth,
) -> Result<LiveState, ProviderError> {
    provider.read(&scope_of(desired), depth).await
}

/// Reads live state and plans the changes that bring it to `desired` (owned resources only).
pub async fn plan<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<Plan, ProviderError> {
    plan_with(provider, desired, &PlanOptions::default()).await
}

/// Reads live state (deeply when unmanaged resources are to be removed) and plans.
pub async fn plan_with<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
    options: &PlanOptions,
) -> Result<Plan, ProviderError> {
    let depth = if options.remove_unmanaged {
        ReadDepth::OwnedAndUnmanaged
    } else {
        ReadDepth::Owned
    };
    let mut live = read_live(provider, desired, depth).await?;
    log_read(desired, &live);
    let mut plan = make_plan(desired, &live, provider, options);
    let deletes_a_network = plan.changes.iter().any(|c| {
        c.kind == envctl_spec::ResourceKind::Vpc
            && c.action == crate::plan::Action::Delete
            && c.cause == crate::plan::Cause::Orphan
    });
    if deletes_a_network && depth == ReadDepth::Owned {
        // Before deleting a VPC the spec no longer has, look inside it: one that holds
        // resources envctl does not own is someone's network, not an orphan.
        live = read_live(provider, desired, ReadDepth::OwnedAndUnmanaged).await?;
        plan = make_plan(desired, &live, provider, options);
    }
    block_if_unorderable(&mut plan);
    log_plan(&plan);
    Ok(plan)
}

/// A plan whose changes cannot be ordered is blocked, naming the addresses in the cycle.
fn block_if_unorderable(plan: &mut Plan) {
    if let Err(GraphError::Cycle { addresses }) = ApplyGraph::from_plan(plan)
        && let Some(first) = addresses.first()
    {
        plan.blockers.push(Blocker {
            address: Some(first.clone()),
            kind: BlockerKind::Unorderable,
            message: GraphError::Cycle {
                addresses: addresses.clone(),
            }
            .to_string(),
            hint: Some("remove one of the references that close the cycle".to_string()),
        });
    }
}

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

/// Reads live state and plans deleting all of it.
pub async fn plan_destroy<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<Plan, ProviderError> {
    let live = read_live(provider, desired, ReadDepth::Owned).await?;
    log_read(desired, &live);
    let mut plan = make_destroy_plan(desired, &live);
    block_if_unorderable(&mut plan);
    log_plan(&plan);
    Ok(plan)
}

fn log_read(desired: &DesiredState, live: &LiveState) {
    tracing::info!(
        environment = %desired.environment,
        owned = live.resources.len(),
        unmanaged = live.unmanaged.len(),
        "read the live state"
    );
}

fn log_plan(plan: &Plan) {
    let summary = plan.summary();
    tracing::info!(
        environment = %plan.environment,
        create = summary.create,
        update = summary.update,
        replace = summary.replace,
        delete = summary.delete,
        "planned"
    );
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

/// Reads live state deeply and reports how it departs from `desired`.
pub async fn drift<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<(Plan, crate::drift::DriftReport), ProviderError> {
    let plan = plan_with(provider, desired, &reconcile_options()).await?;
    let report = crate::drift::drift_of(&plan);
    Ok((plan, report))
}

/// The plan options of `reconcile`: repair in place and remove what the environment does not
/// own inside its network.
pub fn reconcile_options() -> PlanOptions {
    PlanOptions {
        remove_unmanaged: true,
        ..PlanOptions::default()
    }
}
