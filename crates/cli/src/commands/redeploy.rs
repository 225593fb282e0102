//! `envctl redeploy ENV`: rebuild an environment from the spec, optionally as it was at a git
//! revision, replacing drifted (or all) resources instead of patching them.

use envctl_engine::{PlanOptions, ReplacePolicy, ops};

use crate::args::{GlobalArgs, RedeployArgs};
use crate::commands::change::{LockTarget, ShowPlan, change};
use crate::commands::cloud_error;
use crate::context::{connect, load_spec, load_spec_at_revision};
use crate::errors::Outcome;

pub async fn run(global: &GlobalArgs, args: RedeployArgs) -> anyhow::Result<Outcome> {
    let RedeployArgs {
        environment,
        r#ref: revision,
        replace_drifted,
        replace_all,
        replace,
        execution,
        gate,
    } = args;
    let loaded = match &revision {
        Some(revision) => load_spec_at_revision(&global.spec, revision)?,
        None => load_spec(&global.spec)?,
    };
    if let Some(revision) = &revision {
        eprintln!("using the spec as of git revision `{revision}`");
    }
    let mut desired = crate::context::expand_for_run(global, &loaded, &environment)?;
    let force_replace = crate::commands::replace_targets(&desired, &replace)?;
    let provider = connect(global, loaded.spec.region()).await?;
    let options = PlanOptions {
        force_replace,
        remove_unmanaged: true,
        replace: if replace_all {
            ReplacePolicy::All
        } else if replace_drifted {
            ReplacePolicy::Drifted
        } else {
            ReplacePolicy::InPlace
        },
    };
    crate::commands::gate::enforce_expiry(&loaded, &mut desired, &gate)?;
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
        envctl_engine::ops::Operation::Redeploy,
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
