//! `redeploy`: rebuild an environment from the spec (the caller may have read the spec as of
//! a git revision), replacing drifted or all resources instead of patching them.
//!
//! Owns [`redeploy`] and [`RedeployOptions`]. Invariants: a redeploy also removes what the
//! environment does not own inside its network (as reconcile does); it passes the same gates
//! as an apply; what holds data is replaced only when named (`force_replace`).

use std::collections::BTreeSet;

use envctl_spec::{Address, DesiredState, Spec};

use super::Operation;
use super::change::{ChangeError, ChangeOptions, ChangeOutcome, Frontend, Session};
use super::gate::GateOptions;
use super::lock::LockStore;
use crate::plan::{PlanOptions, ReplacePolicy};
use crate::provider::Environments;

/// What a redeploy rebuilds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedeployOptions {
    /// Which matching resources are replaced instead of patched or left.
    pub replace: ReplacePolicy,
    /// Addresses replaced by name (`--replace ADDR`), data included.
    pub force_replace: BTreeSet<Address>,
}

impl RedeployOptions {
    /// The plan options of a redeploy: these, and unmanaged resources removed.
    pub fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            force_replace: self.force_replace.clone(),
            remove_unmanaged: true,
            list_unmanaged: false,
            replace: self.replace,
            targets: BTreeSet::new(),
        }
    }
}

/// Passes the gates, then rebuilds `desired`'s environment as `redeploy` says.
pub async fn redeploy<P, L, F>(
    session: Session<'_, P, L, F>,
    spec: &Spec,
    desired: DesiredState,
    redeploy: &RedeployOptions,
    gate: &GateOptions,
    options: &ChangeOptions,
) -> Result<ChangeOutcome, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
{
    super::apply::admit_and_change(
        session,
        spec,
        desired,
        Operation::Redeploy,
        &redeploy.plan_options(),
        gate,
        options,
    )
    .await
}
