//! `destroy`: delete everything an environment owns, in reverse dependency order.
//!
//! Owns [`destroy`]. Invariants: only a destroy lifts deletion protection (after
//! confirmation; a protected environment needs its name); it passes no promotion gate and no
//! expiry check (removing an environment never makes it depart further from the spec); a
//! failed destroy is not rolled back: running it again finishes it.

use envctl_spec::DesiredState;

use super::change::{ChangeError, ChangeOptions, ChangeOutcome, Frontend, Session, change};
use super::lock::LockStore;
use super::{Operation, ReadError};
use crate::provider::Environments;

/// Plans deleting everything `desired`'s environment owns, confirms, and deletes it.
pub async fn destroy<P, L, F>(
    session: Session<'_, P, L, F>,
    desired: &DesiredState,
    options: &ChangeOptions,
) -> Result<ChangeOutcome, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
{
    change(session, Operation::Destroy, desired, options, || async {
        super::plan_destroy(session.environments.provider(&desired.environment), desired)
            .await
            .map_err(|source| ReadError::of(&desired.environment, source).into())
    })
    .await
}
