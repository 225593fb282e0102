//! `envctl reconcile [ENV...]`: repair drift, once or as a controller loop (`--watch`).

use std::io::Write;

use envctl_engine::ops;

use crate::args::{GlobalArgs, ReconcileArgs};
use crate::commands::change::{LockTarget, ShowPlan, change};
use crate::commands::{cloud_error, selected_environments};
use crate::context::{LoadedSpec, connect, load_spec};
use crate::errors::{Outcome, Reported, UserError};
use crate::render;

pub async fn run(global: &GlobalArgs, args: ReconcileArgs) -> anyhow::Result<Outcome> {
    let ReconcileArgs {
        environments,
        execution,
        watch,
        interval,
        gate,
    } = args;
    if watch && !execution.yes && execution.confirm.is_none() {
        return Err(UserError::new("`--watch` repairs without asking, so it needs `--yes`")
            .hint("run `envctl reconcile --watch --yes`, or drop `--watch` to confirm each repair")
            .into());
    }
    let loaded = load_spec(&global.spec)?;
    let names = selected_environments(&loaded, environments);
    let provider = connect(global, loaded.spec.region()).await?;
    // With --watch, Ctrl-C never interrupts a repair half-way: it is noted, and the loop
    // stops once the pass in progress is over.
    let interrupted = watch.then(|| {
        let (sender, receiver) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "interrupted: reconcile stops once the pass in progress is over (interrupt again to exit at once)"
                );
                let _ = sender.send(true);
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
        receiver
    });
    loop {
        let failed = pass(
            global, &loaded, &names, &provider, &execution, &gate, !watch,
        )
        .await?;
        let Some(mut interrupted) = interrupted.clone() else {
            return if failed {
                Err(Reported { code: 1 }.into())
            } else {
                Ok(Outcome::Success)
            };
        };
        if *interrupted.borrow() {
            eprintln!("stopped by Ctrl-C after a complete pass");
            return Ok(Outcome::Success);
        }
        eprintln!(
            "next pass in {}s (Ctrl-C stops between passes)",
            interval.as_secs()
        );
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = interrupted.changed() => {
                eprintln!("stopped by Ctrl-C between passes");
                return Ok(Outcome::Success);
            }
        }
    }
}

/// One read-diff-repair pass over every environment; true when some repair failed.
async fn pass(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
    names: &[String],
    provider: &envctl_providers::AwsProvider,
    execution: &crate::args::ExecutionArgs,
    gate: &crate::args::GateArgs,
    interruptible: bool,
) -> anyhow::Result<bool> {
    let mut failed = false;
    for name in names {
        let mut desired = crate::context::expand_for_run(global, loaded, name)?;
        failed |= repair(
            global,
            loaded,
            name,
            &mut desired,
            provider,
            execution,
            gate,
            interruptible,
        )
        .await?;
    }
    Ok(failed)
}

/// Reads, diffs and repairs one environment (the repair under its lock); true when a repair
/// failed.
#[allow(clippy::too_many_arguments)]
async fn repair(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
    name: &str,
    desired: &mut envctl_spec::DesiredState,
    provider: &envctl_providers::AwsProvider,
    execution: &crate::args::ExecutionArgs,
    gate: &crate::args::GateArgs,
    interruptible: bool,
) -> anyhow::Result<bool> {
    let read_error = |e| cloud_error(e, format!("failed to read the live state of `{name}`"));
    let (_, report) = ops::drift(provider, desired).await.map_err(read_error)?;
    crate::commands::print_notes(&report.notes);
    std::io::stdout().write_all(render::drift_text(std::slice::from_ref(&report)).as_bytes())?;
    if report.is_clean() {
        return Ok(false);
    }
    crate::commands::gate::enforce_expiry(loaded, desired, gate)?;
    crate::commands::gate::enforce(loaded, desired, provider, gate).await?;
    let desired = &*desired;
    let target = LockTarget {
        bucket: desired.lock_bucket.clone(),
        project: desired.project.clone(),
        environment: name.to_string(),
        timeout: execution.lock_timeout,
    };
    // The repair is planned again under the lock (with the override tag, if any).
    let repaired = change(
        global,
        provider,
        execution,
        envctl_engine::ops::Operation::Reconcile,
        ShowPlan::Summary,
        &target,
        interruptible,
        || async {
            ops::drift(provider, desired)
                .await
                .map(|(plan, _)| plan)
                .map_err(read_error)
        },
    )
    .await;
    match repaired {
        Ok(_) => Ok(false),
        Err(error) if crate::errors::already_reported(&error).is_some() => Ok(true),
        Err(error) => Err(error),
    }
}
