//! `envctl redeploy ENV`: rebuild an environment from the spec, optionally as it was at a git
//! revision, replacing drifted (or all) resources instead of patching them.

use envctl_engine::ops::{self, RedeployOptions, Session};
use envctl_engine::{Interrupt, ReplacePolicy};

use crate::args::{GlobalArgs, RedeployArgs};
use crate::commands::change::{self, watch_interrupts};
use crate::context::{connect, load_spec, load_spec_at_revision, today};
use crate::errors::Outcome;
use crate::frontend::{ShowPlan, Terminal};

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
    let desired = crate::context::expand_for_run(global, &loaded, &environment)?;
    crate::context::refuse_critical_violations(&loaded, &desired)?;
    let redeploy = RedeployOptions {
        force_replace: crate::commands::replace_targets(&desired, &replace)?,
        replace: if replace_all {
            ReplacePolicy::All
        } else if replace_drifted {
            ReplacePolicy::Drifted
        } else {
            ReplacePolicy::InPlace
        },
    };
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
    let outcome = ops::redeploy(
        session,
        &loaded.spec,
        desired,
        &redeploy,
        &crate::commands::gate::options(&gate),
        &change::options(&execution, &interrupt),
    )
    .await
    .map_err(|e| change::error(&loaded, e))?;
    let json = (execution.output == crate::args::OutputFormat::Json)
        .then_some((&terminal, envctl_engine::ops::Operation::Redeploy));
    change::finish(outcome, json)
}
