//! Runs an apply graph against a provider with bounded parallelism.
//!
//! Owns the ready-queue executor ([`execute`]), the [`Reporter`] progress seam and the
//! [`ApplyReport`]. Invariants: an operation starts only after every operation it depends on
//! succeeded; at most `parallelism` operations are in flight; when one fails, everything that
//! depends on it (transitively) is skipped and reported once as skipped, naming the failure,
//! while independent work goes on; once the run is interrupted no operation starts, those in
//! flight finish, and the rest are reported as not started; the report lists every operation
//! exactly once; each start
//! and end is also a `tracing` event (info level), which the CLI shows with `-v`.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use envctl_spec::Address;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::Dfs;

use crate::graph::{ApplyGraph, Step};
use crate::live::LiveResource;
use crate::plan::{Action, Change, Plan, ResourceChange};
use crate::provider::{CloudIds, DeleteOptions, Progress, Provider, ProviderError};

/// Receives progress as the executor runs, and the events of the operations around it; the
/// CLI draws and prints them, tests record them.
pub trait Reporter: Sync {
    /// An operation was started.
    fn on_start(&self, address: &Address, action: Action, step: Step);
    /// An operation finished (or was skipped without starting).
    fn on_finish(&self, report: &OperationReport);
    /// A running operation is waiting for the cloud: the resource reads `state`.
    fn on_wait(&self, _address: &Address, _step: Step, _state: &str, _elapsed: Duration) {}
    /// The apply is about to run `total` operations.
    fn on_begin(&self, _total: usize) {}
    /// An operation of [`crate::ops`] reports something beyond the progress of single
    /// operations (a plan to show, a warning, a lock taken).
    fn on_event(&self, _event: &crate::ops::Event<'_>) {}
}

/// The [`Progress`] of one running operation: forwards waits to the reporter with the
/// operation's address and step.
struct OperationProgress<'a, R: Reporter + ?Sized> {
    reporter: &'a R,
    address: &'a Address,
    step: Step,
}

impl<R: Reporter + ?Sized> Progress for OperationProgress<'_, R> {
    fn waiting(&self, state: &str, elapsed: Duration) {
        self.reporter
            .on_wait(self.address, self.step, state, elapsed);
    }
}

/// A reporter that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilentReporter;

impl Reporter for SilentReporter {
    fn on_start(&self, _: &Address, _: Action, _: Step) {}
    fn on_finish(&self, _: &OperationReport) {}
}

/// A flag that stops an apply from starting more operations (Ctrl-C, SIGTERM); the ones in
/// flight finish. Cloning shares the flag; [`Interrupt::raised`] waits for it.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(std::sync::Arc<InterruptState>);

#[derive(Debug, Default)]
struct InterruptState {
    raised: std::sync::atomic::AtomicBool,
    /// Tasks waiting in [`Interrupt::raised`].
    waiting: std::sync::Mutex<Vec<std::task::Waker>>,
}

impl Interrupt {
    /// A flag not yet raised.
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// Raises the flag: no further operation starts, and whoever waits for it wakes.
    pub fn trigger(&self) {
        self.0
            .raised
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let waiting = self
            .0
            .waiting
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for waker in waiting {
            waker.wake();
        }
    }

    /// Whether the flag was raised.
    pub fn is_triggered(&self) -> bool {
        self.0.raised.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once the flag is raised (at once if it already was).
    pub fn raised(&self) -> impl Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            if self.is_triggered() {
                return std::task::Poll::Ready(());
            }
            if let Ok(mut waiting) = self.0.waiting.lock()
                && !waiting.iter().any(|w| w.will_wake(cx.waker()))
            {
                waiting.push(cx.waker().clone());
            }
            // Raised between the first look and the registration: not missed.
            if self.is_triggered() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }
}

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Operations in flight at most (at least 1).
    pub parallelism: usize,
    pub delete: DeleteOptions,
    /// Instances of one group taken down at once by a resize or replacement (default: a
    /// quarter of the group, rounded up).
    pub max_unavailable: Option<usize>,
    /// Raised to stop starting operations.
    pub interrupt: Interrupt,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            delete: DeleteOptions::default(),
            max_unavailable: None,
            interrupt: Interrupt::new(),
        }
    }
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done. `applied` is the resource as a create or update left it (what a rollback
    /// undoes); `None` after a delete, and after the undoing of a rollback.
    Succeeded {
        applied: Option<LiveResource>,
    },
    Failed(ProviderError),
    /// Not started because an operation it depends on failed.
    Skipped {
        because: Address,
    },
    /// Not started because the run was interrupted.
    NotStarted,
}

/// One operation of an apply and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationReport {
    pub address: Address,
    /// The planned action this operation belongs to.
    pub action: Action,
    pub step: Step,
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// The cloud id the operation worked on (the new one for a create), when known.
    pub cloud_id: Option<String>,
}

/// Every operation of an apply, in the order they finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    pub operations: Vec<OperationReport>,
}

impl ApplyReport {
    /// Operations that succeeded.
    pub fn succeeded(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Succeeded { .. }))
    }
    /// Operations that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    /// Operations skipped because of a failure.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
    /// Operations not started because the run was interrupted.
    pub fn not_started(&self) -> usize {
        self.count(|o| matches!(o, Outcome::NotStarted))
    }
    /// True when every operation succeeded.
    pub fn is_success(&self) -> bool {
        self.failed() == 0 && self.skipped() == 0 && self.not_started() == 0
    }
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.operations.iter().filter(|o| f(&o.outcome)).count()
    }
}

type Running<'a> = Pin<
    Box<
        dyn Future<
                Output = (
                    NodeIndex,
                    Result<Option<LiveResource>, ProviderError>,
                    Duration,
                ),
            > + Send
            + 'a,
    >,
>;

/// Runs every operation of `graph` (built from `plan`) and reports each one.
pub async fn execute<P: Provider + ?Sized, R: Reporter + ?Sized>(
    plan: &Plan,
    graph: &ApplyGraph,
    provider: &P,
    options: ApplyOptions,
    reporter: &R,
) -> ApplyReport {
    let g = &graph.graph;
    let parallelism = options.parallelism.max(1);
    let delete = options.delete;
    let interrupt = &options.interrupt;
    let mut ids: CloudIds = plan.live_ids.clone();
    let mut waiting_on: Vec<usize> = g
        .node_indices()
        .map(|n| g.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: VecDeque<NodeIndex> = g
        .node_indices()
        .filter(|n| waiting_on[n.index()] == 0)
        .collect();
    let mut skipped: BTreeSet<NodeIndex> = BTreeSet::new();
    let mut running: FuturesUnordered<Running<'_>> = FuturesUnordered::new();
    let mut report = ApplyReport::default();
    reporter.on_begin(g.node_count());

    loop {
        while running.len() < parallelism && !interrupt.is_triggered() {
            let Some(node) = ready.pop_front() else { break };
            let operation = &g[node];
            let Some(change) = plan.changes.get(operation.change_index) else {
                continue;
            };
            tracing::info!(
                address = %operation.address,
                action = %change.action(),
                step = %operation.step.verb(),
                "operation started"
            );
            reporter.on_start(&operation.address, change.action(), operation.step);
            let snapshot = ids.clone();
            let step = operation.step;
            let address = &operation.address;
            running.push(Box::pin(async move {
                let started = Instant::now();
                let progress = OperationProgress {
                    reporter,
                    address,
                    step,
                };
                let result = run_step(provider, change, step, &snapshot, delete, &progress).await;
                (node, result, started.elapsed())
            }));
        }
        let Some((node, result, elapsed)) = running.next().await else {
            if interrupt.is_triggered() {
                report_not_started(plan, g, &mut report, reporter);
            }
            break;
        };
        let operation = &g[node];
        let action = plan
            .changes
            .get(operation.change_index)
            .map_or(Action::Update, ResourceChange::action);
        let outcome = match result {
            Ok(applied) => {
                if let Some(live) = &applied {
                    ids.insert(live.address.clone(), live.id.clone());
                }
                for next in g.neighbors_directed(node, Direction::Outgoing) {
                    let count = &mut waiting_on[next.index()];
                    *count = count.saturating_sub(1);
                    if *count == 0 && !skipped.contains(&next) {
                        ready.push_back(next);
                    }
                }
                Outcome::Succeeded { applied }
            }
            Err(error) => {
                let mut dfs = Dfs::new(g, node);
                while let Some(dependent) = dfs.next(g) {
                    if dependent == node || !skipped.insert(dependent) {
                        continue;
                    }
                    let skip = unrun(
                        plan,
                        &g[dependent],
                        Outcome::Skipped {
                            because: operation.address.clone(),
                        },
                    );
                    tracing::info!(
                        address = %skip.address,
                        step = %skip.step.verb(),
                        because = %operation.address,
                        "operation skipped"
                    );
                    reporter.on_finish(&skip);
                    report.operations.push(skip);
                }
                Outcome::Failed(error)
            }
        };
        let cloud_id = match &outcome {
            Outcome::Succeeded {
                applied: Some(live),
            } => Some(live.id.clone()),
            _ => plan
                .changes
                .get(operation.change_index)
                .and_then(ResourceChange::live)
                .map(|l| l.id.clone()),
        };
        let finished = OperationReport {
            address: operation.address.clone(),
            action,
            step: operation.step,
            outcome,
            elapsed,
            cloud_id,
        };
        match &finished.outcome {
            Outcome::Failed(error) => tracing::info!(
                address = %finished.address,
                step = %finished.step.verb(),
                elapsed_ms = finished.elapsed.as_millis(),
                %error,
                "operation failed"
            ),
            _ => tracing::info!(
                address = %finished.address,
                step = %finished.step.verb(),
                elapsed_ms = finished.elapsed.as_millis(),
                "operation succeeded"
            ),
        }
        reporter.on_finish(&finished);
        report.operations.push(finished);
    }
    report
}

/// The report of an operation that never ran (skipped, or not started).
fn unrun(plan: &Plan, op: &crate::graph::Operation, outcome: Outcome) -> OperationReport {
    OperationReport {
        address: op.address.clone(),
        action: plan
            .changes
            .get(op.change_index)
            .map_or(Action::Update, ResourceChange::action),
        step: op.step,
        outcome,
        elapsed: Duration::ZERO,
        cloud_id: None,
    }
}

/// Reports every operation that neither ran nor was skipped as not started.
fn report_not_started<R: Reporter + ?Sized>(
    plan: &Plan,
    g: &petgraph::graph::DiGraph<crate::graph::Operation, ()>,
    report: &mut ApplyReport,
    reporter: &R,
) {
    let reported: BTreeSet<(Address, Step)> = report
        .operations
        .iter()
        .map(|o| (o.address.clone(), o.step))
        .collect();
    for node in g.node_indices() {
        let op = &g[node];
        if reported.contains(&(op.address.clone(), op.step)) {
            continue;
        }
        let not_started = unrun(plan, op, Outcome::NotStarted);
        reporter.on_finish(&not_started);
        report.operations.push(not_started);
    }
}

/// Runs `step` of `change`: the create of a create or of a replacement's new copy, the update
/// of an update, the delete of a delete or of a replacement's old copy.
async fn run_step<P: Provider + ?Sized>(
    provider: &P,
    change: &ResourceChange,
    step: Step,
    ids: &CloudIds,
    delete: DeleteOptions,
    progress: &dyn Progress,
) -> Result<Option<LiveResource>, ProviderError> {
    match (step, &change.change) {
        (Step::Create, Change::Create { desired } | Change::Replace { desired, .. }) => {
            provider.create(desired, ids, progress).await.map(Some)
        }
        (
            Step::Update,
            Change::Update {
                desired,
                live,
                fields,
            },
        ) => provider
            .update(desired, live, fields, ids, progress)
            .await
            .map(Some),
        (Step::Delete, Change::Delete { live } | Change::Replace { live, .. }) => {
            provider.delete(live, delete, progress).await.map(|()| None)
        }
        // The graph gives every change only the steps of its action.
        (Step::Create, Change::Update { .. } | Change::Delete { .. })
        | (Step::Update, Change::Create { .. } | Change::Replace { .. } | Change::Delete { .. })
        | (Step::Delete, Change::Create { .. } | Change::Update { .. }) => {
            Err(ProviderError::NotFound {
                what: format!(
                    "a {} step of the {} of {}",
                    step.verb(),
                    change.action(),
                    change.address
                ),
            })
        }
    }
}
