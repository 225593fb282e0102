//! What every command that changes the cloud shares on the CLI side: the execution flags as
//! the engine's `ChangeOptions`, the Ctrl-C and SIGTERM wiring, and the outcome or refusal of
//! a change as an exit code and a message.
//!
//! Owns [`options`], [`watch_interrupts`], [`finish`] and [`error`]. Invariants: the decisions
//! (blocked? changed while confirming? roll back? which lock?) are the engine's
//! (`envctl_engine::ops::change`); the first Ctrl-C or SIGTERM during a change stops new
//! operations, lets those in flight finish, lets the engine apply the rollback policy and
//! release the lock, and exits 130; at the prompt it cancels at once (no lock is held then); a
//! second one exits at once, saying how to release the lock.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use envctl_engine::ops::{ChangeError, ChangeOptions, ChangeOutcome, Locking};
use envctl_engine::{ApplyOptions, DeleteOptions, Interrupt};

use crate::args::ExecutionArgs;
use crate::context::LoadedSpec;
use crate::errors::{Outcome, Reported, UserError};
use crate::frontend::Terminal;
use crate::style;

/// The engine's options of a change, from the execution flags (the confirmation flags are the
/// [`Terminal`]'s).
pub fn options(execution: &ExecutionArgs, interrupt: &Interrupt) -> ChangeOptions {
    let ExecutionArgs {
        yes: _,
        confirm: _,
        parallelism,
        rollback,
        lock_timeout,
        no_lock,
        max_unavailable,
        output: _,
    } = execution;
    ChangeOptions {
        apply: ApplyOptions {
            parallelism: usize::from(*parallelism),
            // (Set by the engine from the operation: only a destroy lifts protection.)
            delete: DeleteOptions::default(),
            max_unavailable: max_unavailable.map(usize::from),
            interrupt: interrupt.clone(),
        },
        rollback: *rollback,
        locking: if *no_lock {
            Locking::Off
        } else {
            Locking::Wait {
                timeout: *lock_timeout,
            }
        },
    }
}

/// The exit of a change that was not refused; with `--output json`, its result on stdout
/// first (every plan `terminal` saw carried out).
pub fn finish(
    outcome: ChangeOutcome,
    json: Option<(&crate::frontend::Terminal, envctl_engine::ops::Operation)>,
) -> anyhow::Result<Outcome> {
    if let Some((terminal, operation)) = json {
        print_result(terminal, operation, outcome.is_success())?;
    }
    match outcome {
        ChangeOutcome::NothingToDo => Ok(Outcome::Success),
        ChangeOutcome::Declined => Err(Reported { code: 1 }.into()),
        ChangeOutcome::NotStarted => Err(Reported { code: 130 }.into()),
        ChangeOutcome::Applied {
            report,
            interrupted,
            ..
        } => {
            if report.is_success() {
                Ok(Outcome::Success)
            } else {
                Err(Reported {
                    code: if interrupted { 130 } else { 1 },
                }
                .into())
            }
        }
    }
}

/// The JSON result of a change (`--output json`) on stdout.
pub fn print_result(
    terminal: &crate::frontend::Terminal,
    operation: envctl_engine::ops::Operation,
    success: bool,
) -> anyhow::Result<()> {
    let document = crate::render::change_json(operation, &terminal.applied(), success);
    crate::commands::write_stdout(
        format!("{}\n", serde_json::to_string_pretty(&document)?).as_bytes(),
    )?;
    Ok(())
}

/// A refused or failed change as a user-facing error (a saved plan's refusals are
/// `apply`'s, which knows the file).
pub fn error(loaded: &LoadedSpec, error: ChangeError<anyhow::Error>) -> anyhow::Error {
    match error {
        ChangeError::Read(error) => crate::commands::read_error(error),
        ChangeError::Gate(error) => crate::commands::gate::gate_error(loaded, error),
        error @ ChangeError::SavedPlan(_) => anyhow::Error::new(error),
        ChangeError::Blocked { ref plan } => {
            style::eprint(&crate::render::blockers_text(plan));
            UserError::new(error.to_string())
                .hint("each blocker above says how to clear it; `envctl plan` shows them too")
                .into()
        }
        error @ ChangeError::ChangedWhileConfirming { .. } => UserError::new(error.to_string())
            .hint("run the command again to see and confirm the new plan")
            .into(),
        ChangeError::Unorderable(error) => {
            anyhow::Error::new(error).context("cannot order the changes")
        }
        ChangeError::Apply(error) => {
            anyhow::Error::new(error).context("refusing to apply the plan")
        }
        ChangeError::Lock { environment, error } => crate::lock::lock_error(*error, &environment),
        ChangeError::Frontend(error) => {
            if crate::confirm::was_interrupted(&error) {
                // Ctrl-C at the prompt: no lock is held, nothing was changed.
                restore_cursor();
                style::eprintln("\ncancelled: nothing was changed");
                return Reported { code: 130 }.into();
            }
            error
        }
    }
}

/// Stops watching for interrupts once the change is over, however it ends.
#[derive(Debug)]
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches for Ctrl-C and SIGTERM while `terminal` runs a change: at the prompt the first
/// cancels at once (no lock is held then); otherwise it raises `interrupt` and a second exits
/// at once.
pub fn watch_interrupts(terminal: &Terminal, interrupt: &Interrupt) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(watch(
        interrupt.clone(),
        terminal.prompting(),
        terminal.environment(),
    )))
}

async fn watch(
    interrupt: Interrupt,
    prompting: Arc<AtomicBool>,
    environment: Arc<std::sync::Mutex<String>>,
) {
    if next_signal().await.is_none() {
        return;
    }
    if prompting.load(Ordering::SeqCst) {
        // The prompt's read usually fails with EINTR and the prompting side cancels; if the
        // read resumed instead, cancel from here.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if prompting.load(Ordering::SeqCst) {
            restore_cursor();
            style::eprintln("\ncancelled: nothing was changed");
            std::process::exit(130);
        }
        return;
    }
    interrupt.trigger();
    let environment = environment.lock().map(|e| e.clone()).unwrap_or_default();
    style::eprintln(&format!(
        "warning: interrupted: no further change to `{environment}` starts; those in flight finish, then envctl stops (interrupt again to exit at once)"
    ));
    if next_signal().await.is_none() {
        return;
    }
    restore_cursor();
    let lock = match crate::lock::held() {
        Some((environment, id)) => {
            format!("; its lock stays: release it with `envctl force-unlock {environment} {id}`")
        }
        None => String::new(),
    };
    style::eprintln(&format!(
        "error: interrupted twice: exiting at once; changes in flight may be unfinished (the next run finishes them){lock}"
    ));
    std::process::exit(130);
}

/// Progress bars and prompts hide the cursor: give it back before exiting.
fn restore_cursor() {
    if std::io::stderr().is_terminal() {
        eprint!("\x1b[?25h");
    }
}

/// Waits for the next Ctrl-C or SIGTERM; `None` when signals cannot be watched.
async fn next_signal() -> Option<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.ok(),
            _ = terminate.recv() => Some(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok()
    }
}
