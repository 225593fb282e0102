//! The one way every command that changes the cloud runs: plan, show, refuse what is blocked,
//! confirm, lock, apply, report, roll back.
//!
//! Owns [`change`] and the interrupt handling of a run. Invariants: every
//! refusal known from the plan comes before the question and before any change; when a person
//! is asked, the lock is taken only after the answer and the plan is made again under it, and
//! a plan that changed meanwhile is refused (so Ctrl-C at the prompt leaves no lock behind);
//! the first Ctrl-C or SIGTERM during an apply stops new operations, lets those in flight
//! finish, applies the rollback policy, releases the lock and exits 130; a second exits at
//! once, saying how to release the lock.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use envctl_engine::ops::Operation;
use envctl_engine::{ApplyOptions, Interrupt, Plan, ops};
use envctl_providers::AwsProvider;

use crate::args::{ExecutionArgs, GlobalArgs};
use crate::confirm::{Risk, confirm};
use crate::errors::{Outcome, Reported, UserError};
use crate::progress::{ProgressReporter, bars_wanted};
use crate::render;
use crate::style::{self, Palette};

pub use crate::frontend::ShowPlan;

/// Whose lock guards the change.
#[derive(Debug, Clone)]
pub struct LockTarget {
    pub bucket: Option<String>,
    pub project: String,
    pub environment: String,
    pub timeout: Duration,
}

/// Makes the plan (`make_plan`, called once, or twice when a person is asked: before the
/// question and again under the lock), shows it, refuses a blocked one, confirms, and
/// applies it. `interruptible` is false where the caller handles Ctrl-C itself
/// (`reconcile --watch` stops between passes).
#[allow(clippy::too_many_arguments)]
pub async fn change<F, Fut>(
    global: &GlobalArgs,
    provider: &AwsProvider,
    execution: &ExecutionArgs,
    operation: Operation,
    show: ShowPlan,
    target: &LockTarget,
    interruptible: bool,
    make_plan: F,
) -> anyhow::Result<Outcome>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<Plan>>,
{
    let asks = execution.confirm.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal();
    let interrupt = Interrupt::new();
    let prompting = Arc::new(AtomicBool::new(false));
    let _watcher = interruptible.then(|| {
        AbortOnDrop(tokio::spawn(watch_interrupts(
            interrupt.clone(),
            prompting.clone(),
            target.environment.clone(),
        )))
    });
    if asks {
        // A person is asked: no lock is held while they think.
        let shown = make_plan().await?;
        if !present(&shown, show)? {
            return Ok(Outcome::Success);
        }
        prompting.store(true, Ordering::SeqCst);
        let answer = confirmed(&shown, execution, operation);
        prompting.store(false, Ordering::SeqCst);
        match answer {
            Ok(true) => {}
            Ok(false) => return Err(Reported { code: 1 }.into()),
            // Ctrl-C at the prompt: no lock is held, nothing was changed.
            Err(error) if crate::confirm::was_interrupted(&error) => {
                restore_cursor();
                style::eprintln("\ncancelled: nothing was changed");
                return Err(Reported { code: 130 }.into());
            }
            Err(error) => return Err(error),
        }
        locked(provider, target, execution.no_lock, async {
            let plan = make_plan().await?;
            if !same_plan(&shown, &plan) {
                return Err(UserError::new(format!(
                    "`{}` changed while the plan was being confirmed; nothing was changed",
                    plan.environment
                ))
                .hint("run the command again to see and confirm the new plan")
                .into());
            }
            run(global, provider, &plan, execution, operation, &interrupt).await
        })
        .await
    } else {
        locked(provider, target, execution.no_lock, async {
            let plan = make_plan().await?;
            if !present(&plan, show)? {
                return Ok(Outcome::Success);
            }
            if !confirmed(&plan, execution, operation)? {
                return Err(Reported { code: 1 }.into());
            }
            run(global, provider, &plan, execution, operation, &interrupt).await
        })
        .await
    }
}

/// Stops watching for interrupts once the change is over, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn locked<T>(
    provider: &AwsProvider,
    target: &LockTarget,
    no_lock: bool,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    crate::lock::locked(
        provider,
        target.bucket.clone(),
        no_lock,
        &target.project,
        &target.environment,
        target.timeout,
        work,
    )
    .await
}

/// Whether two plans would do the same.
fn same_plan(a: &Plan, b: &Plan) -> bool {
    let changes = |plan: &Plan| serde_json::to_value(&plan.changes).ok();
    a.live_fingerprint == b.live_fingerprint && changes(a) == changes(b) && a.blockers == b.blockers
}

/// Prints the plan and refuses a blocked one; `Ok(false)` when there is nothing to do.
fn present(plan: &Plan, show: ShowPlan) -> anyhow::Result<bool> {
    crate::commands::print_notes(&plan.notes);
    let text = match show {
        // (Blockers go to stderr with the refusal below.)
        ShowPlan::Full => {
            let mut blockless = plan.clone();
            blockless.blockers.clear();
            render::plan_text(&blockless, Palette::stdout())
        }
        ShowPlan::Summary => format!("{}\n", render::summary_line(&plan.summary())),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    // Every refusal that can be known is made before anyone is asked to confirm anything.
    crate::commands::refuse_if_blocked(plan)?;
    if plan.is_empty() {
        return Ok(false);
    }
    envctl_engine::ApplyGraph::from_plan(plan)
        .map_err(|e| anyhow::Error::new(e).context("cannot order the changes"))?;
    Ok(true)
}

/// Asks (or checks the flags that answer) whether to go on.
fn confirmed(plan: &Plan, execution: &ExecutionArgs, operation: Operation) -> anyhow::Result<bool> {
    let summary = plan.summary();
    let risk = if plan.protected && (summary.replace > 0 || summary.delete > 0) {
        Risk::ProtectedLoss
    } else {
        Risk::Ordinary
    };
    let question = question(plan, operation);
    let yes = confirm(
        &plan.environment,
        &question,
        risk,
        execution.yes,
        execution.confirm.as_deref(),
    )?;
    if !yes {
        style::eprintln(&format!(
            "{} cancelled: nothing was changed",
            render::title(operation).to_lowercase()
        ));
    }
    Ok(yes)
}

/// What the prompt asks: exactly what will happen.
fn question(plan: &Plan, operation: Operation) -> String {
    if operation != Operation::Destroy {
        return format!(
            "{} these changes to `{}`?",
            render::title(operation),
            plan.environment
        );
    }
    let count = plan.changes.len();
    let mut question = format!(
        "Destroy {count} resource{} of `{}`?",
        if count == 1 { "" } else { "s" },
        plan.environment
    );
    for change in &plan.changes {
        let Some(live) = &change.live else { continue };
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

/// Applies a confirmed plan and reports it, rolling back by the environment's policy.
async fn run(
    global: &GlobalArgs,
    provider: &AwsProvider,
    plan: &Plan,
    execution: &ExecutionArgs,
    operation: Operation,
    interrupt: &Interrupt,
) -> anyhow::Result<Outcome> {
    if interrupt.is_triggered() {
        style::eprintln(&format!(
            "{} interrupted before its first change: nothing was changed",
            render::title(operation).to_lowercase()
        ));
        return Err(Reported { code: 130 }.into());
    }
    let options = ApplyOptions {
        parallelism: usize::from(execution.parallelism),
        delete: envctl_engine::DeleteOptions {
            lift_deletion_protection: operation.lifts_deletion_protection(),
        },
        max_unavailable: execution.max_unavailable.map(usize::from),
        interrupt: interrupt.clone(),
    };
    let reporter = ProgressReporter::new(bars_wanted(global.no_progress));
    let report = ops::apply(provider, plan, options, &reporter)
        .await
        .map_err(|e| anyhow::Error::new(e).context("refusing to apply the plan"))?;
    style::eprint(&render::report_text(operation, &report));
    let interrupted = interrupt.is_triggered();
    if report.is_success() {
        Ok(Outcome::Success)
    } else {
        if operation.rolls_back() && (execution.rollback || plan.protected) {
            eprintln!(
                "rolling back the changes this run made{}",
                if plan.protected && !execution.rollback {
                    format!(" (`{}` is protected)", plan.environment)
                } else {
                    String::new()
                }
            );
            let undone = envctl_engine::rollback(plan, &report, provider, &reporter).await;
            style::eprint(&render::rollback_text(&undone));
        }
        Err(Reported {
            code: if interrupted { 130 } else { 1 },
        }
        .into())
    }
}

/// Ctrl-C or SIGTERM at the prompt cancels at once (no lock is held then); otherwise the first
/// raises `interrupt` and a second exits at once.
async fn watch_interrupts(interrupt: Interrupt, prompting: Arc<AtomicBool>, environment: String) {
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
