//! `parity`: compare two live environments of one spec, and the documents their running
//! services report (`[[probes]]`).
//!
//! Owns [`compare`] (both reads run at once), [`compare_with_probes`], [`read_probes`] and
//! [`promotion_pairs`], the pairs a spec's `promote_from` settings make. Invariants: only the
//! spec's declared differences are excused; everything else that differs beyond scale is
//! reported; a probe that could not be read is reported with the comparison, never taken for
//! "no differences".

use std::collections::BTreeSet;

use envctl_spec::{DesiredState, Spec};

use super::{LookupError, ReadError, read_live};
use crate::parity::{ParityReport, compare_environments};
use crate::probe::{ProbeReading, ProbeSource};
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

/// The `(resource, field)` pairs the spec declares as differences.
fn declared(spec: &Spec) -> BTreeSet<(String, String)> {
    spec.differences()
        .iter()
        .map(|d| (d.resource.clone(), d.field.clone()))
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
    let declared = declared(spec);
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

/// Every `[[probes]]` document of the environment `desired` describes, read at once, in the
/// spec's order.
pub async fn read_probes<S: ProbeSource + ?Sized>(
    source: &S,
    spec: &Spec,
    desired: &DesiredState,
) -> Vec<ProbeReading> {
    futures::future::join_all(spec.probes().iter().map(|probe| {
        let url = probe.url_in(&desired.project, &desired.environment, &desired.region);
        async move { crate::probe::read(source, &probe.name, &desired.environment, &url).await }
    }))
    .await
}

/// Adds the probe differences of `from_probes` and `to_probes` (readings of the report's two
/// environments) to `report`: a difference per key, declared when the spec declares
/// `resource = "probe.NAME"` with that key as `field`. A reading that failed gives none (see
/// [`compare_with_probes`] for where it is reported).
pub fn add_probe_differences(
    report: &mut ParityReport,
    spec: &Spec,
    from_probes: &[ProbeReading],
    to_probes: &[ProbeReading],
) {
    let declared = declared(spec);
    let is_declared =
        |address: &str, field: &str| declared.contains(&(address.to_string(), field.to_string()));
    for from in from_probes {
        if let Some(to) = to_probes.iter().find(|to| to.probe == from.probe) {
            report
                .differences
                .extend(crate::probe::compare(from, to, &is_declared));
        }
    }
}

/// [`compare`], and the two environments' probe documents compared key by key.
pub async fn compare_with_probes<E: Environments + ?Sized, S: ProbeSource + ?Sized>(
    environments: &E,
    spec: &Spec,
    probes: &S,
    from: &str,
    to: &str,
) -> Result<ParityReport, LookupError> {
    let from_desired = spec.expand(from)?;
    let to_desired = spec.expand(to)?;
    let (report, from_probes, to_probes) = futures::join!(
        compare(environments, spec, from, to),
        read_probes(probes, spec, &from_desired),
        read_probes(probes, spec, &to_desired),
    );
    let mut report = report?;
    add_probe_differences(&mut report, spec, &from_probes, &to_probes);
    // A document that could not be read leaves parity unknown: it goes with the comparison.
    report.unreadable.extend(
        from_probes
            .into_iter()
            .chain(to_probes)
            .filter(|r| r.document.is_err()),
    );
    Ok(report)
}
