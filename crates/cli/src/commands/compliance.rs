//! `envctl compliance [ENV...]`: the spec's `[compliance]` rules checked on the live cloud,
//! most severe first, per environment. Read-only; `--fail-on` sets which severities make the
//! exit code 2.

use envctl_engine::{Environments, ops};

use crate::args::{ComplianceArgs, GlobalArgs, ReportFormat};
use crate::commands::{lookup_error, selected_environments, write_stdout};
use crate::context::{connect, expand, load_spec};
use crate::errors::{Outcome, UserError};
use crate::report;

pub async fn run(global: &GlobalArgs, args: ComplianceArgs) -> anyhow::Result<Outcome> {
    let ComplianceArgs {
        environments,
        output,
        fail_on,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let rules = loaded.spec.compliance().rules.len();
    if rules == 0 {
        return Err(UserError::new(format!(
            "`{}` has no `[compliance]` rules to check",
            loaded.source.path
        ))
        .hint("add a `[compliance]` table, such as `forbid_world_ingress = { except_ports = [443] }` (README, \"Compliance\")")
        .into());
    }
    let names = selected_environments(&loaded, environments);
    for name in &names {
        expand(&loaded, name)?;
    }
    let proven: Vec<&str> = names.iter().map(String::as_str).collect();
    let providers = connect(global, &loaded, &proven).await?;
    let reports = ops::compliance(&providers, &loaded.spec, &proven)
        .await
        .map_err(|e| lookup_error(&loaded, e))?;
    let fail_on = fail_on.severity();
    let text = match output {
        ReportFormat::Text => report::compliance_text(&reports, rules),
        ReportFormat::Markdown | ReportFormat::Json => {
            let provenance =
                crate::commands::provenance(&loaded, providers.provider(&names[0])).await;
            if output == ReportFormat::Json {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&report::compliance_json(
                        &reports,
                        fail_on,
                        &provenance
                    ))?
                )
            } else {
                report::compliance_markdown(&reports, &provenance)
            }
        }
    };
    write_stdout(text.as_bytes())?;
    let failing = reports.iter().any(|r| r.at_least(fail_on).next().is_some());
    Ok(if failing {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
