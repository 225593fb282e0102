//! Asking a person before changing the cloud.
//!
//! Owns the confirmation rules (what a change risks is the engine's `Risk`): `--yes` skips
//! the question except where a protected
//! environment would lose something (destroy, replace, delete), which needs its name typed at
//! the prompt or passed as `--confirm ENV`; without a terminal and without the needed flags the
//! answer is a refusal that changes nothing.

use std::io::IsTerminal;

use dialoguer::{Confirm, Input};

use envctl_engine::ops::Risk;

use crate::errors::UserError;

/// Asks for confirmation; `Ok(false)` when the person declined.
pub fn confirm(
    environment: &str,
    question: &str,
    risk: Risk,
    yes: bool,
    confirm_flag: Option<&str>,
) -> anyhow::Result<bool> {
    if let Some(named) = confirm_flag {
        if named != environment {
            return Err(UserError::new(format!(
                "`--confirm {named}` does not name the environment being changed (`{environment}`)"
            ))
            .hint(format!("pass `--confirm {environment}`"))
            .into());
        }
        return Ok(true);
    }
    if yes && risk == Risk::Ordinary {
        return Ok(true);
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        let (message, hint) = match risk {
            Risk::Ordinary => (
                "refusing to change the cloud without confirmation: there is no terminal to ask on"
                    .to_string(),
                "pass `--yes` to confirm non-interactively".to_string(),
            ),
            Risk::ProtectedLoss => (
                format!(
                    "`{environment}` is protected and this would delete or replace resources; `--yes` alone is not enough"
                ),
                format!("pass `--confirm {environment}` to confirm non-interactively"),
            ),
        };
        return Err(UserError::new(message).hint(hint).into());
    }
    match risk {
        Risk::Ordinary => Ok(Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()?),
        Risk::ProtectedLoss => {
            let typed: String = Input::new()
                .with_prompt(format!(
                    "{question}\n`{environment}` is protected: type its name to confirm"
                ))
                .allow_empty(true)
                .interact_text()?;
            let typed = typed.trim();
            if typed == environment {
                return Ok(true);
            }
            crate::style::eprintln(&if typed.is_empty() {
                "nothing was typed, which does not match".to_string()
            } else {
                format!("`{typed}` does not match `{environment}`")
            });
            Ok(false)
        }
    }
}

/// Whether a prompt failed because Ctrl-C interrupted its read.
pub fn was_interrupted(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = match cause.downcast_ref::<dialoguer::Error>() {
            Some(dialoguer::Error::IO(io)) => Some(io),
            _ => cause.downcast_ref::<std::io::Error>(),
        };
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::Interrupted)
    })
}
