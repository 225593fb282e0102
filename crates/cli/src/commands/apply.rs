//! `envctl apply ENV` and `envctl apply --plan FILE`: change the cloud to match the spec.

use std::path::Path;

use anyhow::Context;
use envctl_engine::ops::{self, ChangeError, Operation, SavedPlanError, Session};
use envctl_engine::{Interrupt, Plan, PlanOptions};

use crate::args::{ApplyArgs, ExecutionArgs, GateArgs, GlobalArgs, OutputFormat};
use crate::commands::change::{self, watch_interrupts};
use crate::context::{LoadedSpec, connect, load_spec, today};
use crate::errors::{Outcome, UserError};
use crate::frontend::{ShowPlan, Terminal};

pub async fn run(global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let ApplyArgs {
        environment,
        plan: plan_file,
        replace,
        target,
        execution,
        gate,
    } = args;
    match (plan_file, environment) {
        (Some(path), _) => apply_saved(global, &path, &execution, &gate).await,
        (None, Some(environment)) => {
            let loaded = load_spec(&global.spec)?;
            let desired = crate::context::expand_for_run(global, &loaded, &environment)?;
            crate::context::refuse_critical_violations(&loaded, &desired)?;
            let plan_options = PlanOptions {
                force_replace: crate::commands::replace_targets(&desired, &replace)?,
                targets: crate::commands::target_addresses(&desired, &target)?,
                ..PlanOptions::default()
            };
            let providers = connect(global, &loaded, &[&environment]).await?;
            let locks = crate::lock::store(&providers, &loaded);
            let terminal = terminal(global, &execution, &environment);
            let interrupt = Interrupt::new();
            let _interrupts = watch_interrupts(&terminal, &interrupt);
            let session = Session {
                environments: &providers,
                locks: &locks,
                frontend: &terminal,
                today: today(),
            };
            let outcome = ops::apply_environment(
                session,
                &loaded.spec,
                desired,
                &plan_options,
                &crate::commands::gate::options(&gate),
                &change::options(&execution, &interrupt),
            )
            .await
            .map_err(|e| change::error(&loaded, e))?;
            let json =
                (execution.output == OutputFormat::Json).then_some((&terminal, Operation::Apply));
            change::finish(outcome, json)
        }
        (None, None) => Err(UserError::new("nothing to apply")
            .hint("name an environment (`envctl apply staging`) or a saved plan (`--plan FILE`)")
            .into()),
    }
}

fn terminal(global: &GlobalArgs, execution: &ExecutionArgs, environment: &str) -> Terminal {
    Terminal::new(
        global.no_progress,
        execution.yes,
        execution.confirm.clone(),
        ShowPlan::Full,
        environment,
    )
    .with_json_result(execution.output == OutputFormat::Json)
}

/// Applies a saved plan, bound to the current spec and cloud (the engine's `apply_saved`
/// decides; this reads the file and words the refusals).
async fn apply_saved(
    global: &GlobalArgs,
    path: &Path,
    execution: &ExecutionArgs,
    gate: &GateArgs,
) -> anyhow::Result<Outcome> {
    let saved = read_plan_file(path)?;
    if gate.skip_promotion_gate || gate.allow_expired.is_some() {
        return Err(UserError::new(
            "`--skip-promotion-gate` and `--allow-expired` cannot be used with a saved plan",
        )
        .hint("apply with the override instead: `envctl apply ENV --skip-promotion-gate --reason TEXT` or `envctl apply ENV --allow-expired REASON`")
        .into());
    }
    let loaded = load_spec(&global.spec)?;
    let desired = crate::context::expand_for_run(global, &loaded, &saved.environment)?;
    crate::context::refuse_critical_violations(&loaded, &desired)?;
    let providers = connect(global, &loaded, &[&saved.environment]).await?;
    let locks = crate::lock::store(&providers, &loaded);
    let terminal = terminal(global, execution, &saved.environment);
    let interrupt = Interrupt::new();
    let _interrupts = watch_interrupts(&terminal, &interrupt);
    let session = Session {
        environments: &providers,
        locks: &locks,
        frontend: &terminal,
        today: today(),
    };
    let result = ops::apply_saved(
        session,
        &loaded.spec,
        desired,
        &saved,
        &change::options(execution, &interrupt),
    )
    .await;
    match result {
        Ok(outcome) => {
            let json =
                (execution.output == OutputFormat::Json).then_some((&terminal, Operation::Apply));
            change::finish(outcome, json)
        }
        Err(ChangeError::SavedPlan(error)) => Err(saved_plan_error(&loaded, path, &saved, error)),
        Err(error) => Err(change::error(&loaded, error)),
    }
}

/// Why the saved plan at `path` was refused, and how to make a new one.
fn saved_plan_error(
    loaded: &LoadedSpec,
    path: &Path,
    saved: &Plan,
    error: SavedPlanError,
) -> anyhow::Error {
    let remake = format!(
        "make a new plan with `envctl plan {} --out {}`",
        saved.environment,
        path.display()
    );
    let path = path.display();
    let saved_env = &saved.environment;
    match error {
        SavedPlanError::OtherTarget {
            saved_project,
            saved_region,
            project,
            region,
        } => UserError::new(format!(
            "the saved plan `{path}` is for `{saved_project}` in {saved_region}, but this run would change `{project}` in {region}"
        ))
        .hint(remake)
        .into(),
        SavedPlanError::OtherSpec => UserError::new(format!(
            "the saved plan `{path}` was made from another version of the spec than `{}`",
            loaded.source.path
        ))
        .hint(format!("pass the plan's own spec with `--spec`, or {remake}"))
        .into(),
        SavedPlanError::Stale { environment } => UserError::new(format!(
            "the saved plan `{path}` is stale: `{environment}` changed since the plan was made"
        ))
        .hint(remake)
        .into(),
        SavedPlanError::OtherAccount { saved, current } => UserError::new(format!(
            "the saved plan `{path}` was made in account {saved}, but these credentials act in {current}"
        ))
        .hint(format!(
            "apply it with the credentials it was made with (`role_arn` or `profile` of `{saved_env}`, or `--profile`), or {remake}"
        ))
        .into(),
        SavedPlanError::Edited => UserError::new(format!(
            "the saved plan `{path}` does not match what the spec and the cloud give now: it was edited"
        ))
        .hint(remake)
        .into(),
        // Refused when the file was read.
        error @ (SavedPlanError::NotAPlan(_) | SavedPlanError::FormatVersion { .. }) => {
            anyhow::Error::new(error)
        }
    }
}

/// Reads a saved plan file (the engine checks what it holds).
fn read_plan_file(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the saved plan `{}`", path.display()))?;
    ops::apply::read_saved(&text).map_err(|error| match error {
        SavedPlanError::NotAPlan(error) => anyhow::Error::new(error).context(
            UserError::new(format!(
                "`{}` is not a plan saved by envctl",
                path.display()
            ))
            .hint("save one with `envctl plan ENV --out FILE`"),
        ),
        SavedPlanError::FormatVersion { found } => UserError::new(format!(
            "`{}` has plan format {found}, this envctl reads format {}",
            path.display(),
            envctl_engine::plan::PLAN_FORMAT_VERSION
        ))
        .hint("make the plan again with this version of envctl")
        .into(),
        error => anyhow::Error::new(error),
    })
}
