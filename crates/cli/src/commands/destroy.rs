//! `envctl destroy ENV`: delete everything the environment owns, in reverse order.

use envctl_engine::ops;

use crate::args::{DestroyArgs, GlobalArgs};
use crate::commands::apply::{ShowPlan, execute_plan};
use crate::commands::cloud_error;
use crate::context::{connect, expand, load_spec};
use crate::errors::Outcome;

pub async fn run(global: &GlobalArgs, args: DestroyArgs) -> anyhow::Result<Outcome> {
    let DestroyArgs {
        environment,
        execution,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = expand(&loaded, &environment)?;
    let provider = connect(global, loaded.spec.region()).await;
    crate::lock::locked(
        &provider,
        desired.lock_bucket.clone(),
        &desired.project.clone(),
        &environment,
        execution.lock_timeout,
        async {
            let plan = ops::plan_destroy(&provider, &desired).await.map_err(|e| {
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
                "Destroy",
                ShowPlan::Full,
            )
            .await
        },
    )
    .await
}
