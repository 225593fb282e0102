//! `envctl apply ENV` and `envctl apply --plan FILE`: change the cloud to match the spec.

use std::path::Path;

use anyhow::Context;
use envctl_engine::{Plan, ops, plan::PLAN_FORMAT_VERSION};

use crate::args::{ApplyArgs, ExecutionArgs, GlobalArgs};
use crate::commands::change::{LockTarget, ShowPlan, change};
use crate::commands::cloud_error;
use crate::context::{connect, load_spec};
use crate::errors::{Outcome, UserError};

pub async fn run(global: &GlobalArgs, args: ApplyArgs) -> anyhow::Result<Outcome> {
    let ApplyArgs {
        environment,
        plan: plan_file,
        replace,
        execution,
        gate,
    } = args;
    match (plan_file, environment) {
        (Some(path), _) => apply_saved(global, &path, &execution, &gate).await,
        (None, Some(environment)) => {
            let loaded = load_spec(&global.spec)?;
            let mut desired = crate::context::expand_for_run(global, &loaded, &environment)?;
            let options = envctl_engine::PlanOptions {
                force_replace: crate::commands::replace_targets(&desired, &replace)?,
                ..envctl_engine::PlanOptions::default()
            };
            crate::commands::gate::enforce_expiry(&loaded, &mut desired, &gate)?;
            let provider = connect(global, loaded.spec.region()).await?;
            crate::commands::gate::enforce(&loaded, &mut desired, &provider, &gate).await?;
            let target = LockTarget {
                bucket: desired.lock_bucket.clone(),
                project: desired.project.clone(),
                environment: environment.clone(),
                timeout: execution.lock_timeout,
            };
            change(
                global,
                &provider,
                &execution,
                envctl_engine::ops::Operation::Apply,
                ShowPlan::Full,
                &target,
                true,
                || async {
                    ops::plan_with(&provider, &desired, &options)
                        .await
                        .map_err(|e| {
                            cloud_error(
                                e,
                                format!("failed to read the live state of `{environment}`"),
                            )
                        })
                },
            )
            .await
        }
        (None, None) => Err(UserError::new("nothing to apply")
            .hint("name an environment (`envctl apply staging`) or a saved plan (`--plan FILE`)")
            .into()),
    }
}

/// Applies a saved plan, bound to the current spec and cloud: protection, the promotion gate
/// and confirmation come from the current spec, never from the file; the plan is made again
/// from the current spec and live state under the lock and must come out exactly as saved.
async fn apply_saved(
    global: &GlobalArgs,
    path: &Path,
    execution: &ExecutionArgs,
    gate: &crate::args::GateArgs,
) -> anyhow::Result<Outcome> {
    let saved = read_plan_file(path)?;
    if gate.skip_promotion_gate || gate.allow_expired.is_some() {
        return Err(UserError::new(
            "`--skip-promotion-gate` and `--allow-expired` cannot be used with a saved plan",
        )
        .hint("apply with the override instead: `envctl apply ENV --skip-promotion-gate --reason TEXT` or `envctl apply ENV --allow-expired REASON`")
        .into());
    }
    let remake = || {
        format!(
            "make a new plan with `envctl plan {} --out {}`",
            saved.environment,
            path.display()
        )
    };
    let loaded = load_spec(&global.spec)?;
    let mut desired = crate::context::expand_for_run(global, &loaded, &saved.environment)?;
    crate::commands::gate::enforce_expiry(&loaded, &mut desired, gate)?;
    if desired.project != saved.project || desired.region != saved.region {
        return Err(UserError::new(format!(
            "the saved plan `{}` is for `{}` in {}, but this run would change `{}` in {}",
            path.display(),
            saved.project,
            saved.region,
            desired.project,
            desired.region
        ))
        .hint(remake())
        .into());
    }
    if envctl_engine::plan::desired_digest(&desired) != saved.desired_digest {
        return Err(UserError::new(format!(
            "the saved plan `{}` was made from another version of the spec than `{}`",
            path.display(),
            loaded.source.path
        ))
        .hint(format!(
            "pass the plan's own spec with `--spec`, or {}",
            remake()
        ))
        .into());
    }
    let provider = connect(global, loaded.spec.region()).await?;
    let options = envctl_engine::PlanOptions {
        force_replace: saved.force_replace.iter().cloned().collect(),
        ..envctl_engine::PlanOptions::default()
    };
    crate::commands::gate::enforce(&loaded, &mut desired, &provider, gate).await?;
    let target = LockTarget {
        bucket: desired.lock_bucket.clone(),
        project: desired.project.clone(),
        environment: desired.environment.clone(),
        timeout: execution.lock_timeout,
    };
    // What runs is the plan made now (its protection, blockers and notes are the current
    // spec's), and only when it comes out exactly as saved.
    change(
        global,
        &provider,
        execution,
        envctl_engine::ops::Operation::Apply,
        ShowPlan::Full,
        &target,
        true,
        || async {
            let current = ops::plan_with(&provider, &desired, &options)
                .await
                .map_err(|e| {
                    cloud_error(
                        e,
                        format!("failed to read the live state of `{}`", saved.environment),
                    )
                })?;
            if current.live_fingerprint != saved.live_fingerprint {
                return Err(UserError::new(format!(
                    "the saved plan `{}` is stale: `{}` changed since the plan was made",
                    path.display(),
                    saved.environment
                ))
                .hint(remake())
                .into());
            }
            // (Compared as written: what a file holds is all that can be compared.)
            let as_saved = |plan: &Plan| serde_json::to_value(&plan.changes).ok();
            if as_saved(&current) != as_saved(&saved) {
                return Err(UserError::new(format!(
                    "the saved plan `{}` does not match what the spec and the cloud give now: it was edited",
                    path.display()
                ))
                .hint(remake())
                .into());
            }
            Ok(current)
        },
    )
    .await
}

/// Reads a saved plan file.
fn read_plan_file(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the saved plan `{}`", path.display()))?;
    // The format first: a plan of another format may not even read as this one's.
    #[derive(serde::Deserialize)]
    struct Format {
        format_version: u32,
    }
    if let Ok(Format { format_version }) = serde_json::from_str::<Format>(&text)
        && format_version != PLAN_FORMAT_VERSION
    {
        return Err(UserError::new(format!(
            "`{}` has plan format {format_version}, this envctl reads format {PLAN_FORMAT_VERSION}",
            path.display(),
        ))
        .hint("make the plan again with this version of envctl")
        .into());
    }
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        anyhow::Error::new(e).context(
            UserError::new(format!(
                "`{}` is not a plan saved by envctl",
                path.display()
            ))
            .hint("save one with `envctl plan ENV --out FILE`"),
        )
    })?;
    if plan.format_version != PLAN_FORMAT_VERSION {
        return Err(UserError::new(format!(
            "`{}` has plan format {}, this envctl reads format {PLAN_FORMAT_VERSION}",
            path.display(),
            plan.format_version
        ))
        .hint("make the plan again with this version of envctl")
        .into());
    }
    Ok(plan)
}
