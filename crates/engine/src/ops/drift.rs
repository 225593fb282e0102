//! `drift`: how an environment's live state departs from its spec, read deeply.
//!
//! Owns [`drift`] and the plan options reconcile repairs with ([`reconcile_options`]).
//! Invariant: drift is derived from the very plan reconcile would apply, so the two never
//! disagree.

use envctl_spec::DesiredState;

use crate::drift::{DriftReport, drift_of};
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

/// The plan options of `reconcile`: repair in place and remove what the environment does not
/// own inside its network.
pub fn reconcile_options() -> PlanOptions {
    PlanOptions {
        remove_unmanaged: true,
        ..PlanOptions::default()
    }
}
