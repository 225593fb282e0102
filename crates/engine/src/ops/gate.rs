//! The gates a change passes before its plan is made: no declared difference it relies on
//! has expired, and an environment with `promote_from` is changed only once its upstream
//! environment has converged on the same spec (its plan is empty and it has no drift, so it
//! runs exactly the parity digest this spec gives every environment) and, with
//! `require_verified` (the default), holds a passed `envctl verify` of that digest taken of its
//! live state as it is now (so no change since).
//!
//! Owns [`expired_blockers`], [`enforce_expiry`], the promotion gate's [`state`] and
//! [`enforce`], and their overrides ([`GateOptions`]). Invariants: an override is never
//! silent: it is reported as an [`Event`] and recorded as a tag (`envctl:promotion-override`,
//! `envctl:expired-override`) on the environment's VPCs, with the date passed in; the upstream
//! environment is only read, never changed.

use envctl_spec::{CivilDate, DesiredState, Difference, ResourceKind, Spec, UnknownEnvironment};

use super::expiry::declared_differences;
use super::lock::{LockError, LockStore};
use super::verify::{Standing, Verification, latest_matching};
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
    /// Its upstream environment has converged on this spec (and `require_verified = false`).
    Converged,
    /// Its upstream has converged and holds a passed verification of this spec, taken of its
    /// live state as it is now.
    Verified(Box<Verification>),
    /// Its upstream has not converged: the blocker says what departs and how to get past it.
    Unconverged(Blocker),
    /// Its upstream has converged but holds no verification of this spec newer than its last
    /// change: the blocker says what is missing and how to get it.
    Unverified(Blocker),
}

impl GateState {
    /// The blocker, when the gate is closed.
    pub fn blocker(&self) -> Option<&Blocker> {
        match self {
            GateState::Unconverged(blocker) | GateState::Unverified(blocker) => Some(blocker),
            _ => None,
        }
    }
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
    /// The upstream environment has not passed a verification of this spec since its last
    /// change; the blocker says what is missing and how to get it.
    #[error("{}", blocker.message)]
    Unverified { blocker: Box<Blocker> },
    /// The upstream's verifications could not be read.
    #[error("failed to read the verifications of `{environment}`")]
    Verifications {
        environment: String,
        #[source]
        error: Box<LockError>,
    },
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

/// Reads the upstream environment of `desired` (read-only) and its verifications in `locks`,
/// and says whether the promotion gate would let a change through; `plan` shows it, the
/// mutating operations enforce it.
pub async fn state<E, L, R>(
    environments: &E,
    locks: &L,
    spec: &Spec,
    desired: &DesiredState,
    reporter: &R,
) -> Result<GateState, GateError>
where
    E: Environments + ?Sized,
    L: LockStore + ?Sized,
    R: Reporter + ?Sized,
{
    let Some(upstream) = desired.promote_from.clone() else {
        return Ok(GateState::NotPromoted);
    };
    let environment = &desired.environment;
    let upstream_desired = spec.expand(&upstream)?;
    // The upstream environment is read with its own provider (its account and region).
    let (_, report, live) =
        super::drift::drift_and_live(environments.provider(&upstream), &upstream_desired)
            .await
            .map_err(|source| ReadError::of(&upstream, source))?;
    if report.is_clean() {
        reporter.on_event(&Event::GateConverged {
            upstream: &upstream,
            parity_digest: &desired.parity_digest,
        });
        let required = spec
            .environment(environment)
            .is_some_and(|settings| settings.require_verified);
        if !required {
            return Ok(GateState::Converged);
        }
        let verifications = locks
            .verifications(&desired.project, &upstream)
            .await
            .map_err(|error| GateError::Verifications {
                environment: upstream.clone(),
                error: Box::new(error),
            })?;
        let standing = latest_matching(&verifications, &desired.parity_digest, &live.fingerprint());
        return Ok(verification_gate(
            environment,
            &upstream,
            &desired.parity_digest,
            standing,
            reporter,
        ));
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

/// The gate of `environment` once `upstream` has converged: open when `standing` is a
/// verification of this spec's live state, else closed with what is missing.
fn verification_gate<R: Reporter + ?Sized>(
    environment: &str,
    upstream: &str,
    parity_digest: &str,
    standing: Standing,
    reporter: &R,
) -> GateState {
    let hint = format!(
        "test `{upstream}` as it runs this spec and record it: `envctl verify {upstream} -- COMMAND` (a smoke test, a test suite), or pass `--skip-promotion-gate --reason TEXT`"
    );
    let blocker = |message: String| {
        GateState::Unverified(Blocker {
            address: None,
            kind: BlockerKind::Unverified,
            message,
            hint: Some(hint.clone()),
        })
    };
    let when = |v: &Verification| {
        format!(
            "{} by {} (`{}`)",
            super::lock::utc_time(v.at_unix),
            v.who,
            v.command
        )
    };
    match standing {
        Standing::Verified(verification) => {
            reporter.on_event(&Event::GateVerified {
                upstream,
                verification: &verification,
            });
            GateState::Verified(Box::new(verification))
        }
        Standing::Never => blocker(format!(
            "refusing to change `{environment}`: it is promoted from `{upstream}`, which has never been verified (`require_verified`)"
        )),
        Standing::OtherDigest(newest) => blocker(format!(
            "refusing to change `{environment}`: `{upstream}` was last verified at another spec: at parity digest {}, on {}; this spec's digest is {parity_digest}",
            newest.parity_digest,
            when(&newest)
        )),
        Standing::Stale(verification) => blocker(format!(
            "refusing to change `{environment}`: the verification of `{upstream}` on {} is older than `{upstream}`'s last change (its live state differs from what was tested)",
            when(&verification)
        )),
    }
}

/// Refuses to go on unless `desired`'s upstream environment has converged (and, with
/// `require_verified`, passed a verification of this spec since its last change), or the gate
/// is skipped with a reason (reported, and added to the VPCs' tags in `desired`).
pub async fn enforce<E, L, R>(
    environments: &E,
    locks: &L,
    spec: &Spec,
    desired: &mut DesiredState,
    skip_reason: Option<&str>,
    today: CivilDate,
    reporter: &R,
) -> Result<(), GateError>
where
    E: Environments + ?Sized,
    L: LockStore + ?Sized,
    R: Reporter + ?Sized,
{
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
    match state(environments, locks, spec, desired, reporter).await? {
        GateState::Unconverged(blocker) => Err(GateError::Unconverged {
            blocker: Box::new(blocker),
        }),
        GateState::Unverified(blocker) => Err(GateError::Unverified {
            blocker: Box::new(blocker),
        }),
        GateState::NotPromoted | GateState::Converged | GateState::Verified(_) => Ok(()),
    }
}

/// Both gates in order: expiry (no call), then promotion (reads the upstream environment and
/// its verifications).
pub async fn admit<E, L, R>(
    environments: &E,
    locks: &L,
    spec: &Spec,
    desired: &mut DesiredState,
    options: &GateOptions,
    today: CivilDate,
    reporter: &R,
) -> Result<(), GateError>
where
    E: Environments + ?Sized,
    L: LockStore + ?Sized,
    R: Reporter + ?Sized,
{
    enforce_expiry(
        spec.differences(),
        desired,
        options.allow_expired.as_deref(),
        today,
        reporter,
    )?;
    enforce(
        environments,
        locks,
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
