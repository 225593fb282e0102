//! `compliance`: the spec's `[compliance]` rules checked on the live cloud, where someone may
//! have opened a port by hand or turned monitoring off.
//!
//! Owns [`ComplianceReport`], [`live_violations`] and [`compliance`]. Invariants: the rules
//! are the spec's checker ([`envctl_spec::Compliance::check`]) run on live resources, so a
//! rule means the same before and after an apply; the resources checked are those the
//! environment owns and the unmanaged ones inside its network (a group someone made by hand
//! lets the internet in as well as an owned one); violations come out ranked, most severe
//! first. Read-only.

use envctl_spec::{ComplianceSeverity, DesiredState, Spec, Subject, Violation};
use serde::{Deserialize, Serialize};

use super::{LookupError, ReadError};
use crate::live::LiveState;
use crate::provider::{Environments, ReadDepth};

/// The rules one environment's live resources break.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceReport {
    pub environment: String,
    /// Ranked: most severe first, then by resource and rule.
    pub violations: Vec<Violation>,
    /// The rules the spec itself breaks there (what the environment would break once
    /// reconciled): a live violation among them is fixed in the spec, any other by
    /// `reconcile`.
    pub in_spec: Vec<Violation>,
}

impl ComplianceReport {
    /// The violations of `severity` or worse.
    pub fn at_least(&self, severity: ComplianceSeverity) -> impl Iterator<Item = &Violation> {
        self.violations
            .iter()
            .filter(move |v| v.severity >= severity)
    }

    /// How many violations are of exactly `severity`.
    pub fn count(&self, severity: ComplianceSeverity) -> usize {
        self.violations
            .iter()
            .filter(|v| v.severity == severity)
            .count()
    }

    /// Whether `violation` comes from the spec (editing the spec fixes it) rather than from a
    /// change made in the cloud (`reconcile` repairs it).
    pub fn from_spec(&self, violation: &Violation) -> bool {
        self.in_spec.iter().any(|v| {
            v.rule == violation.rule
                && v.resource == violation.resource
                && v.detail == violation.detail
        })
    }

    /// The most severe violation's severity; `None` when the environment complies.
    pub fn worst(&self) -> Option<ComplianceSeverity> {
        self.violations.iter().map(|v| v.severity).max()
    }
}

/// The rules `live` (the environment `desired` describes, read with unmanaged resources or
/// not) breaks, and those `desired` breaks.
pub fn live_violations(spec: &Spec, desired: &DesiredState, live: &LiveState) -> ComplianceReport {
    let subjects = live
        .resources
        .iter()
        .chain(&live.unmanaged)
        .map(|r| Subject {
            address: &r.address,
            fields: &r.fields,
        });
    ComplianceReport {
        environment: desired.environment.clone(),
        violations: spec
            .compliance()
            .check(&desired.environment, desired.protected, subjects),
        in_spec: spec
            .compliance_of(desired)
            .into_iter()
            .map(|(violation, _)| violation)
            .collect(),
    }
}

/// Reads each environment of `names` (with the unmanaged resources in its network) and checks
/// the spec's rules on it.
pub async fn compliance<E: Environments + ?Sized>(
    environments: &E,
    spec: &Spec,
    names: &[&str],
) -> Result<Vec<ComplianceReport>, LookupError> {
    let mut reports = Vec::new();
    for name in names {
        let desired = spec.expand(name)?;
        let live = super::read_live(
            environments.provider(name),
            &desired,
            ReadDepth::OwnedAndUnmanaged,
        )
        .await
        .map_err(|source| ReadError::of(name, source))?;
        reports.push(live_violations(spec, &desired, &live));
    }
    Ok(reports)
}
