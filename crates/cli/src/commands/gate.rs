//! The promotion gate and expired declared differences as the CLI meets them:
//! `--skip-promotion-gate --reason TEXT` and `--allow-expired REASON` turned into the
//! engine's `GateOptions`, and the gate's refusals into messages with hints.
//!
//! Owns [`options`] and [`gate_error`]. Invariant: every decision (blocked? overridden?
//! converged?) is `envctl_engine::ops::gate`'s; nothing here judges anything.

use envctl_engine::ops::{GateError, GateOptions};

use crate::args::GateArgs;
use crate::context::LoadedSpec;
use crate::errors::UserError;

/// The gate overrides the flags ask for.
pub fn options(gate: &GateArgs) -> GateOptions {
    let GateArgs {
        skip_promotion_gate,
        reason,
        allow_expired,
    } = gate;
    GateOptions {
        skip_promotion_gate: skip_promotion_gate.then(|| reason.clone().unwrap_or_default()),
        allow_expired: allow_expired.clone(),
    }
}

/// A gate's refusal (or a failure to check it) as a user-facing error.
pub fn gate_error(loaded: &LoadedSpec, error: GateError) -> anyhow::Error {
    match error {
        GateError::Read(error) => crate::commands::read_error(error),
        GateError::UnknownEnvironment(error) => crate::context::unknown_environment(loaded, error),
        error @ GateError::Expired { .. } => UserError::new(error.to_string())
            .hint("converge the environments and remove the entries, agree on new dates with their owners, or pass `--allow-expired REASON`")
            .into(),
        GateError::Unconverged { blocker } | GateError::Unverified { blocker } => {
            UserError::new(blocker.message)
                .hint(blocker.hint.unwrap_or_default())
                .into()
        }
        GateError::Verifications { environment, error } => {
            crate::lock::lock_error(*error, &environment)
                .context(format!("failed to read the verifications of `{environment}`"))
        }
    }
}
