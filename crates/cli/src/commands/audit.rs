//! `envctl audit`: drift of every environment, parity of every promotion pair, and expired or
//! expiring declared differences, in one report for scheduled jobs. Read-only.

use std::io::Write;

use envctl_engine::{Environments, ops};

use crate::args::{AuditArgs, AuditFormat, GlobalArgs};
use crate::commands::lookup_error;
use crate::context::{check_secret_sources, connect, load_spec_for_audit, today};
use crate::errors::Outcome;
use crate::render;

pub async fn run(global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<Outcome> {
    let AuditArgs { output } = args;
    // Expired differences are findings of the audit, not reasons to stop it.
    let loaded = load_spec_for_audit(&global.spec)?;
    // The audit compares secrets with their sources: every source must be readable first.
    for name in loaded.spec.environment_names() {
        if let Ok(desired) = loaded.spec.expand(name) {
            check_secret_sources(&desired)?;
        }
    }
    let names = loaded.spec.environment_names();
    let providers = connect(global, &loaded, &names).await?;
    let audit = ops::audit(&providers, &loaded.spec, today())
        .await
        .map_err(|e| lookup_error(&loaded, e))?;
    if output != AuditFormat::Json {
        for report in &audit.drift {
            crate::commands::print_notes(&report.notes);
        }
    }
    let text = match output {
        AuditFormat::Text => render::audit_text(&audit),
        AuditFormat::Markdown => render::audit_markdown(&audit),
        AuditFormat::Json => {
            let provenance =
                crate::commands::provenance(&loaded, providers.provider(names[0])).await;
            format!(
                "{}\n",
                serde_json::to_string_pretty(&render::audit_json(&audit, &provenance))?
            )
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(if audit.findings() == 0 {
        Outcome::Success
    } else {
        Outcome::ChangesPending
    })
}
