//! `drift`: how an environment's live state departs from its spec, read deeply.
//!
//! Owns [`drift`] and the plan options reconcile repairs with ([`reconcile_options`]).
//! Invariant: drift is derived from the very plan reconcile would apply, so the two never
//! disagree.

use envctl_spec::DesiredState;

use crate::drift::{DriftReport, drift_of};
use crate::live::LiveState;
use crate::plan::{Plan, PlanOptions};
use crate::provider::{Provider, ProviderError};

/// Reads live state deeply and reports how it departs from `desired`.
pub async fn drift<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<(Plan, DriftReport), ProviderError> {
    let plan = super::plan_with(provider, desired, &reconcile_options()).await?;
    let report = drift_of(&plan);
    Ok((plan, report))
}

/// [`drift`] restricted to `targets` and what they depend on (`reconcile --target`; empty:
/// everything).
pub async fn drift_of_targets<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
    targets: &std::collections::BTreeSet<envctl_spec::Address>,
) -> Result<(Plan, DriftReport), ProviderError> {
    let options = PlanOptions {
        targets: targets.clone(),
        ..reconcile_options()
    };
    let plan = super::plan_with(provider, desired, &options).await?;
    let report = drift_of(&plan);
    Ok((plan, report))
}

/// [`drift`], and the live state it was read from.
pub async fn drift_and_live<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
) -> Result<(Plan, DriftReport, LiveState), ProviderError> {
    let (plan, live) = super::plan::plan_and_live(provider, desired, &reconcile_options()).await?;
    let report = drift_of(&plan);
    Ok((plan, report, live))
}

/// The plan options of `reconcile`: repair in place and remove what the environment does not
/// own inside its network.
pub fn reconcile_options() -> PlanOptions {
    PlanOptions {
        remove_unmanaged: true,
        ..PlanOptions::default()
    }
}
