//! `envctl state ENV`: what an environment owns in the cloud as read now: each address with its
//! cloud id, its state where it has one, and what the cloud assigned (endpoints, addresses),
//! what `terraform state list` and `terraform output` give. Read-only.

use std::fmt::Write as _;
use std::io::Write;

use envctl_engine::live::LiveState;
use envctl_engine::{Environments, ReadDepth, ops};
// The live field that says whether an instance runs (`running`, `stopped`).
use envctl_providers::INSTANCE_STATE_FIELD as STATE_FIELD;
use serde_json::json;

use crate::args::{GlobalArgs, OutputFormat, StateArgs};
use crate::commands::cloud_error;
use crate::context::{connect, expand, load_spec};
use crate::errors::Outcome;

pub async fn run(global: &GlobalArgs, args: StateArgs) -> anyhow::Result<Outcome> {
    let StateArgs {
        environment,
        output,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = expand(&loaded, &environment)?;
    let providers = connect(global, &loaded, &[&environment]).await?;
    let provider = providers.provider(&environment);
    let mut live = ops::read_live(provider, &desired, ReadDepth::Owned)
        .await
        .map_err(|e| {
            cloud_error(
                e,
                format!("failed to read the live state of `{environment}`"),
            )
        })?;
    live.resources.sort_by(|a, b| {
        a.address
            .to_string()
            .cmp(&b.address.to_string())
            .then_with(|| a.id.cmp(&b.id))
    });
    let text = match output {
        OutputFormat::Text => state_text(&environment, &live),
        OutputFormat::Json => {
            let provenance = crate::commands::provenance(&loaded, provider).await;
            format!(
                "{}\n",
                serde_json::to_string_pretty(&json!({
                    "format_version": crate::render::JSON_FORMAT_VERSION,
                    "project": provenance.project,
                    "environment": environment,
                    "region": live.region.clone().unwrap_or(provenance.region.clone()),
                    "account": live.account.clone().or(provenance.account.clone()),
                    "generated_at": provenance.generated_at(),
                    "resources": live.resources.iter().map(|r| json!({
                        "address": r.address.to_string(),
                        "kind": r.kind,
                        "id": r.id,
                        "state": r.fields.get(STATE_FIELD).and_then(|v| v.as_str()),
                        "outputs": r.outputs,
                    })).collect::<Vec<_>>(),
                }))?
            )
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

/// One line per resource: address, cloud id, state, outputs; aligned.
fn state_text(environment: &str, live: &LiveState) -> String {
    let mut out = String::new();
    if live.resources.is_empty() {
        let _ = writeln!(
            out,
            "`{environment}` owns nothing in the cloud (never applied, or destroyed)"
        );
        return out;
    }
    let width = live
        .resources
        .iter()
        .map(|r| r.address.to_string().len())
        .max()
        .unwrap_or_default();
    let id_width = live
        .resources
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or_default();
    for resource in &live.resources {
        let state = resource
            .fields
            .get(STATE_FIELD)
            .and_then(|v| v.as_str())
            .unwrap_or("-");
        let outputs: Vec<String> = resource
            .outputs
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<width$}  {:<id_width$}  {state:<8}  {}",
            resource.address.to_string(),
            resource.id,
            outputs.join(" ")
        );
    }
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}
