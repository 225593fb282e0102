//! `envctl destroy ENV`: delete everything the environment owns, in reverse order.

use envctl_engine::ops;

use crate::args::{DestroyArgs, GlobalArgs};
use crate::commands::change::{LockTarget, ShowPlan, change};
use crate::commands::cloud_error;
use crate::context::{connect, load_spec};
use crate::errors::Outcome;

pub async fn run(global: &GlobalArgs, args: DestroyArgs) -> anyhow::Result<Outcome> {
    let DestroyArgs {
        environment,
        execution,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = crate::context::expand_for_run(global, &loaded, &environment)?;
    let provider = connect(global, loaded.spec.region()).await?;
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
        envctl_engine::ops::Operation::Destroy,
        ShowPlan::Full,
        &target,
        true,
        || async {
            ops::plan_destroy(&provider, &desired).await.map_err(|e| {
                cloud_error(
                    e,
                    format!("failed to read the live state of `{environment}`"),
                )
            })
        },
    )
    .await
}
