//! How the binary reports failure: hints, exit codes, and the error rendering.
//!
//! Owns [`UserError`] (a message with a hint, for mistakes a user can fix), [`Reported`]
//! (a failure whose details were already printed), [`Outcome`] (what a successful command
//! tells the exit code), and [`render_error`]. Invariant: the exit code is decided here and
//! in `main` only.

use std::fmt;

/// A failure the user can fix, with the hint that says how.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// A failure already explained on stderr (spec diagnostics, an apply summary): exit with
/// `code` and print nothing more.
#[derive(Debug)]
pub struct Reported {
    pub code: u8,
}

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed (exit code {})", self.code)
    }
}

impl std::error::Error for Reported {}

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, nothing to report through the exit code.
    Success,
    /// Done, and there are changes (or drift) pending: exit code 2 where the command's
    /// contract says so.
    ChangesPending,
    /// A command envctl ran (`envctl verify ENV -- COMMAND`) failed with this exit code,
    /// which becomes envctl's.
    Exited(u8),
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::ChangesPending => 2,
            Outcome::Exited(code) => code,
        }
    }
}

/// The exit code of an already reported failure, if `error` is one.
pub fn already_reported(error: &anyhow::Error) -> Option<u8> {
    error.downcast_ref::<Reported>().map(|r| r.code)
}

/// True when the error is a closed stdout (`envctl plan | head`): not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `error: …`, then `Caused by:` with each cause, then the first hint found in the chain.
pub fn render_error(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}\n");
    let causes: Vec<String> = error.chain().skip(1).map(ToString::to_string).collect();
    if !causes.is_empty() {
        text.push_str("\nCaused by:\n");
        for cause in causes {
            text.push_str(&format!("  {cause}\n"));
        }
    }
    // The outermost context is found by anyhow's own downcast; deeper ones through the chain.
    let hint = error
        .downcast_ref::<UserError>()
        .and_then(|u| u.hint.clone())
        .or_else(|| {
            error.chain().find_map(|cause| {
                cause
                    .downcast_ref::<UserError>()
                    .and_then(|u| u.hint.clone())
            })
        });
    if let Some(hint) = hint {
        text.push_str(&format!("hint: {hint}\n"));
    }
    text
}
