//! `audit`: drift of every environment, parity of every promotion pair (live resources and
//! `[[probes]]` documents), the `[compliance]` rules on the live cloud, declared differences
//! that expire soon or have expired, and each environment's latest verification, in one
//! report for scheduled jobs. Read-only.
//!
//! Owns [`Audit`], [`AuditPlace`], [`AuditFinding`] and [`audit`]. Invariants: each
//! environment is read once (drift and compliance come from the same read); an expired
//! difference or an unreachable probe is a finding, never a reason to stop the audit; a
//! finding is one drift entry, one note the cloud forced on the spec (an engine AWS upgraded),
//! one undeclared parity difference, one unreadable probe, one compliance violation, or one
//! declared difference that is expiring or expired, so [`Audit::findings_at`] counts what
//! someone has to act on.

use envctl_spec::{CivilDate, ComplianceSeverity, Spec, Violation};
use serde::{Deserialize, Serialize};

use super::compliance::{ComplianceReport, live_violations};
use super::expiry::{DeclaredDifference, declared_differences};
use super::lock::LockStore;
use super::verify::Verification;
use super::{LookupError, ReadError};
use crate::drift::{DriftEntry, DriftReport};
use crate::parity::{ParityDifference, ParityReport};
use crate::probe::{ProbeReading, ProbeSource};
use crate::provider::{Environments, Note};

/// Where one environment lives, as the audit read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPlace {
    pub environment: String,
    /// The account the cloud answered from; else the spec's; `None` when neither says.
    pub account: Option<String>,
    pub region: String,
    /// Whether the environment is protected.
    pub protected: bool,
    /// The environment it is promoted from, if any.
    pub promote_from: Option<String>,
}

/// Everything a scheduled audit found.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    /// The project audited.
    pub project: String,
    /// The spec's parity digest (what a verification must be at to count).
    pub parity_digest: String,
    /// Every environment, in the spec's order.
    pub places: Vec<AuditPlace>,
    /// One report per environment, in the spec's order.
    pub drift: Vec<DriftReport>,
    /// One report per promotion pair; empty when no environment has `promote_from`.
    pub parity: Vec<ParityReport>,
    /// How many `[compliance]` rules the spec turns on (0: none to check).
    pub compliance_rules: usize,
    /// One report per environment, in the spec's order.
    pub compliance: Vec<ComplianceReport>,
    /// Every probe of every environment, in the spec's order.
    pub probes: Vec<ProbeReading>,
    /// Every declared difference, judged against the audit's date.
    pub differences: Vec<DeclaredDifference>,
    /// The newest verification of each environment (`envctl verify`), in the spec's order;
    /// `None` for one never verified (or whose records could not be read: an audit reports,
    /// it does not stop).
    pub verifications: Vec<(String, Option<Verification>)>,
    /// The environments that hold a verification at this spec's digest taken of their live
    /// state as the audit read it (what a promotion gate would accept now).
    pub verified_now: Vec<String>,
}

/// One thing an audit asks someone to act on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AuditFinding<'a> {
    /// An environment departs from the spec.
    Drift {
        environment: &'a str,
        entry: &'a DriftEntry,
    },
    /// The cloud differs from the spec in a way envctl leaves alone (an engine version AWS
    /// upgraded): the spec should say what runs.
    Note {
        environment: &'a str,
        note: &'a Note,
    },
    /// Two environments differ in something nobody declared.
    Undeclared {
        from: &'a str,
        to: &'a str,
        difference: &'a ParityDifference,
    },
    /// A probe document could not be read, so its environment cannot be compared.
    Unreadable(&'a ProbeReading),
    /// A compliance rule is broken on the live cloud.
    Compliance(&'a Violation),
    /// A declared difference is expiring or has expired.
    Expiry(&'a DeclaredDifference),
}

impl Audit {
    /// Every finding: drift entries and notes, undeclared parity differences, unreadable
    /// probes, compliance violations (most severe first), then expiring or expired differences.
    pub fn each_finding(&self) -> impl Iterator<Item = AuditFinding<'_>> {
        let drift = self.drift.iter().flat_map(|report| {
            let entries = report.drift.iter().map(|entry| AuditFinding::Drift {
                environment: &report.environment,
                entry,
            });
            let notes = report.notes.iter().map(|note| AuditFinding::Note {
                environment: &report.environment,
                note,
            });
            entries.chain(notes)
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
        let unreadable = self
            .probes
            .iter()
            .filter(|r| r.document.is_err())
            .map(AuditFinding::Unreadable);
        let compliance = self
            .compliance
            .iter()
            .flat_map(|report| report.violations.iter().map(AuditFinding::Compliance));
        let expiry = self
            .differences
            .iter()
            .filter(|d| d.status.needs_attention())
            .map(AuditFinding::Expiry);
        drift
            .chain(parity)
            .chain(unreadable)
            .chain(compliance)
            .chain(expiry)
    }

    /// How many findings there are (0: nothing to act on).
    pub fn findings(&self) -> usize {
        self.each_finding().count()
    }

    /// How many findings count when only compliance violations of `fail_on` or worse do: a
    /// note the cloud forced counts as `low`; every other finding always counts.
    pub fn findings_at(&self, fail_on: ComplianceSeverity) -> usize {
        self.each_finding()
            .filter(|finding| match finding {
                AuditFinding::Compliance(v) => v.severity >= fail_on,
                AuditFinding::Note { .. } => fail_on == ComplianceSeverity::Low,
                _ => true,
            })
            .count()
    }

    /// The compliance report of `environment`.
    pub fn compliance_of(&self, environment: &str) -> Option<&ComplianceReport> {
        self.compliance
            .iter()
            .find(|r| r.environment == environment)
    }

    /// The drift report of `environment`.
    pub fn drift_of(&self, environment: &str) -> Option<&DriftReport> {
        self.drift.iter().find(|r| r.environment == environment)
    }

    /// The parity report whose `to` is `environment` (its comparison with its promotion
    /// source).
    pub fn parity_into(&self, environment: &str) -> Option<&ParityReport> {
        self.parity.iter().find(|r| r.to == environment)
    }

    /// The probe readings of `environment`.
    pub fn probes_of<'a>(&'a self, environment: &'a str) -> impl Iterator<Item = &'a ProbeReading> {
        self.probes
            .iter()
            .filter(move |r| r.environment == environment)
    }

    /// The declared differences that name `environment` among their values.
    pub fn differences_of<'a>(
        &'a self,
        environment: &'a str,
    ) -> impl Iterator<Item = &'a DeclaredDifference> {
        self.differences
            .iter()
            .filter(move |d| d.concerns(environment))
    }
}

/// Reads every environment of `spec` deeply (once each: drift and compliance), reads its
/// probes from `probes`, compares each promotion pair (resources and probe documents), and
/// judges the declared differences against `today`.
pub async fn audit<E, L, S>(
    environments: &E,
    locks: &L,
    spec: &Spec,
    probes: &S,
    today: CivilDate,
) -> Result<Audit, LookupError>
where
    E: Environments + ?Sized,
    L: LockStore + ?Sized,
    S: ProbeSource + ?Sized,
{
    let mut places = Vec::new();
    let mut drift = Vec::new();
    let mut compliance = Vec::new();
    let mut readings = Vec::new();
    let mut verifications = Vec::new();
    let mut verified_now = Vec::new();
    let mut project = String::new();
    for name in spec.environment_names() {
        let desired = spec.expand(name)?;
        project.clone_from(&desired.project);
        let (drifted, probe_readings) = futures::join!(
            super::drift::drift_and_live(environments.provider(name), &desired),
            super::parity::read_probes(probes, spec, &desired),
        );
        let (_, report, live) = drifted.map_err(|source| ReadError::of(name, source))?;
        places.push(AuditPlace {
            environment: name.to_string(),
            account: live.account.clone().or_else(|| desired.account_id.clone()),
            region: live
                .region
                .clone()
                .unwrap_or_else(|| desired.region.clone()),
            protected: desired.protected,
            promote_from: desired.promote_from.clone(),
        });
        compliance.push(live_violations(spec, &desired, &live));
        drift.push(report);
        readings.extend(probe_readings);
        // A store that cannot be read is no finding of its own: the audit says "never".
        let found = locks
            .verifications(&desired.project, name)
            .await
            .unwrap_or_default();
        if matches!(
            super::verify::latest_matching(&found, &desired.parity_digest, &live.fingerprint()),
            super::verify::Standing::Verified(_)
        ) {
            verified_now.push(name.to_string());
        }
        verifications.push((name.to_string(), found.into_iter().next()));
    }
    let mut parity = Vec::new();
    for (from, to) in super::parity::promotion_pairs(spec) {
        let mut report = super::parity::compare(environments, spec, &from, &to).await?;
        let of = |environment: &str| -> Vec<ProbeReading> {
            readings
                .iter()
                .filter(|r| r.environment == environment)
                .cloned()
                .collect()
        };
        // (An unreadable probe is a finding of its own environment, not of the pair.)
        super::parity::add_probe_differences(&mut report, spec, &of(&from), &of(&to));
        parity.push(report);
    }
    Ok(Audit {
        project,
        parity_digest: spec.parity_digest().to_string(),
        places,
        drift,
        parity,
        compliance_rules: spec.compliance().rules.len(),
        compliance,
        probes: readings,
        differences: declared_differences(spec.differences(), today),
        verifications,
        verified_now,
    })
}
