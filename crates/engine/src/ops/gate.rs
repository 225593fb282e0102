//! The gates a change passes before its plan is made: no declared difference it relies on
//! has expired, and an environment with `promote_from` is changed only once its upstream
//! environment has converged on the same spec (its plan is empty and it has no drift, so it
//! runs exactly the parity digest this spec gives every environment).
//!
//! Owns [`expired_blockers`], [`enforce_expiry`], the promotion gate's [`state`] and
//! [`enforce`], and their overrides ([`GateOptions`]). Invariants: an override is never
//! silent: it is reported as an [`Event`] and recorded as a tag (`envctl:promotion-override`,
//! `envctl:expired-override`) on the environment's VPCs, with the date passed in; the upstream
//! environment is only read, never changed.

use envctl_spec::{CivilDate, DesiredState, Difference, ResourceKind, Spec, UnknownEnvironment};

use super::expiry::declared_differences;
use super::{Event, ReadError};
use crate::drift::DriftKind;
use crate::execute::Reporter;
use crate::plan::{Blocker, BlockerKind};
use crate::provider::Environments;

/// The tag recording why a promotion gate was skipped.
pub const OVERRIDE_TAG: &str = "envctl:promotion-override";

/// The tag recording why an environment was changed despite an expired declared difference.
pub const EXPIRED_OVERRIDE_TAG: &str = "envctl:expired-override";

/// The overrides of the gates, each with the reason it is recorded with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateOptions {
    /// Skip the promotion gate (`--skip-promotion-gate --reason TEXT`).
    pub skip_promotion_gate: Option<String>,
    /// Change the environment although a declared difference it relies on has expired
    /// (`--allow-expired REASON`).
    pub allow_expired: Option<String>,
}

/// Where the promotion gate of an environment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateState {
    /// The environment has no `promote_from`.
    NotPromoted,
    /// Its upstream environment has converged on this spec.
    Converged,
    /// Its upstream has not: the blocker says what is unconverged and how to get past it.
    Unconverged(Blocker),
}

/// Why a gate refused a change (or could not be checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// A live state the check needs could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The upstream environment is not in the spec.
    #[error(transparent)]
    UnknownEnvironment(#[from] UnknownEnvironment),
    /// Declared differences `environment` relies on have expired, and no override was given.
    #[error("{}", expired_message(environment, blockers))]
    Expired {
        environment: String,
        blockers: Vec<Blocker>,
    },
    /// The upstream environment has not converged; the blocker says what departs and how to
    /// get past it.
    #[error("{}", blocker.message)]
    Unconverged { blocker: Box<Blocker> },
}

fn expired_message(environment: &str, blockers: &[Blocker]) -> String {
    let mut message = format!(
        "refusing to change `{environment}`: {} declared difference{} it relies on ha{} expired:",
        blockers.len(),
        if blockers.len() == 1 { "" } else { "s" },
        if blockers.len() == 1 { "s" } else { "ve" }
    );
    for blocker in blockers {
        message.push_str(&format!("\n  {}", blocker.message));
    }
    message
}

/// One blocker per declared difference naming `environment` that has expired by `today`:
/// read-only commands report them, changing commands refuse unless overridden.
pub fn expired_blockers(
    differences: &[Difference],
    environment: &str,
    today: CivilDate,
) -> Vec<Blocker> {
    declared_differences(differences, today)
        .into_iter()
        .filter(|d| d.status.is_expired() && d.concerns(environment))
        .map(|judged| {
            let d = &judged.difference;
            Blocker {
                address: d.resource.parse().ok(),
                kind: BlockerKind::ExpiredDifference,
                message: format!(
                    "the declared difference in `{}` of `{}` expired on {} ({} days ago; owner `{}`)",
                    d.field,
                    d.resource,
                    d.expires,
                    -judged.status.days_left(),
                    d.owner
                ),
                hint: Some(format!(
                    "converge the environments and remove the entry, agree on a new date with `{}`, or change `{environment}` anyway with `--allow-expired REASON`",
                    d.owner
                )),
            }
        })
        .collect()
}

/// Refuses to change `desired` while a difference it relies on has expired, unless
/// `allow_expired` gives a reason (reported, and recorded as a tag on its VPCs).
pub fn enforce_expiry<R: Reporter + ?Sized>(
    differences: &[Difference],
    desired: &mut DesiredState,
    allow_expired: Option<&str>,
    today: CivilDate,
    reporter: &R,
) -> Result<(), GateError> {
    let blockers = expired_blockers(differences, &desired.environment, today);
    if blockers.is_empty() {
        return Ok(());
    }
    let Some(reason) = allow_expired else {
        return Err(GateError::Expired {
            environment: desired.environment.clone(),
            blockers,
        });
    };
    reporter.on_event(&Event::ExpiredAllowed {
        environment: &desired.environment,
        expired: blockers.len(),
        reason,
    });
    tag_vpcs(
        desired,
        EXPIRED_OVERRIDE_TAG,
        &format!("{reason} - allowed on {today}"),
    );
    Ok(())
}

/// Reads the upstream environment of `desired` (read-only) and says whether the promotion
/// gate would let a change through; `plan` shows it, the mutating operations enforce it.
pub async fn state<E: Environments + ?Sized, R: Reporter + ?Sized>(
    environments: &E,
    spec: &Spec,
    desired: &DesiredState,
    reporter: &R,
) -> Result<GateState, GateError> {
    let Some(upstream) = desired.promote_from.clone() else {
        return Ok(GateState::NotPromoted);
    };
    let environment = &desired.environment;
    let upstream_desired = spec.expand(&upstream)?;
    // The upstream environment is read with its own provider (its account and region).
    let (_, report) = super::drift(environments.provider(&upstream), &upstream_desired)
        .await
        .map_err(|source| ReadError::of(&upstream, source))?;
    if report.is_clean() {
        reporter.on_event(&Event::GateConverged {
            upstream: &upstream,
            parity_digest: &desired.parity_digest,
        });
        return Ok(GateState::Converged);
    }
    let mut message = format!(
        "refusing to change `{environment}`: it is promoted from `{upstream}`, which has not converged on this spec ({} departure{}):",
        report.drift.len(),
        if report.drift.len() == 1 { "" } else { "s" }
    );
    for entry in report.drift.iter().take(10) {
        let kind = match entry.kind() {
            DriftKind::Modified => "modified",
            DriftKind::Missing => "missing",
            DriftKind::Unmanaged => "unmanaged",
        };
        let fields: Vec<&str> = entry.fields().iter().map(|f| f.field.as_str()).collect();
        message.push_str(&format!("\n  {kind:<9} {}", entry.address));
        if !fields.is_empty() {
            message.push_str(&format!(" ({})", fields.join(", ")));
        }
    }
    if report.drift.len() > 10 {
        message.push_str(&format!("\n  ... and {} more", report.drift.len() - 10));
    }
    Ok(GateState::Unconverged(Blocker {
        address: None,
        kind: BlockerKind::PromotionGate,
        message,
        hint: Some(format!(
            "bring `{upstream}` to this spec first (`envctl apply {upstream}` or `envctl reconcile {upstream}`), or pass `--skip-promotion-gate --reason TEXT`"
        )),
    }))
}

/// Refuses to go on unless `desired`'s upstream environment has converged, or the gate is
/// skipped with a reason (reported, and added to the VPCs' tags in `desired`).
pub async fn enforce<E: Environments + ?Sized, R: Reporter + ?Sized>(
    environments: &E,
    spec: &Spec,
    desired: &mut DesiredState,
    skip_reason: Option<&str>,
    today: CivilDate,
    reporter: &R,
) -> Result<(), GateError> {
    let Some(upstream) = desired.promote_from.clone() else {
        return Ok(());
    };
    if let Some(reason) = skip_reason {
        reporter.on_event(&Event::GateSkipped {
            environment: &desired.environment,
            upstream: &upstream,
            reason,
        });
        tag_vpcs(
            desired,
            OVERRIDE_TAG,
            &format!("{reason} - skipped on {today}"),
        );
        return Ok(());
    }
    match state(environments, spec, desired, reporter).await? {
        GateState::Unconverged(blocker) => Err(GateError::Unconverged {
            blocker: Box::new(blocker),
        }),
        GateState::NotPromoted | GateState::Converged => Ok(()),
    }
}

/// Both gates in order: expiry (no call), then promotion (reads the upstream environment).
pub async fn admit<E: Environments + ?Sized, R: Reporter + ?Sized>(
    environments: &E,
    spec: &Spec,
    desired: &mut DesiredState,
    options: &GateOptions,
    today: CivilDate,
    reporter: &R,
) -> Result<(), GateError> {
    enforce_expiry(
        spec.differences(),
        desired,
        options.allow_expired.as_deref(),
        today,
        reporter,
    )?;
    enforce(
        environments,
        spec,
        desired,
        options.skip_promotion_gate.as_deref(),
        today,
        reporter,
    )
    .await
}

/// Records `text` as the tag `key` on every VPC of `desired`.
fn tag_vpcs(desired: &mut DesiredState, key: &str, text: &str) {
    let value = tag_value(text);
    for resource in &mut desired.resources {
        if resource.kind == ResourceKind::Vpc {
            resource.tags.insert(key.to_string(), value.clone());
        }
    }
}

/// A tag value AWS accepts everywhere: letters, digits, spaces and `_ . : / = + - @`, at most
/// 256 characters.
pub fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_reasons_become_valid_tag_values() {
        assert_eq!(
            tag_value("hotfix #123, approved by ops!"),
            "hotfix  123  approved by ops "
        );
        assert_eq!(tag_value(&"x".repeat(300)).len(), 256);
    }
}
