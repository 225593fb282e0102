//! `envctl destroy ENV`: delete everything the environment owns, in reverse order.

use envctl_engine::Interrupt;
use envctl_engine::ops::{self, Session};

use crate::args::{DestroyArgs, GlobalArgs};
use crate::commands::change::{self, watch_interrupts};
use crate::context::{connect, load_spec, today};
use crate::errors::Outcome;
use crate::frontend::{ShowPlan, Terminal};

pub async fn run(global: &GlobalArgs, args: DestroyArgs) -> anyhow::Result<Outcome> {
    let DestroyArgs {
        environment,
        execution,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = crate::context::expand_for_destroy(global, &loaded, &environment)?;
    let providers = connect(global, &loaded, &[&environment]).await?;
    let locks = crate::lock::store(&providers, &loaded);
    let terminal = Terminal::new(
        global.no_progress,
        execution.yes,
        execution.confirm.clone(),
        ShowPlan::Full,
        &environment,
    )
    .with_json_result(execution.output == crate::args::OutputFormat::Json);
    let interrupt = Interrupt::new();
    let _interrupts = watch_interrupts(&terminal, &interrupt);
    let session = Session {
        environments: &providers,
        locks: &locks,
        frontend: &terminal,
        today: today(),
    };
    let outcome = ops::destroy(session, &desired, &change::options(&execution, &interrupt))
        .await
        .map_err(|e| change::error(&loaded, e))?;
    let json = (execution.output == crate::args::OutputFormat::Json)
        .then_some((&terminal, envctl_engine::ops::Operation::Destroy));
    change::finish(outcome, json)
}
