//! `envctl graph ENV`: the apply graph of what `apply` (or, with `--destroy`, `destroy`)
//! would do now, in Graphviz DOT, built by the same code the executor runs: creates and
//! updates follow the dependencies, deletes go in reverse. Read-only.

use std::io::Write;

use envctl_engine::{ApplyGraph, Environments, ops};

use crate::args::{GlobalArgs, GraphArgs};
use crate::commands::cloud_error;
use crate::context::{connect, expand_for_destroy, expand_for_run, load_spec};
use crate::errors::{Outcome, UserError};
use crate::render;

pub async fn run(global: &GlobalArgs, args: GraphArgs) -> anyhow::Result<Outcome> {
    let GraphArgs {
        environment,
        destroy,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = if destroy {
        expand_for_destroy(global, &loaded, &environment)?
    } else {
        expand_for_run(global, &loaded, &environment)?
    };
    let providers = connect(global, &loaded, &[&environment]).await?;
    let provider = providers.provider(&environment);
    let plan = if destroy {
        ops::plan_destroy(provider, &desired).await
    } else {
        ops::plan(provider, &desired).await
    }
    .map_err(|e| {
        cloud_error(
            e,
            format!("failed to read the live state of `{environment}`"),
        )
    })?;
    let graph = ApplyGraph::from_plan(&plan).map_err(|e| {
        UserError::new(e.to_string()).hint("break the cycle in the spec's references")
    })?;
    if plan.changes.is_empty() {
        eprintln!(
            "`{environment}` matches the spec: nothing to {}, the graph is empty",
            if destroy { "destroy" } else { "apply" }
        );
    }
    let name = format!(
        "{} {} {}",
        if destroy { "destroy" } else { "apply" },
        desired.project,
        environment
    );
    std::io::stdout().write_all(render::graph_dot(&name, &graph).as_bytes())?;
    Ok(Outcome::Success)
}
