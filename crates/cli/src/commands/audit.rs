//! `envctl audit`: drift of every environment, parity of every promotion pair (resources and
//! probe documents), the compliance rules on the live cloud, and expired or expiring declared
//! differences, in one report for scheduled jobs: text, Markdown, HTML or JSON. Read-only.

use envctl_engine::{Environments, ops};

use crate::args::{AuditArgs, AuditFormat, GlobalArgs};
use crate::commands::{lookup_error, write_stdout};
use crate::context::{check_secret_sources, connect, load_spec_for_audit, probe_client, today};
use crate::errors::Outcome;
use crate::report;

pub async fn run(global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<Outcome> {
    let AuditArgs { output, fail_on } = args;
    let fail_on = fail_on.severity();
    // Expired differences are findings of the audit, not reasons to stop it.
    let loaded = load_spec_for_audit(&global.spec)?;
    // The audit compares secrets with their sources: every source must be readable first.
    for name in loaded.spec.environment_names() {
        if let Ok(desired) = loaded.spec.expand(name) {
            check_secret_sources(&desired)?;
        }
    }
    let probes = probe_client(&global.spec)?;
    let names = loaded.spec.environment_names();
    let providers = connect(global, &loaded, &names).await?;
    let locks = crate::lock::store(&providers, &loaded);
    let audit = ops::audit(&providers, &locks, &loaded.spec, &probes, today())
        .await
        .map_err(|e| lookup_error(&loaded, e))?;
    let provenance = crate::commands::provenance(&loaded, providers.provider(names[0])).await;
    let text = match output {
        AuditFormat::Text => report::audit_text(&audit, &provenance, fail_on),
        AuditFormat::Markdown => report::audit_markdown(&audit, &provenance, fail_on),
        AuditFormat::Html => report::audit_html(&audit, &provenance, fail_on),
        AuditFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report::audit_json(&audit, &provenance, fail_on))?
        ),
    };
    write_stdout(text.as_bytes())?;
    Ok(if audit.findings_at(fail_on) == 0 {
        Outcome::Success
    } else {
        Outcome::ChangesPending
    })
}
