//! `envctl plan ENV`: show (and optionally save) what apply would change.

use std::io::Write;

use envctl_engine::ops;

use crate::args::{GlobalArgs, OutputFormat, PlanArgs};
use crate::commands::{cloud_error, print_notes};
use crate::context::{connect, expand, load_spec, write_file};
use crate::errors::Outcome;
use crate::render;
use crate::style::Palette;

pub async fn run(global: &GlobalArgs, args: PlanArgs) -> anyhow::Result<Outcome> {
    let PlanArgs {
        environment,
        out,
        output,
        detailed_exitcode,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = expand(&loaded, &environment)?;
    let provider = connect(global, loaded.spec.region()).await;
    let plan = ops::plan(&provider, &desired).await.map_err(|e| {
        cloud_error(
            e,
            format!("failed to read the live state of `{environment}`"),
        )
    })?;
    if let Some(path) = &out {
        write_file(path, &serde_json::to_string_pretty(&plan)?)?;
        eprintln!(
            "saved the plan to `{0}`; apply exactly this plan with `envctl apply --plan {0}`",
            path.display()
        );
    }
    let text = match output {
        OutputFormat::Text => {
            print_notes(&plan.notes);
            render::plan_text(&plan, Palette::stdout())
        }
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::plan_json(&plan))?
        ),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(if detailed_exitcode && !plan.is_empty() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
