//! `envctl plan ENV`: show (and optionally save) what apply would change.

use std::io::Write;

use envctl_engine::ops;

use crate::args::{GlobalArgs, OutputFormat, PlanArgs};
use crate::commands::print_notes;
use crate::context::{connect, load_spec, write_file};
use crate::errors::Outcome;
use crate::render;
use crate::style::Palette;

pub async fn run(global: &GlobalArgs, args: PlanArgs) -> anyhow::Result<Outcome> {
    let PlanArgs {
        environment,
        out,
        output,
        detailed_exitcode,
        replace,
        target,
    } = args;
    if let Some(path) = &out {
        crate::context::check_writable(path)?;
    }
    let loaded = load_spec(&global.spec)?;
    let desired = crate::context::expand_for_run(global, &loaded, &environment)?;
    let options = envctl_engine::PlanOptions {
        force_replace: crate::commands::replace_targets(&desired, &replace)?,
        targets: crate::commands::target_addresses(&desired, &target)?,
        // The whole truth: what `reconcile` would remove is listed too (apply leaves it).
        list_unmanaged: true,
        ..envctl_engine::PlanOptions::default()
    };
    let providers = connect(global, &loaded, &[&environment]).await?;
    // A plan a pull request shows is not green when the apply after merge would be refused.
    let messages = crate::frontend::Messages;
    let locks = crate::lock::store(&providers, &loaded);
    let plan = ops::plan_gated(
        &providers,
        &locks,
        &loaded.spec,
        &desired,
        &options,
        crate::context::today(),
        &messages,
    )
    .await
    .map_err(|e| crate::commands::gate::gate_error(&loaded, e))?;
    // `--out -`: the saved plan is stdout's data; the readable plan goes to stderr.
    let to_stdout = out.as_deref() == Some(std::path::Path::new("-"));
    if let Some(path) = &out {
        let saved = serde_json::to_string_pretty(&plan)?;
        if to_stdout {
            std::io::stdout().write_all(format!("{saved}\n").as_bytes())?;
        } else {
            write_file(path, &saved)?;
            eprintln!(
                "saved the plan to `{0}`; apply exactly this plan with `envctl apply --plan {0}`",
                path.display()
            );
        }
    }
    let text = match output {
        OutputFormat::Text => {
            print_notes(&plan.notes);
            let palette = if to_stdout {
                Palette::stderr()
            } else {
                Palette::stdout()
            };
            render::plan_text(&plan, palette)
        }
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::plan_json(&plan))?
        ),
    };
    if to_stdout {
        std::io::stderr().write_all(text.as_bytes())?;
    } else {
        std::io::stdout().write_all(text.as_bytes())?;
    }
    if !plan.blockers.is_empty() {
        // The plan is shown in full (with its blockers); applying it would be refused.
        return Err(crate::errors::Reported { code: 1 }.into());
    }
    Ok(if detailed_exitcode && !plan.is_empty() {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
