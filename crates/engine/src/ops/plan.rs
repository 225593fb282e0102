//! `plan`: read an environment's live state and diff it against the spec.
//!
//! Owns the sequencing read -> plan, the deeper second read before a VPC is deleted as an
//! orphan, the blocker for changes that cannot be ordered, and [`plan_gated`], the plan a
//! person reviews (with the gates' refusals as blockers). Invariant: every plan is made from a
//! fresh read; nothing is cached between operations.

use envctl_spec::{CivilDate, DesiredState, Spec};

use super::ReadError;
use super::gate::{GateError, expired_blockers};
use crate::execute::Reporter;

use crate::graph::{ApplyGraph, GraphError};
use crate::live::LiveState;
use crate::plan::{Blocker, BlockerKind, Plan, PlanOptions, make_destroy_plan, make_plan};
use crate::provider::{Environments, Provider, ProviderError, ReadDepth, Scope};

/// The scope whose ownership tags select `desired`'s live resources.
pub fn scope_of(desired: &DesiredState) -> Scope {
    Scope {
        project: desired.project.clone(),
        environment: desired.environment.clone(),
        known_environments: desired.spec_environments.clone(),
        network: None,
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
    Ok(plan_and_live(provider, desired, options).await?.0)
}

/// [`plan_with`], and the live state the plan was made from (what the compliance rules are
/// checked on, so an audit reads each environment once).
pub async fn plan_and_live<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
    options: &PlanOptions,
) -> Result<(Plan, LiveState), ProviderError> {
    let depth = if options.remove_unmanaged || options.list_unmanaged {
        ReadDepth::OwnedAndUnmanaged
    } else {
        ReadDepth::Owned
    };
    let mut live = read_live(provider, desired, depth).await?;
    log_read(desired, &live);
    let mut plan = make_plan(desired, &live, provider, options);
    let deletes_a_network = plan.changes.iter().any(|c| {
        c.kind == envctl_spec::ResourceKind::Vpc
            && matches!(c.change, crate::plan::Change::Delete { .. })
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
    Ok((plan, live))
}

/// The plan `envctl plan` shows: [`plan_with`], plus a blocker for each gate the apply after
/// it would be refused by (an unconverged upstream environment, an expired declared
/// difference), so that a plan a pull request shows is not green when the apply would fail.
pub async fn plan_gated<E, L, R>(
    environments: &E,
    locks: &L,
    spec: &Spec,
    desired: &DesiredState,
    options: &PlanOptions,
    today: CivilDate,
    reporter: &R,
) -> Result<Plan, GateError>
where
    E: Environments + ?Sized,
    L: super::lock::LockStore + ?Sized,
    R: Reporter + ?Sized,
{
    let mut plan = plan_with(
        environments.provider(&desired.environment),
        desired,
        options,
    )
    .await
    .map_err(|source| ReadError::of(&desired.environment, source))?;
    let gate = super::gate::state(environments, locks, spec, desired, reporter).await?;
    if let Some(blocker) = gate.blocker() {
        plan.blockers.push(blocker.clone());
    }
    plan.blockers.extend(expired_blockers(
        spec.differences(),
        &desired.environment,
        today,
    ));
    Ok(plan)
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
