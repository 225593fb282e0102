//! `envctl reconcile [ENV...]`: repair drift, once or as a controller loop (`--watch`); the
//! loop, its error policy and its passes are the engine's `ops::reconcile`.

use std::time::{Duration, Instant};

use envctl_engine::Interrupt;
use envctl_engine::ops::{self, ReconcileOptions, Session, Timer, Watch};

use crate::args::{GlobalArgs, ReconcileArgs};
use crate::commands::change::{self, watch_interrupts};
use crate::commands::selected_environments;
use crate::context::{connect, load_spec, today};
use crate::errors::{Outcome, Reported, UserError};
use crate::frontend::{ShowPlan, Terminal};

/// The controller loop's clock: tokio's.
#[derive(Debug)]
struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

pub async fn run(global: &GlobalArgs, args: ReconcileArgs) -> anyhow::Result<Outcome> {
    let ReconcileArgs {
        environments,
        execution,
        watch,
        interval,
        target,
        gate,
    } = args;
    if watch && !execution.yes && execution.confirm.is_none() {
        return Err(UserError::new("`--watch` repairs without asking, so it needs `--yes`")
            .hint("run `envctl reconcile --watch --yes`, or drop `--watch` to confirm each repair")
            .into());
    }
    let loaded = load_spec(&global.spec)?;
    let names = selected_environments(&loaded, environments);
    let desired = names
        .iter()
        .map(|name| crate::context::expand_for_run(global, &loaded, name))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut targets = std::collections::BTreeSet::new();
    for desired in &desired {
        crate::context::refuse_critical_violations(&loaded, desired)?;
        targets.extend(crate::commands::target_addresses(desired, &target)?);
    }
    let proven: Vec<&str> = names.iter().map(String::as_str).collect();
    let providers = connect(global, &loaded, &proven).await?;
    let locks = crate::lock::store(&providers, &loaded);
    let terminal = Terminal::new(
        global.no_progress,
        execution.yes,
        execution.confirm.clone(),
        ShowPlan::Summary,
        names.first().map_or("", String::as_str),
    )
    .with_json_result(execution.output == crate::args::OutputFormat::Json);
    // With --watch, Ctrl-C never interrupts a repair half-way: it is noted, and the loop
    // stops once the pass in progress is over. Without, it interrupts the change as in apply.
    let interrupt = Interrupt::new();
    let _interrupts = (!watch).then(|| watch_interrupts(&terminal, &interrupt));
    let watch = watch.then(|| Watch::new(interval, stop_on_ctrl_c()));
    let watching = watch.is_some();
    let options = ReconcileOptions {
        gate: crate::commands::gate::options(&gate),
        change: change::options(&execution, &interrupt),
        watch,
        targets,
    };
    let session = Session {
        environments: &providers,
        locks: &locks,
        frontend: &terminal,
        today: today(),
    };
    let report = ops::reconcile(session, &loaded.spec, &desired, &options, &TokioTimer)
        .await
        .map_err(|e| change::error(&loaded, e))?;
    if execution.output == crate::args::OutputFormat::Json {
        change::print_result(
            &terminal,
            envctl_engine::ops::Operation::Reconcile,
            report.failed == 0 && !report.interrupted,
        )?;
    }
    if !watching && (report.failed > 0 || report.interrupted) {
        return Err(Reported { code: 1 }.into());
    }
    Ok(Outcome::Success)
}

/// The stop flag of the loop: raised by the first Ctrl-C; a second exits at once.
fn stop_on_ctrl_c() -> Interrupt {
    let stop = Interrupt::new();
    let raise = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "interrupted: reconcile stops once the pass in progress is over (interrupt again to exit at once)"
            );
            raise.trigger();
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            let lock = match crate::lock::held() {
                Some((environment, id)) => format!(
                    "; its lock stays: release it with `envctl force-unlock {environment} {id}`"
                ),
                None => String::new(),
            };
            eprintln!("error: interrupted twice: exiting at once{lock}");
            std::process::exit(130);
        }
    });
    stop
}
