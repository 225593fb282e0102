//! The promotion gate: an environment with `promote_from` is changed only once its upstream
//! environment has converged on the same spec (its plan is empty and it has no drift, so it
//! runs exactly the parity digest this spec gives every environment).
//!
//! Owns the check and its override. Invariant: an override is never silent: its reason is
//! printed and recorded as the `envctl:promotion-override` tag on the environment's VPCs.

use envctl_engine::{DriftKind, ops};
use envctl_providers::AwsProvider;
use envctl_spec::{DesiredState, ResourceKind};

use crate::args::GateArgs;
use crate::commands::cloud_error;
use crate::context::{LoadedSpec, expand, today};
use crate::errors::UserError;

/// The tag recording why a promotion gate was skipped.
pub const OVERRIDE_TAG: &str = "envctl:promotion-override";

/// The tag recording why an environment was changed despite an expired declared difference.
pub const EXPIRED_OVERRIDE_TAG: &str = "envctl:expired-override";

/// One blocker per declared difference naming `environment` that has expired: read-only
/// commands report them, changing commands refuse unless `--allow-expired REASON`.
pub fn expired_blockers(loaded: &LoadedSpec, environment: &str) -> Vec<envctl_engine::Blocker> {
    envctl_engine::ops::declared_differences(loaded.spec.differences(), today())
        .into_iter()
        .filter(|d| d.status.is_expired() && d.concerns(environment))
        .map(|judged| {
            let d = &judged.difference;
            envctl_engine::Blocker {
            address: d.resource.parse().ok(),
            kind: envctl_engine::BlockerKind::ExpiredDifference,
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
        }})
        .collect()
}

/// Refuses to change `desired` while a difference it relies on has expired, unless
/// `--allow-expired REASON` (printed, and recorded as a tag on its VPCs).
pub fn enforce_expiry(
    loaded: &LoadedSpec,
    desired: &mut DesiredState,
    gate: &GateArgs,
) -> anyhow::Result<()> {
    let blockers = expired_blockers(loaded, &desired.environment);
    if blockers.is_empty() {
        return Ok(());
    }
    let Some(reason) = &gate.allow_expired else {
        let mut message = format!(
            "refusing to change `{}`: {} declared difference{} it relies on ha{} expired:",
            desired.environment,
            blockers.len(),
            if blockers.len() == 1 { "" } else { "s" },
            if blockers.len() == 1 { "s" } else { "ve" }
        );
        for blocker in &blockers {
            message.push_str(&format!("\n  {}", blocker.message));
        }
        return Err(UserError::new(message)
            .hint("converge the environments and remove the entries, agree on new dates with their owners, or pass `--allow-expired REASON`")
            .into());
    };
    crate::style::eprintln(&format!(
        "warning: changing `{}` although {} declared difference{} expired: {reason}",
        desired.environment,
        blockers.len(),
        if blockers.len() == 1 {
            " has"
        } else {
            "s have"
        }
    ));
    let value = tag_value(&format!("{reason} - allowed on {}", today()));
    for resource in &mut desired.resources {
        if resource.kind == ResourceKind::Vpc {
            resource
                .tags
                .insert(EXPIRED_OVERRIDE_TAG.to_string(), value.clone());
        }
    }
    Ok(())
}

/// Refuses to go on unless `desired`'s upstream environment has converged, or the gate is
/// skipped with a reason (which is then added to the VPCs' tags in `desired`).
pub async fn enforce(
    loaded: &LoadedSpec,
    desired: &mut DesiredState,
    provider: &AwsProvider,
    gate: &GateArgs,
) -> anyhow::Result<()> {
    let Some(upstream) = desired.promote_from.clone() else {
        return Ok(());
    };
    let environment = desired.environment.clone();
    if gate.skip_promotion_gate {
        let reason = gate.reason.clone().unwrap_or_default();
        crate::style::eprintln(&format!(
            "warning: skipping the promotion gate of `{environment}` (promoted from `{upstream}`): {reason}"
        ));
        let value = tag_value(&format!("{reason} - skipped on {}", today()));
        for resource in &mut desired.resources {
            if resource.kind == ResourceKind::Vpc {
                resource
                    .tags
                    .insert(OVERRIDE_TAG.to_string(), value.clone());
            }
        }
        return Ok(());
    }
    match state(loaded, desired, provider).await? {
        GateState::Unconverged(blocker) => Err(UserError::new(blocker.message)
            .hint(blocker.hint.unwrap_or_default())
            .into()),
        GateState::NotPromoted | GateState::Converged => Ok(()),
    }
}

/// Where the promotion gate of an environment stands.
#[derive(Debug)]
pub enum GateState {
    /// The environment has no `promote_from`.
    NotPromoted,
    /// Its upstream environment has converged on this spec.
    Converged,
    /// Its upstream has not: the blocker says what is unconverged and how to get past it.
    Unconverged(envctl_engine::Blocker),
}

/// Reads the upstream environment of `desired` (read-only) and says whether the promotion
/// gate would let a change through; `plan` shows it, the mutating commands enforce it.
pub async fn state(
    loaded: &LoadedSpec,
    desired: &DesiredState,
    provider: &AwsProvider,
) -> anyhow::Result<GateState> {
    let Some(upstream) = desired.promote_from.clone() else {
        return Ok(GateState::NotPromoted);
    };
    let environment = desired.environment.clone();
    let upstream_desired = expand(loaded, &upstream)?;
    let (_, report) = ops::drift(provider, &upstream_desired)
        .await
        .map_err(|e| cloud_error(e, format!("failed to read the live state of `{upstream}`")))?;
    if report.is_clean() {
        eprintln!(
            "promotion gate: `{upstream}` has converged on this spec (parity digest {})",
            desired.parity_digest
        );
        return Ok(GateState::Converged);
    }
    let mut message = format!(
        "refusing to change `{environment}`: it is promoted from `{upstream}`, which has not converged on this spec ({} departure{}):",
        report.drift.len(),
        if report.drift.len() == 1 { "" } else { "s" }
    );
    for entry in report.drift.iter().take(10) {
        let kind = match entry.kind {
            DriftKind::Modified => "modified",
            DriftKind::Missing => "missing",
            DriftKind::Unmanaged => "unmanaged",
        };
        let fields: Vec<&str> = entry.fields.iter().map(|f| f.field.as_str()).collect();
        message.push_str(&format!("\n  {kind:<9} {}", entry.address));
        if !fields.is_empty() {
            message.push_str(&format!(" ({})", fields.join(", ")));
        }
    }
    if report.drift.len() > 10 {
        message.push_str(&format!("\n  ... and {} more", report.drift.len() - 10));
    }
    Ok(GateState::Unconverged(envctl_engine::Blocker {
        address: None,
        kind: envctl_engine::BlockerKind::PromotionGate,
        message,
        hint: Some(format!(
            "bring `{upstream}` to this spec first (`envctl apply {upstream}` or `envctl reconcile {upstream}`), or pass `--skip-promotion-gate --reason TEXT`"
        )),
    }))
}

/// A tag value AWS accepts everywhere: letters, digits, spaces and `_ . : / = + - @`, at most
/// 256 characters.
fn tag_value(text: &str) -> String {
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
