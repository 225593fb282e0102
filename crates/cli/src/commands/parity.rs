//! `envctl parity`: compare live environments with each other, or list the declared
//! differences with their justification and expiry.

use std::collections::BTreeSet;
use std::io::Write;

use envctl_engine::{ParityReport, ReadDepth, compare_environments, ops};
use envctl_providers::AwsProvider;

use crate::args::{GlobalArgs, OutputFormat, ParityArgs};
use crate::commands::cloud_error;
use crate::context::{LoadedSpec, connect, expand, load_spec, today};
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
        let listed = render::declared_differences(&loaded.spec, today());
        let text = match output {
            OutputFormat::Text => render::declared_differences_text(&listed),
            OutputFormat::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&serde_json::json!({
                    "format_version": render::JSON_FORMAT_VERSION,
                    "differences": listed,
                }))?
            ),
        };
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(Outcome::Success);
    }
    let pairs = promotion_pairs(&loaded, environments)?;
    let provider = connect(global, loaded.spec.region()).await?;
    let mut reports = Vec::new();
    for (from, to) in &pairs {
        reports.push(compare(&loaded, &provider, from, to).await?);
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
            let pairs: Vec<(String, String)> = loaded
                .spec
                .environment_names()
                .into_iter()
                .filter_map(|name| {
                    let settings = loaded.spec.environment(name)?;
                    Some((settings.promote_from.clone()?, name.to_string()))
                })
                .collect();
            if pairs.is_empty() {
                return Err(UserError::new("no environment of the spec has `promote_from`")
                    .hint("name two environments to compare: `envctl parity staging production`")
                    .into());
            }
            Ok(pairs)
        }
    }
}

/// Reads both environments and compares them.
pub async fn compare(
    loaded: &LoadedSpec,
    provider: &AwsProvider,
    from: &str,
    to: &str,
) -> anyhow::Result<ParityReport> {
    let declared: BTreeSet<(String, String)> = loaded
        .spec
        .differences()
        .iter()
        .map(|d| (d.resource.clone(), d.field.clone()))
        .collect();
    let from_desired = expand(loaded, from)?;
    let to_desired = expand(loaded, to)?;
    let (from_live, to_live) = tokio::try_join!(
        ops::read_live(provider, &from_desired, ReadDepth::Owned),
        ops::read_live(provider, &to_desired, ReadDepth::Owned),
    )
    .map_err(|e| {
        cloud_error(
            e,
            format!("failed to read the live state of `{from}` and `{to}`"),
        )
    })?;
    Ok(compare_environments(
        from, &from_live, to, &to_live, &declared,
    ))
}
