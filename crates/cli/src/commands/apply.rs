//! `envctl apply ENV` and `envctl apply --plan FILE`: change the cloud to match the spec.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use envctl_engine::{ApplyOptions, Plan, ops, plan::PLAN_FORMAT_VERSION};
use envctl_providers::AwsProvider;

use crate::args::{ApplyArgs, ExecutionArgs, GlobalArgs};
use crate::commands::cloud_error;
use crate::confirm::{Risk, confirm};
use crate::context::{connect, expand, load_spec};
use crate::errors::{Outcome, Reported, UserError};
use crate::progress::{ProgressReporter, bars_wanted};
use crate::render;
use crate::style::{self, Palette};

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
            let mut desired = expand(&loaded, &environment)?;
            desired.region = crate::context::region(global, &loaded);
            let options = envctl_engine::PlanOptions {
                force_replace: crate::commands::replace_targets(&desired, &replace)?,
                ..envctl_engine::PlanOptions::default()
            };
            let provider = connect(global, loaded.spec.region()).await;
            crate::lock::locked(
                &provider,
                desired.lock_bucket.clone(),
                &desired.project.clone(),
                &environment,
                execution.lock_timeout,
                async {
                    crate::commands::gate::enforce(&loaded, &mut desired, &provider, &gate).await?;
                    let plan = ops::plan_with(&provider, &desired, &options)
                        .await
                        .map_err(|e| {
                            cloud_error(
                                e,
                                format!("failed to read the live state of `{environment}`"),
                            )
                        })?;
                    execute_plan(
                        global,
                        &provider,
                        &plan,
                        &execution,
                        "Apply",
                        ShowPlan::Full,
                    )
                    .await
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
    if gate.skip_promotion_gate {
        return Err(UserError::new("`--skip-promotion-gate` cannot be used with a saved plan")
            .hint("make the plan with the override instead: `envctl apply ENV --skip-promotion-gate --reason TEXT`")
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
    let mut desired = expand(&loaded, &saved.environment)?;
    desired.region = crate::context::region(global, &loaded);
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
    let provider = connect(global, loaded.spec.region()).await;
    let options = envctl_engine::PlanOptions {
        force_replace: saved.force_replace.iter().cloned().collect(),
        ..envctl_engine::PlanOptions::default()
    };
    crate::lock::locked(
        &provider,
        desired.lock_bucket.clone(),
        &desired.project.clone(),
        &desired.environment.clone(),
        execution.lock_timeout,
        async {
            crate::commands::gate::enforce(&loaded, &mut desired, &provider, gate).await?;
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
            // What runs is the plan made now: its protection, blockers and notes are the
            // current spec's.
            execute_plan(
                global,
                &provider,
                &current,
                execution,
                "Apply",
                ShowPlan::Full,
            )
            .await
        },
    )
    .await
}

/// Reads a saved plan file.
fn read_plan_file(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the saved plan `{}`", path.display()))?;
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

/// How much of the plan `execute_plan` prints before asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowPlan {
    /// Every change, field by field.
    Full,
    /// The summary line only (the caller already showed the changes another way).
    Summary,
}

/// Shows the plan, confirms, runs it, reports. Shared by every command that changes the cloud.
pub async fn execute_plan(
    global: &GlobalArgs,
    provider: &AwsProvider,
    plan: &Plan,
    execution: &ExecutionArgs,
    verb: &str,
    show: ShowPlan,
) -> anyhow::Result<Outcome> {
    let ExecutionArgs {
        yes,
        confirm: confirm_flag,
        parallelism,
        rollback,
        lock_timeout: _,
        max_unavailable,
    } = execution;
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
        return Ok(Outcome::Success);
    }
    envctl_engine::ApplyGraph::from_plan(plan)
        .map_err(|e| anyhow::Error::new(e).context("cannot order the changes"))?;
    let summary = plan.summary();
    let risk = if plan.protected && (summary.replace > 0 || summary.delete > 0) {
        Risk::ProtectedLoss
    } else {
        Risk::Ordinary
    };
    let question = format!("{verb} these changes to `{}`?", plan.environment);
    if !confirm(
        &plan.environment,
        &question,
        risk,
        *yes,
        confirm_flag.as_deref(),
    )? {
        style::eprintln(&format!(
            "{} cancelled: nothing was changed",
            verb.to_lowercase()
        ));
        return Err(Reported { code: 1 }.into());
    }
    let options = ApplyOptions {
        parallelism: usize::from(*parallelism),
        delete: envctl_engine::DeleteOptions {
            lift_deletion_protection: verb == "Destroy",
        },
        max_unavailable: max_unavailable.map(usize::from),
    };
    let reporter = ProgressReporter::new(bars_wanted(global.no_progress));
    let report = ops::apply(provider, plan, options, &reporter)
        .await
        .map_err(|e| anyhow::Error::new(e).context("refusing to apply the plan"))?;
    style::eprint(&render::report_text(verb, &report));
    if report.is_success() {
        return Ok(Outcome::Success);
    }
    if verb != "Destroy" && (*rollback || plan.protected) {
        eprintln!(
            "rolling back the changes this run made{}",
            if plan.protected && !*rollback {
                format!(" (`{}` is protected)", plan.environment)
            } else {
                String::new()
            }
        );
        let undone = envctl_engine::rollback(plan, &report, provider, &reporter).await;
        style::eprint(&render::rollback_text(&undone));
    }
    Err(Reported { code: 1 }.into())
}
