//! `parity`: compare two live environments of one spec.
//!
//! Owns [`compare`] (both reads run at once) and [`promotion_pairs`], the pairs a spec's
//! `promote_from` settings make. Invariant: only the spec's declared differences are
//! excused; everything else that differs beyond scale is reported.

use std::collections::BTreeSet;

use envctl_spec::Spec;

use super::{LookupError, ReadError, read_live};
use crate::parity::{ParityReport, compare_environments};
use crate::provider::{Environments, ReadDepth};

/// Each environment with a `promote_from`, as `(from, to)`, in the spec's order.
pub fn promotion_pairs(spec: &Spec) -> Vec<(String, String)> {
    spec.environment_names()
        .into_iter()
        .filter_map(|name| {
            let settings = spec.environment(name)?;
            Some((settings.promote_from.clone()?, name.to_string()))
        })
        .collect()
}

/// Reads both environments, each with its own provider (its account and region), and
/// compares them.
pub async fn compare<E: Environments + ?Sized>(
    environments: &E,
    spec: &Spec,
    from: &str,
    to: &str,
) -> Result<ParityReport, LookupError> {
    let declared: BTreeSet<(String, String)> = spec
        .differences()
        .iter()
        .map(|d| (d.resource.clone(), d.field.clone()))
        .collect();
    let from_desired = spec.expand(from)?;
    let to_desired = spec.expand(to)?;
    let (from_live, to_live) = futures::try_join!(
        read_live(environments.provider(from), &from_desired, ReadDepth::Owned),
        read_live(environments.provider(to), &to_desired, ReadDepth::Owned),
    )
    .map_err(|source| ReadError {
        environments: vec![from.to_string(), to.to_string()],
        source,
    })?;
    Ok(compare_environments(
        from, &from_live, to, &to_live, &declared,
    ))
}
