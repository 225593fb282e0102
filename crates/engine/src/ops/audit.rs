//! `audit`: drift of every environment, parity of every promotion pair, and declared
//! differences that expire soon or have expired, in one report for scheduled jobs. Read-only.
//!
//! Owns [`Audit`], [`AuditFinding`] and [`audit`]. Invariants: an expired difference is a
//! finding, never a reason to stop the audit; a finding is one drift entry, one undeclared
//! parity difference, or one declared difference that is expiring or expired, so
//! [`Audit::findings`] counts what someone has to act on.

use envctl_spec::{CivilDate, Spec};

use super::expiry::{DeclaredDifference, declared_differences};
use super::{LookupError, ReadError};
use crate::drift::{DriftEntry, DriftReport};
use crate::parity::{ParityDifference, ParityReport};
use crate::provider::Environments;

/// Everything a scheduled audit found.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    /// One report per environment, in the spec's order.
    pub drift: Vec<DriftReport>,
    /// One report per promotion pair; empty when no environment has `promote_from`.
    pub parity: Vec<ParityReport>,
    /// Every declared difference, judged against the audit's date.
    pub differences: Vec<DeclaredDifference>,
}

/// One thing an audit asks someone to act on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AuditFinding<'a> {
    /// An environment departs from the spec.
    Drift {
        environment: &'a str,
        entry: &'a DriftEntry,
    },
    /// Two environments differ in something nobody declared.
    Undeclared {
        from: &'a str,
        to: &'a str,
        difference: &'a ParityDifference,
    },
    /// A declared difference is expiring or has expired.
    Expiry(&'a DeclaredDifference),
}

impl Audit {
    /// Every finding: drift entries, undeclared parity differences, then expiring or expired
    /// differences.
    pub fn each_finding(&self) -> impl Iterator<Item = AuditFinding<'_>> {
        let drift = self.drift.iter().flat_map(|report| {
            report.drift.iter().map(|entry| AuditFinding::Drift {
                environment: &report.environment,
                entry,
            })
        });
        let parity = self.parity.iter().flat_map(|report| {
            report
                .undeclared()
                .map(|difference| AuditFinding::Undeclared {
                    from: &report.from,
                    to: &report.to,
                    difference,
                })
        });
        let expiry = self
            .differences
            .iter()
            .filter(|d| d.status.needs_attention())
            .map(AuditFinding::Expiry);
        drift.chain(parity).chain(expiry)
    }

    /// How many findings there are (0: nothing to act on).
    pub fn findings(&self) -> usize {
        self.each_finding().count()
    }
}

/// Reads every environment of `spec` deeply, compares each promotion pair, and judges the
/// declared differences against `today`.
pub async fn audit<E: Environments + ?Sized>(
    environments: &E,
    spec: &Spec,
    today: CivilDate,
) -> Result<Audit, LookupError> {
    let mut drift = Vec::new();
    for name in spec.environment_names() {
        let desired = spec.expand(name)?;
        let (_, report) = super::drift(environments.provider(name), &desired)
            .await
            .map_err(|source| ReadError::of(name, source))?;
        drift.push(report);
    }
    let mut parity = Vec::new();
    for (from, to) in super::parity::promotion_pairs(spec) {
        parity.push(super::parity::compare(environments, spec, &from, &to).await?);
    }
    Ok(Audit {
        drift,
        parity,
        differences: declared_differences(spec.differences(), today),
    })
}
