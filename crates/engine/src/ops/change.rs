//! The one way every operation that changes the cloud runs: plan, show, refuse what is
//! blocked, confirm, lock, apply, report, roll back.
//!
//! Owns [`change`], the [`Frontend`] it asks (whoever runs the operation: the CLI's terminal,
//! a test), [`Session`], [`ChangeOptions`], [`ChangeOutcome`] and [`ChangeError`].
//! Invariants: every refusal known from the plan (blockers, an empty plan, changes that
//! cannot be ordered) comes before the question and before any change; when a person is
//! asked, the lock is taken only after the answer and the plan is made again under it, and a
//! plan that changed meanwhile is refused (so an interrupted prompt leaves no lock behind);
//! otherwise the plan is made under the lock; the lock is released however the change ends;
//! a run interrupted before its first change changes nothing; a failed run is rolled back
//! when asked or when the environment is protected (never a destroy); nothing is printed:
//! everything a person sees is an [`Event`].

use std::future::Future;

use envctl_spec::{CivilDate, DesiredState};

use super::lock::{LockError, LockStore, Locking};
use super::{ApplyError, Event, GateError, Operation, ReadError, RollbackCause, apply};
use crate::execute::{ApplyOptions, ApplyReport, Reporter};
use crate::graph::{ApplyGraph, GraphError};
use crate::plan::Plan;
use crate::provider::{DeleteOptions, Environments};
use crate::rollback::{RollbackReport, rollback};

/// What a change puts at risk, for the confirmation to weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    /// Creates and in-place updates, or losses in an unprotected environment.
    Ordinary,
    /// Something would be deleted or replaced in a protected environment: its name must be
    /// given, a plain yes is not enough.
    ProtectedLoss,
}

/// What a plan puts at risk.
pub fn risk_of(plan: &Plan) -> Risk {
    let summary = plan.summary();
    if plan.protected && (summary.replace > 0 || summary.delete > 0) {
        Risk::ProtectedLoss
    } else {
        Risk::Ordinary
    }
}

/// The question a change asks before its first change.
#[derive(Debug, Clone, Copy)]
pub struct Approval<'a> {
    pub operation: Operation,
    pub plan: &'a Plan,
    pub risk: Risk,
}

/// Whoever runs an operation that changes the cloud: it sees the events (as a
/// [`Reporter`]) and answers the confirmation.
pub trait Frontend: Reporter {
    /// The front end's own failure (a prompt that could not be read, flags that do not fit,
    /// output that could not be written).
    type Error;

    /// Whether a person is asked (then no lock is held while they think, and the plan is
    /// made again under the lock after the answer).
    fn asks_a_person(&self) -> bool;

    /// Whether to carry out the plan; `Ok(false)` declines (nothing is changed).
    fn approve(&self, approval: &Approval<'_>) -> Result<bool, Self::Error>;

    /// A failure since the last call (output that could not be written): the operation stops
    /// with it before its next step.
    fn failure(&self) -> Option<Self::Error> {
        None
    }
}

/// What an operation that changes the cloud works with: the cloud, the locks, whoever runs
/// it, and the date (expiry and override tags; the engine reads no clock).
pub struct Session<'a, P: ?Sized, L: ?Sized, F: ?Sized> {
    /// The provider of each environment (its account, region and credentials).
    pub environments: &'a P,
    pub locks: &'a L,
    pub frontend: &'a F,
    pub today: CivilDate,
}

impl<P: ?Sized, L: ?Sized, F: ?Sized> Clone for Session<'_, P, L, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: ?Sized, L: ?Sized, F: ?Sized> Copy for Session<'_, P, L, F> {}

impl<P: ?Sized, L: ?Sized, F: ?Sized> std::fmt::Debug for Session<'_, P, L, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("today", &self.today)
            .finish_non_exhaustive()
    }
}

/// How a change runs.
#[derive(Debug, Clone, Default)]
pub struct ChangeOptions {
    /// Parallelism, batch size and the interrupt of the apply (its delete options follow from
    /// the operation: only a destroy lifts deletion protection).
    pub apply: ApplyOptions,
    /// Undo what a failed run changed (always done in a protected environment).
    pub rollback: bool,
    /// Whether the environment's lock is taken.
    pub locking: Locking,
}

/// How a change that was not refused ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeOutcome {
    /// The plan was empty: there was nothing to change.
    NothingToDo,
    /// The confirmation said no; nothing was changed.
    Declined,
    /// Interrupted before its first change; nothing was changed.
    NotStarted,
    /// The plan was carried out, completely or not.
    Applied {
        report: ApplyReport,
        /// What was undone after a failure, when the run was rolled back.
        rollback: Option<RollbackReport>,
        /// The run was interrupted (operations that had not started were left).
        interrupted: bool,
    },
}

impl ChangeOutcome {
    /// True when the environment now is what was asked (or already was).
    pub fn is_success(&self) -> bool {
        match self {
            ChangeOutcome::NothingToDo => true,
            ChangeOutcome::Declined | ChangeOutcome::NotStarted => false,
            ChangeOutcome::Applied { report, .. } => report.is_success(),
        }
    }
}

/// Why an operation that changes the cloud refused or failed before carrying out its plan.
/// `E` is the front end's own error.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError<E> {
    /// The live state could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A gate refused the change (or could not be checked).
    #[error(transparent)]
    Gate(#[from] GateError),
    /// A saved plan does not fit this spec and this cloud.
    #[error(transparent)]
    SavedPlan(#[from] SavedPlanError),
    /// The plan has blockers; nothing was changed.
    #[error("refusing to change `{}`: the plan has {} blocker{}; nothing was changed", plan.environment, plan.blockers.len(), if plan.blockers.len() == 1 { "" } else { "s" })]
    Blocked { plan: Box<Plan> },
    /// The plan made under the lock differs from the one confirmed; nothing was changed.
    #[error("`{environment}` changed while the plan was being confirmed; nothing was changed")]
    ChangedWhileConfirming { environment: String },
    /// The changes cannot be ordered; nothing was changed.
    #[error("cannot order the changes")]
    Unorderable(#[source] GraphError),
    /// The apply refused to start.
    #[error("refusing to apply the plan")]
    Apply(#[source] ApplyError),
    /// The environment's lock could not be taken.
    #[error("failed to lock `{environment}`")]
    Lock {
        environment: String,
        #[source]
        error: Box<LockError>,
    },
    /// The front end failed (a prompt, the output).
    #[error("the confirmation or the output failed")]
    Frontend(E),
}

impl<E> ChangeError<E> {
    /// The failed read, when the error is one (what a controller loop retries).
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            ChangeError::Read(error) | ChangeError::Gate(GateError::Read(error)) => Some(error),
            _ => None,
        }
    }
}

/// Why a saved plan is not carried out.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// The text is not a plan envctl saved.
    #[error("not a plan saved by envctl")]
    NotAPlan(#[source] serde_json::Error),
    /// Saved by a version of envctl with another plan format.
    #[error(
        "the plan has format {found}, this envctl reads format {}",
        crate::plan::PLAN_FORMAT_VERSION
    )]
    FormatVersion { found: u32 },
    /// Made for another project or region than this run changes.
    #[error(
        "the saved plan is for `{saved_project}` in {saved_region}, but this run would change `{project}` in {region}"
    )]
    OtherTarget {
        saved_project: String,
        saved_region: String,
        project: String,
        region: String,
    },
    /// Made in another account than the credentials of this run act in.
    #[error("the saved plan was made in account {saved}, but these credentials act in {current}")]
    OtherAccount { saved: String, current: String },
    /// Made from another version of the spec.
    #[error("the saved plan was made from another version of the spec")]
    OtherSpec,
    /// The environment changed since the plan was made.
    #[error("the saved plan is stale: `{environment}` changed since the plan was made")]
    Stale { environment: String },
    /// The plan made now differs from the saved one although spec and cloud did not change:
    /// the file was edited.
    #[error("the saved plan does not match what the spec and the cloud give now: it was edited")]
    Edited,
}

/// Makes the plan (`make_plan`, called once, or twice when a person is asked: before the
/// question and again under the lock), shows it, refuses a blocked one, confirms, and
/// carries it out under the environment's lock (see the module's invariants).
pub async fn change<P, L, F, M, Fut>(
    session: Session<'_, P, L, F>,
    operation: Operation,
    desired: &DesiredState,
    options: &ChangeOptions,
    make_plan: M,
) -> Result<ChangeOutcome, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
    M: Fn() -> Fut,
    Fut: Future<Output = Result<Plan, ChangeError<F::Error>>>,
{
    if session.frontend.asks_a_person() {
        // A person is asked: no lock is held while they think.
        let shown = make_plan().await?;
        if !present(session, operation, &shown)? {
            return Ok(ChangeOutcome::NothingToDo);
        }
        if !approved(session, operation, &shown)? {
            return Ok(ChangeOutcome::Declined);
        }
        locked(session, desired, options.locking, async {
            let plan = make_plan().await?;
            if !same_plan(&shown, &plan) {
                return Err(ChangeError::ChangedWhileConfirming {
                    environment: plan.environment,
                });
            }
            run(session, operation, &plan, options).await
        })
        .await
    } else {
        locked(session, desired, options.locking, async {
            let plan = make_plan().await?;
            if !present(session, operation, &plan)? {
                return Ok(ChangeOutcome::NothingToDo);
            }
            if !approved(session, operation, &plan)? {
                return Ok(ChangeOutcome::Declined);
            }
            run(session, operation, &plan, options).await
        })
        .await
    }
}

/// Runs `work` holding the lock of `desired`'s environment (or, with [`Locking::Off`],
/// without it, reported); the lock is released however `work` ends.
async fn locked<P, L, F, T>(
    session: Session<'_, P, L, F>,
    desired: &DesiredState,
    locking: Locking,
    work: impl Future<Output = Result<T, ChangeError<F::Error>>>,
) -> Result<T, ChangeError<F::Error>>
where
    P: ?Sized,
    L: LockStore + ?Sized,
    F: Frontend + ?Sized,
{
    let environment = &desired.environment;
    let lock = match locking {
        Locking::Off => {
            session.frontend.on_event(&Event::Unlocked { environment });
            None
        }
        Locking::Wait { timeout } => {
            if !timeout.is_zero()
                && let Ok(Some(holder)) = session.locks.holder(&desired.project, environment).await
            {
                session.frontend.on_event(&Event::LockWaiting {
                    environment,
                    holder: &holder,
                    timeout,
                });
            }
            let lock = session
                .locks
                .acquire(&desired.project, environment, timeout)
                .await
                .map_err(|error| ChangeError::Lock {
                    environment: environment.clone(),
                    error: Box::new(error),
                })?;
            session.frontend.on_event(&Event::Locked { lock: &lock });
            Some(lock)
        }
    };
    let result = work.await;
    if let Some(lock) = &lock {
        match session.locks.release(lock).await {
            Ok(()) => session.frontend.on_event(&Event::Released { lock }),
            Err(error) => session.frontend.on_event(&Event::ReleaseFailed {
                lock,
                error: &error,
            }),
        }
    }
    result
}

/// Whether two plans would do the same.
fn same_plan(a: &Plan, b: &Plan) -> bool {
    let changes = |plan: &Plan| serde_json::to_value(&plan.changes).ok();
    a.live_fingerprint == b.live_fingerprint && changes(a) == changes(b) && a.blockers == b.blockers
}

/// Shows the plan and refuses a blocked one; `Ok(false)` when there is nothing to do.
fn present<P: ?Sized, L: ?Sized, F: Frontend + ?Sized>(
    session: Session<'_, P, L, F>,
    operation: Operation,
    plan: &Plan,
) -> Result<bool, ChangeError<F::Error>> {
    session
        .frontend
        .on_event(&Event::Planned { operation, plan });
    if let Some(error) = session.frontend.failure() {
        return Err(ChangeError::Frontend(error));
    }
    // Every refusal that can be known is made before anyone is asked to confirm anything.
    if !plan.blockers.is_empty() {
        return Err(ChangeError::Blocked {
            plan: Box::new(plan.clone()),
        });
    }
    if plan.is_empty() {
        return Ok(false);
    }
    ApplyGraph::from_plan(plan).map_err(ChangeError::Unorderable)?;
    Ok(true)
}

/// Asks the front end whether to go on; a no is reported.
fn approved<P: ?Sized, L: ?Sized, F: Frontend + ?Sized>(
    session: Session<'_, P, L, F>,
    operation: Operation,
    plan: &Plan,
) -> Result<bool, ChangeError<F::Error>> {
    let approval = Approval {
        operation,
        plan,
        risk: risk_of(plan),
    };
    let yes = session
        .frontend
        .approve(&approval)
        .map_err(ChangeError::Frontend)?;
    if !yes {
        session.frontend.on_event(&Event::Declined { operation });
    }
    Ok(yes)
}

/// Carries out a confirmed plan and reports it, rolling back by the rules.
async fn run<P, L, F>(
    session: Session<'_, P, L, F>,
    operation: Operation,
    plan: &Plan,
    options: &ChangeOptions,
) -> Result<ChangeOutcome, ChangeError<F::Error>>
where
    P: Environments + ?Sized,
    L: ?Sized,
    F: Frontend + ?Sized,
{
    let interrupt = &options.apply.interrupt;
    if interrupt.is_triggered() {
        session.frontend.on_event(&Event::NotStarted { operation });
        return Ok(ChangeOutcome::NotStarted);
    }
    let apply_options = ApplyOptions {
        delete: DeleteOptions {
            lift_deletion_protection: operation.lifts_deletion_protection(),
        },
        ..options.apply.clone()
    };
    let report = apply(
        session.environments.provider(&plan.environment),
        plan,
        apply_options,
        session.frontend,
    )
    .await
    .map_err(ChangeError::Apply)?;
    session.frontend.on_event(&Event::Applied {
        operation,
        report: &report,
    });
    let interrupted = interrupt.is_triggered();
    let mut undone = None;
    if !report.is_success() && operation.rolls_back() && (options.rollback || plan.protected) {
        let cause = if options.rollback {
            RollbackCause::Requested
        } else {
            RollbackCause::Protected
        };
        session.frontend.on_event(&Event::RollingBack {
            environment: &plan.environment,
            cause,
        });
        let rolled_back = rollback(
            plan,
            &report,
            session.environments.provider(&plan.environment),
            session.frontend,
        )
        .await;
        session.frontend.on_event(&Event::RolledBack {
            report: &rolled_back,
        });
        undone = Some(rolled_back);
    }
    Ok(ChangeOutcome::Applied {
        report,
        rollback: undone,
        interrupted,
    })
}
