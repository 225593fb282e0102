//! Progress of an apply on stderr: live spinners on a terminal, one plain line per event
//! elsewhere.
//!
//! Owns [`ProgressReporter`], the CLI's implementation of the engine's `Reporter`, and the
//! decision whether bars are drawn (stderr is a terminal other than `TERM=dumb`, no
//! `--no-progress`). Invariants: progress never goes to stdout, which is for data; every
//! result line is printed whether or not bars are drawn.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use envctl_engine::{Action, OperationReport, Outcome, Reporter, Step};
use envctl_spec::Address;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether to draw live bars: on a terminal that can redraw lines, unless `--no-progress`.
/// (Color is a separate choice: `NO_COLOR` keeps the bars, uncolored.)
pub fn bars_wanted(no_progress: bool) -> bool {
    !no_progress
        && std::io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

fn label(action: Action, step: Step) -> &'static str {
    match (action, step) {
        (Action::Replace(_), Step::Create) => "replacing (create new)",
        (Action::Replace(_), Step::Delete) => "replacing (delete old)",
        (_, Step::Create) => "creating",
        (_, Step::Update) => "updating",
        (_, Step::Delete) => "deleting",
    }
}

fn finished(step: Step) -> &'static str {
    match step {
        Step::Create => "created",
        Step::Update => "updated",
        Step::Delete => "deleted",
    }
}

/// `6m12s`, `45s`.
fn human(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds >= 60 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

/// Draws progress of an apply.
#[derive(Debug)]
pub struct ProgressReporter {
    bars: Option<MultiProgress>,
    in_flight: Mutex<HashMap<(Address, Step), ProgressBar>>,
    /// Without bars: the last whole minute of waiting reported per operation.
    waits_reported: Mutex<HashMap<(Address, Step), u64>>,
    /// Operations of the run, and how many have ended (for `[12/29]`).
    total: AtomicUsize,
    ended: AtomicUsize,
}

impl ProgressReporter {
    pub fn new(draw_bars: bool) -> Self {
        ProgressReporter {
            bars: draw_bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            in_flight: Mutex::new(HashMap::new()),
            waits_reported: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
        }
    }

    fn line(&self, text: String) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => eprintln!("{text}"),
        }
    }
}

impl Reporter for ProgressReporter {
    fn on_begin(&self, total: usize) {
        self.total.store(total, Ordering::SeqCst);
        self.ended.store(0, Ordering::SeqCst);
    }

    fn on_start(&self, address: &Address, action: Action, step: Step) {
        let message = format!("{} {address}", label(action, step));
        match &self.bars {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(message);
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut map) = self.in_flight.lock() {
                    map.insert((address.clone(), step), bar);
                }
            }
            None => eprintln!("{message}..."),
        }
    }

    fn on_wait(&self, address: &Address, step: Step, state: &str, elapsed: Duration) {
        let key = (address.clone(), step);
        if self.bars.is_some() {
            if let Ok(map) = self.in_flight.lock()
                && let Some(bar) = map.get(&key)
            {
                bar.set_message(format!(
                    "{} {address}: {state}, {}",
                    label(Action::Update, step),
                    human(elapsed)
                ));
            }
            return;
        }
        // No terminal: a line a minute, so a log shows the run is alive and what it waits for.
        let minute = elapsed.as_secs() / 60;
        if minute == 0 {
            return;
        }
        if let Ok(mut reported) = self.waits_reported.lock() {
            if reported.get(&key) == Some(&minute) {
                return;
            }
            reported.insert(key, minute);
        }
        eprintln!(
            "still {} {address}: it reads `{state}` after {}",
            label(Action::Update, step),
            human(elapsed)
        );
    }

    fn on_finish(&self, report: &OperationReport) {
        if let Ok(mut map) = self.in_flight.lock()
            && let Some(bar) = map.remove(&(report.address.clone(), report.step))
        {
            bar.finish_and_clear();
            if let Some(bars) = &self.bars {
                bars.remove(&bar);
            }
        }
        let ended = self.ended.fetch_add(1, Ordering::SeqCst) + 1;
        let total = self.total.load(Ordering::SeqCst);
        let counter = if total > 0 {
            format!("[{ended}/{total}] ")
        } else {
            String::new()
        };
        let id = report
            .cloud_id
            .as_ref()
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
        let text = match &report.outcome {
            Outcome::Succeeded { .. } => format!(
                "{counter}{} {}{id} in {:.1}s",
                finished(report.step),
                report.address,
                report.elapsed.as_secs_f64()
            ),
            Outcome::Failed(error) => format!(
                "{counter}failed to {} {}: {error}",
                report.step.verb(),
                report.address
            ),
            Outcome::Skipped { because } => format!(
                "{counter}skipped {} {}: {because} failed",
                report.step.verb(),
                report.address
            ),
            Outcome::NotStarted => format!(
                "{counter}not started: {} {} (interrupted)",
                report.step.verb(),
                report.address
            ),
        };
        self.line(text);
    }
}
