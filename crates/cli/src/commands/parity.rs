//! `envctl parity`: compare live environments with each other (their resources and the
//! documents their `[[probes]]` return), or list the declared differences with their
//! justification and expiry.

use std::io::Write;

use envctl_engine::{ParityReport, ops};

use crate::args::{GlobalArgs, OutputFormat, ParityArgs};
use crate::commands::lookup_error;
use crate::context::{LoadedSpec, connect, expand, load_spec, probe_client, today};
use crate::errors::{Outcome, UserError};
use crate::render;

pub async fn run(global: &GlobalArgs, args: ParityArgs) -> anyhow::Result<Outcome> {
    let ParityArgs {
        environments,
        output,
        differences,
    } = args;
    let loaded = load_spec(&global.spec)?;
    if differences {
        let listed = ops::declared_differences(loaded.spec.differences(), today());
        let text = match output {
            OutputFormat::Text => render::declared_differences_text(&listed),
            OutputFormat::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&serde_json::json!({
                    "format_version": render::JSON_FORMAT_VERSION,
                    "differences": render::differences_json(&listed),
                }))?
            ),
        };
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(Outcome::Success);
    }
    let pairs = promotion_pairs(&loaded, environments)?;
    let mut proven: Vec<&str> = Vec::new();
    for (from, to) in &pairs {
        for name in [from.as_str(), to.as_str()] {
            if !proven.contains(&name) {
                proven.push(name);
            }
        }
    }
    let probes = probe_client(&global.spec)?;
    let providers = connect(global, &loaded, &proven).await?;
    let mut reports = Vec::new();
    for (from, to) in &pairs {
        reports.push(
            ops::parity::compare_with_probes(&providers, &loaded.spec, &probes, from, to)
                .await
                .map_err(|e| lookup_error(&loaded, e))?,
        );
    }
    let text = match output {
        OutputFormat::Text => render::parity_text(&reports),
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::parity_json(&reports))?
        ),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(if reports.iter().all(ParityReport::at_parity) {
        Outcome::Success
    } else {
        Outcome::ChangesPending
    })
}

/// The pairs to compare: the two named, or each environment with its `promote_from`.
pub fn promotion_pairs(
    loaded: &LoadedSpec,
    named: Vec<String>,
) -> anyhow::Result<Vec<(String, String)>> {
    match named.as_slice() {
        [from, to] if from == to => Err(UserError::new(format!(
            "`envctl parity {from} {to}` compares `{from}` with itself"
        ))
        .hint("name two different environments (`envctl parity staging production`), or none to compare each with its `promote_from`")
        .into()),
        [from, to] => {
            for name in [from, to] {
                expand(loaded, name)?;
            }
            Ok(vec![(from.clone(), to.clone())])
        }
        [one] => Err(UserError::new(format!(
            "`envctl parity` compares two environments, `{one}` is only one"
        ))
        .hint("name two (`envctl parity staging production`) or none (each environment against its `promote_from`)")
        .into()),
        _ => {
            let pairs = ops::parity::promotion_pairs(&loaded.spec);
            if pairs.is_empty() {
                return Err(UserError::new("no environment of the spec has `promote_from`")
                    .hint("name two environments to compare: `envctl parity staging production`")
                    .into());
            }
            Ok(pairs)
        }
    }
}
