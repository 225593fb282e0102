//! The terminal side of the engine's operations: the messages their events become, the
//! progress, and the confirmation.
//!
//! Owns [`print_event`] (every `Event` of `envctl_engine::ops` in the house voice, on stderr;
//! plans and drift, which are data, on stdout), [`Messages`], the reporter of operations
//! that draw no progress, and [`Terminal`], the engine's `Frontend` for the commands that
//! change the cloud. Invariants: the library decides, this module only words, draws and asks;
//! a write to stdout that fails is kept, not lost, so that the operation stops with it at its
//! next step (a closed pipe ends the command as success, as everywhere).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use envctl_engine::ops::{Approval, Frontend, Operation};

use envctl_engine::ops::{Event, RollbackCause};
use envctl_engine::{Action, OperationReport, Reporter, Step};
use envctl_spec::Address;

use crate::render;
use crate::style::{self, Palette};

/// How much of the plan is printed before asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowPlan {
    /// Every change, field by field.
    Full,
    /// The summary line only (the caller already showed the changes another way).
    Summary,
}

/// Where a change's readable output goes: stdout, or stderr when stdout is reserved for the
/// JSON result (`--output json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataTo {
    Stdout,
    Stderr,
}

impl DataTo {
    fn write(self, text: &str) -> std::io::Result<()> {
        match self {
            DataTo::Stdout => std::io::stdout().write_all(text.as_bytes()),
            DataTo::Stderr => {
                style::eprint(text);
                Ok(())
            }
        }
    }
}

/// One carried-out plan, kept for the JSON result.
#[derive(Debug, Clone)]
pub struct Applied {
    pub environment: String,
    pub operation: Operation,
    pub report: envctl_engine::ApplyReport,
}

/// Prints what `event` tells a person; returns the error of a failed write to stdout.
pub fn print_event(event: &Event<'_>, show: ShowPlan, data: DataTo) -> std::io::Result<()> {
    match *event {
        Event::ExpiredAllowed {
            environment,
            expired,
            reason,
        } => style::eprintln(&format!(
            "warning: changing `{environment}` although {expired} declared difference{} expired: {reason}",
            if expired == 1 { " has" } else { "s have" }
        )),
        Event::GateSkipped {
            environment,
            upstream,
            reason,
        } => style::eprintln(&format!(
            "warning: skipping the promotion gate of `{environment}` (promoted from `{upstream}`): {reason}"
        )),
        Event::GateConverged {
            upstream,
            parity_digest,
        } => eprintln!(
            "promotion gate: `{upstream}` has converged on this spec (parity digest {parity_digest})"
        ),
        Event::GateVerified {
            upstream,
            verification,
        } => eprintln!(
            "promotion gate: `{upstream}` passed `{}` on {} (by {}{}), as it runs now",
            verification.command,
            envctl_engine::ops::lock::utc_time(verification.at_unix),
            verification.who,
            verification
                .revision
                .as_deref()
                .map(|r| format!(", spec at git {}", r.chars().take(12).collect::<String>()))
                .unwrap_or_default()
        ),
        Event::Planned { plan, .. } => {
            crate::commands::print_notes(&plan.notes);
            let text = match show {
                // (Blockers go to stderr with the refusal.)
                ShowPlan::Full => {
                    let mut blockless = plan.clone();
                    blockless.blockers.clear();
                    render::plan_text(&blockless, Palette::stdout())
                }
                ShowPlan::Summary => format!("{}\n", render::summary_line(&plan.summary())),
            };
            data.write(&text)?;
        }
        Event::Declined { operation } => style::eprintln(&format!(
            "{} cancelled: nothing was changed",
            render::title(operation).to_lowercase()
        )),
        Event::NotStarted { operation } => style::eprintln(&format!(
            "{} interrupted before its first change: nothing was changed",
            render::title(operation).to_lowercase()
        )),
        Event::Unlocked { environment } => style::eprintln(&format!(
            "warning: `--no-lock`: nothing stops another run from changing `{environment}` at the same time"
        )),
        Event::LockWaiting {
            environment,
            holder,
            timeout,
        } => eprintln!(
            "waiting up to {} for the lock of `{environment}`, held by {} since {} ago ({}) for `{}`",
            envctl_engine::ops::lock::human_duration(timeout),
            holder.holder,
            envctl_engine::ops::lock::human_duration(holder.age()),
            envctl_engine::ops::lock::utc_time(holder.since_unix),
            holder.command
        ),
        Event::Locked { lock } => {
            if let Some(dead) = &lock.took_over {
                style::eprintln(&format!(
                    "warning: took over the lock of `{}` left by process {} on this host, which is no longer running (it ran `{}`)",
                    lock.environment, dead.pid, dead.command
                ));
            }
            crate::lock::note_held(Some((lock.environment.clone(), lock.info.id.clone())));
        }
        Event::Released { .. } => crate::lock::note_held(None),
        Event::ReleaseFailed { lock, error } => {
            style::eprintln(&format!(
                "warning: could not release lock `{}`: {error}; remove it with `envctl force-unlock`",
                lock.info.id
            ));
            crate::lock::note_held(None);
        }
        Event::Applied { operation, report } => {
            style::eprint(&render::report_text(operation, report));
        }
        Event::RollingBack { environment, cause } => eprintln!(
            "rolling back the changes this run made{}",
            match cause {
                RollbackCause::Protected => format!(" (`{environment}` is protected)"),
                RollbackCause::Requested => String::new(),
            }
        ),
        Event::RolledBack { report } => style::eprint(&render::rollback_text(report)),
        Event::Drift { report } => {
            crate::commands::print_notes(&report.notes);
            data.write(&render::drift_text(std::slice::from_ref(report)))?;
        }
        Event::ReadFailed { error, retry_in } => style::eprintln(&format!(
            "warning: {error}: {}; trying again in {}s",
            error.source,
            retry_in.as_secs()
        )),
        Event::NextPass { after } => eprintln!(
            "next pass in {}s (Ctrl-C stops between passes)",
            after.as_secs()
        ),
        Event::Stopped { between_passes } => eprintln!(
            "stopped by Ctrl-C {}",
            if between_passes {
                "between passes"
            } else {
                "after a complete pass"
            }
        ),
    }
    Ok(())
}

/// The reporter of read-only operations (`plan`, the gates): their events become messages.
/// (They send no data to stdout: the command prints what they return.)
#[derive(Debug, Default)]
pub struct Messages;

impl Reporter for Messages {
    fn on_start(&self, _: &Address, _: Action, _: Step) {}
    fn on_finish(&self, _: &OperationReport) {}
    fn on_event(&self, event: &Event<'_>) {
        // Only plans and drift go to stdout, and these operations send neither.
        let _ = print_event(event, ShowPlan::Full, DataTo::Stderr);
    }
}

/// The front end of a command that changes the cloud: progress bars or lines, the events as
/// messages, and the confirmation asked at the terminal or answered by `--yes` / `--confirm`.
#[derive(Debug)]
pub struct Terminal {
    progress: crate::progress::ProgressReporter,
    show: ShowPlan,
    yes: bool,
    confirm: Option<String>,
    /// Raised while a prompt waits for an answer (Ctrl-C then cancels at once).
    prompting: Arc<AtomicBool>,
    /// The environment being changed, for the interrupt's message.
    environment: Arc<Mutex<String>>,
    /// The first write to stdout that failed.
    failure: Mutex<Option<std::io::Error>>,
    /// Where plans and drift are shown.
    data: DataTo,
    /// Every plan carried out, for the JSON result.
    applied: Mutex<Vec<Applied>>,
}

impl Terminal {
    /// A terminal front end for a change of `environment` (the first one, for several),
    /// showing plans as `show` says, with `--yes` and `--confirm ENV`, drawing bars unless
    /// `no_progress` (or no terminal).
    pub fn new(
        no_progress: bool,
        yes: bool,
        confirm: Option<String>,
        show: ShowPlan,
        environment: &str,
    ) -> Self {
        Terminal {
            progress: crate::progress::ProgressReporter::new(crate::progress::bars_wanted(
                no_progress,
            )),
            show,
            yes,
            confirm,
            prompting: Arc::new(AtomicBool::new(false)),
            environment: Arc::new(Mutex::new(environment.to_string())),
            failure: Mutex::new(None),
            data: DataTo::Stdout,
            applied: Mutex::new(Vec::new()),
        }
    }

    /// This front end with stdout reserved for a JSON result (`--output json`): plans and
    /// drift are shown on stderr.
    #[must_use]
    pub fn with_json_result(mut self, json: bool) -> Self {
        self.data = if json { DataTo::Stderr } else { DataTo::Stdout };
        self
    }

    /// Every plan carried out so far, in order.
    pub fn applied(&self) -> Vec<Applied> {
        self.applied.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The flag raised while a prompt waits for an answer.
    pub fn prompting(&self) -> Arc<AtomicBool> {
        self.prompting.clone()
    }

    /// The environment being changed now.
    pub fn environment(&self) -> Arc<Mutex<String>> {
        self.environment.clone()
    }
}

impl Reporter for Terminal {
    fn on_start(&self, address: &Address, action: Action, step: Step) {
        self.progress.on_start(address, action, step);
    }

    fn on_finish(&self, report: &OperationReport) {
        self.progress.on_finish(report);
    }

    fn on_wait(&self, address: &Address, step: Step, state: &str, elapsed: Duration) {
        self.progress.on_wait(address, step, state, elapsed);
    }

    fn on_begin(&self, total: usize) {
        self.progress.on_begin(total);
    }

    fn on_event(&self, event: &Event<'_>) {
        if let Event::Planned { plan, .. } = event
            && let Ok(mut environment) = self.environment.lock()
        {
            environment.clone_from(&plan.environment);
        }
        if let Event::Applied { operation, report } = event
            && let Ok(mut applied) = self.applied.lock()
        {
            let environment = self
                .environment
                .lock()
                .map(|e| e.clone())
                .unwrap_or_default();
            applied.push(Applied {
                environment,
                operation: *operation,
                report: (*report).clone(),
            });
        }
        if let Err(error) = print_event(event, self.show, self.data)
            && let Ok(mut failure) = self.failure.lock()
        {
            failure.get_or_insert(error);
        }
    }
}

impl Frontend for Terminal {
    type Error = anyhow::Error;

    fn asks_a_person(&self) -> bool {
        self.confirm.is_none() && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    fn approve(&self, approval: &Approval<'_>) -> anyhow::Result<bool> {
        self.prompting.store(true, Ordering::SeqCst);
        let answer = crate::confirm::confirm(
            &approval.plan.environment,
            &question(approval),
            approval.risk,
            self.yes,
            self.confirm.as_deref(),
        );
        self.prompting.store(false, Ordering::SeqCst);
        answer
    }

    fn failure(&self) -> Option<anyhow::Error> {
        self.failure
            .lock()
            .ok()
            .and_then(|mut f| f.take())
            .map(anyhow::Error::new)
    }
}

/// What the prompt asks: exactly what will happen.
fn question(approval: &Approval<'_>) -> String {
    let plan = approval.plan;
    match approval.operation {
        Operation::Apply | Operation::Reconcile | Operation::Redeploy => {
            return format!(
                "{} these changes to `{}`?",
                render::title(approval.operation),
                plan.environment
            );
        }
        Operation::Destroy => {}
    }
    let count = plan.changes.len();
    let mut question = format!(
        "Destroy {count} resource{} of `{}`?",
        if count == 1 { "" } else { "s" },
        plan.environment
    );
    for change in &plan.changes {
        let Some(live) = change.live() else { continue };
        if envctl_engine::is_deletion_protected(live) {
            question.push_str(&format!(
                " Deletion protection of {} will be lifted.",
                change.address
            ));
        }
        if change.kind.holds_data() {
            question.push_str(&format!(
                " A final snapshot of {} will be kept as `{}-final-<unix time>`.",
                change.address, live.id
            ));
        }
    }
    question
}
