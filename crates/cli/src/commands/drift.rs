//! `envctl drift [ENV...]`: report how live environments depart from the spec. Read-only.

use std::io::Write;

use envctl_engine::{Environments, ops};

use crate::args::{DriftArgs, GlobalArgs, OutputFormat};
use crate::commands::{cloud_error, selected_environments};
use crate::context::{check_secret_sources, connect, expand, load_spec};
use crate::errors::Outcome;
use crate::render;

pub async fn run(global: &GlobalArgs, args: DriftArgs) -> anyhow::Result<Outcome> {
    let DriftArgs {
        environments,
        output,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let names = selected_environments(&loaded, environments);
    // A secret is compared with its source: every source must be readable before any call.
    let mut expanded = Vec::new();
    for name in &names {
        let desired = expand(&loaded, name)?;
        check_secret_sources(&desired)?;
        expanded.push(desired);
    }
    let proven: Vec<&str> = names.iter().map(String::as_str).collect();
    let providers = connect(global, &loaded, &proven).await?;
    let mut reports = Vec::new();
    for (name, desired) in names.iter().zip(expanded) {
        let (_, report) = ops::drift(providers.provider(name), &desired)
            .await
            .map_err(|e| cloud_error(e, format!("failed to read the live state of `{name}`")))?;
        reports.push(report);
    }
    let text = match output {
        OutputFormat::Text => {
            for report in &reports {
                crate::commands::print_notes(&report.notes);
            }
            render::drift_text(&reports)
        }
        OutputFormat::Json => {
            let provenance =
                crate::commands::provenance(&loaded, providers.provider(&names[0])).await;
            format!(
                "{}\n",
                serde_json::to_string_pretty(&render::drift_json(&reports, &provenance))?
            )
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(if reports.iter().all(|r| r.is_clean()) {
        Outcome::Success
    } else {
        Outcome::ChangesPending
    })
}
