//! `apply`: carry out a plan, bring an environment to the spec, or carry out a saved plan.
//!
//! Owns [`apply`] (graph and execution of one plan), [`apply_environment`] and
//! [`apply_saved`] with the checks that bind a saved plan to the current spec and cloud
//! ([`read_saved`], [`check_target`], [`check_unchanged`]). Invariants: a blocked plan is
//! refused whole, before any change; a saved plan is bound, not trusted: protection, the
//! promotion gate and confirmation come from the current spec, never from the file, and what
//! runs is the plan made now from the current spec and live state under the lock, only when
//! it comes out exactly as saved.

use envctl_spec::{DesiredState, Spec};

use super::change::{
    ChangeError, ChangeOptions, ChangeOutcome, Frontend, SavedPlanError, Session, change,
};
use super::gate::{self, GateOptions};
use super::lock::LockStore;
use super::{Operation, ReadError};
use crate::execute::{ApplyOptions, ApplyReport, Reporter, execute};
use crate::graph::{ApplyGraph, GraphError};
use crate::plan::{Blocker, PLAN_FORMAT_VERSION, Plan, PlanOptions, desired_digest};
use crate::provider::{Environments, Provider};

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

/// Brings `desired` to the spec: the gates (expiry, then promotion, with `gate`'s
/// overrides), then the change (plan with `plan_options`, confirm, lock, apply).
pub async fn apply_environment<P, L, F>(
    session: Session<'_, P, L, F>,
    spec: &Spec,
    desired: DesiredState,
    plan_options: &PlanOptions,
    gate: &GateOptions,
    options: &ChangeOptions,
) -> Result<ChangeOutcome, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
{
    admit_and_change(
        session,
        spec,
        desired,
        Operation::Apply,
        plan_options,
        gate,
        options,
    )
    .await
}

/// The gates, then `operation`'s change of `desired` planned with `plan_options`: what
/// `apply` and `redeploy` share.
pub(super) async fn admit_and_change<P, L, F>(
    session: Session<'_, P, L, F>,
    spec: &Spec,
    mut desired: DesiredState,
    operation: Operation,
    plan_options: &PlanOptions,
    gate: &GateOptions,
    options: &ChangeOptions,
) -> Result<ChangeOutcome, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
{
    gate::admit(
        session.environments,
        session.locks,
        spec,
        &mut desired,
        gate,
        session.today,
        session.frontend,
    )
    .await?;
    let desired = &desired;
    change(session, operation, desired, options, || async {
        super::plan_with(
            session.environments.provider(&desired.environment),
            desired,
            plan_options,
        )
        .await
        .map_err(|source| ReadError::of(&desired.environment, source).into())
    })
    .await
}

/// Reads a saved plan (the text of its file), refusing one of another plan format.
pub fn read_saved(text: &str) -> Result<Plan, SavedPlanError> {
    // The format first: a plan of another format may not even read as this one's.
    #[derive(serde::Deserialize)]
    struct Format {
        format_version: u32,
    }
    if let Ok(Format { format_version }) = serde_json::from_str::<Format>(text)
        && format_version != PLAN_FORMAT_VERSION
    {
        return Err(SavedPlanError::FormatVersion {
            found: format_version,
        });
    }
    let plan: Plan = serde_json::from_str(text).map_err(SavedPlanError::NotAPlan)?;
    if plan.format_version != PLAN_FORMAT_VERSION {
        return Err(SavedPlanError::FormatVersion {
            found: plan.format_version,
        });
    }
    Ok(plan)
}

/// Refuses a saved plan made for another project or region, or from another version of the
/// spec, than `desired`.
pub fn check_target(saved: &Plan, desired: &DesiredState) -> Result<(), SavedPlanError> {
    if desired.project != saved.project || desired.region != saved.region {
        return Err(SavedPlanError::OtherTarget {
            saved_project: saved.project.clone(),
            saved_region: saved.region.clone(),
            project: desired.project.clone(),
            region: desired.region.clone(),
        });
    }
    if desired_digest(desired) != saved.desired_digest {
        return Err(SavedPlanError::OtherSpec);
    }
    Ok(())
}

/// Refuses to carry out `current` (the plan made now) unless it is exactly `saved`: made in
/// the same account (else the credentials reach another one), from the same live state (else
/// stale) and with the same changes (else edited).
pub fn check_unchanged(saved: &Plan, current: &Plan) -> Result<(), SavedPlanError> {
    if saved.account != current.account {
        let name = |account: &Option<String>| {
            account
                .clone()
                .unwrap_or_else(|| "an account the cloud did not name".into())
        };
        return Err(SavedPlanError::OtherAccount {
            saved: name(&saved.account),
            current: name(&current.account),
        });
    }
    if current.live_fingerprint != saved.live_fingerprint {
        return Err(SavedPlanError::Stale {
            environment: saved.environment.clone(),
        });
    }
    // (Compared as written: what a file holds is all that can be compared.)
    let as_saved = |plan: &Plan| serde_json::to_value(&plan.changes).ok();
    if as_saved(current) != as_saved(saved) {
        return Err(SavedPlanError::Edited);
    }
    Ok(())
}

/// Carries out a saved plan for `desired` (its environment expanded from the current spec):
/// expiry, the saved plan's target and spec, the promotion gate, then the change, whose plan
/// is made now and must come out exactly as saved. No gate override applies to a saved plan.
pub async fn apply_saved<P, L, F>(
    session: Session<'_, P, L, F>,
    spec: &Spec,
    mut desired: DesiredState,
    saved: &Plan,
    options: &ChangeOptions,
) -> Result<ChangeOutcome, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
{
    gate::enforce_expiry(
        spec.differences(),
        &mut desired,
        None,
        session.today,
        session.frontend,
    )?;
    check_target(saved, &desired)?;
    gate::enforce(
        session.environments,
        session.locks,
        spec,
        &mut desired,
        None,
        session.today,
        session.frontend,
    )
    .await?;
    let plan_options = PlanOptions {
        force_replace: saved.force_replace.iter().cloned().collect(),
        targets: saved.targets.iter().cloned().collect(),
        // Read as deeply as the plan was made, so that references resolve the same way.
        list_unmanaged: !saved.unmanaged.is_empty(),
        ..PlanOptions::default()
    };
    let desired = &desired;
    // What runs is the plan made now (its protection, blockers and notes are the current
    // spec's), and only when it comes out exactly as saved.
    change(session, Operation::Apply, desired, options, || async {
        let current = super::plan_with(
            session.environments.provider(&desired.environment),
            desired,
            &plan_options,
        )
        .await
        .map_err(|source| ReadError::of(&saved.environment, source))?;
        check_unchanged(saved, &current)?;
        Ok(current)
    })
    .await
}
