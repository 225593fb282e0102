//! `envctl audit`: drift of every environment, parity of every promotion pair, and expired or
//! expiring declared differences, in one report for scheduled jobs. Read-only.

use std::io::Write;

use envctl_engine::ops;

use crate::args::{AuditArgs, AuditFormat, GlobalArgs};
use crate::commands::cloud_error;
use crate::commands::parity::{compare, promotion_pairs};
use crate::context::{connect, expand, load_spec_for_audit, today};
use crate::errors::Outcome;
use crate::render::{self, Audit};

pub async fn run(global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<Outcome> {
    let AuditArgs { output } = args;
    // Expired differences are findings of the audit, not reasons to stop it.
    let loaded = load_spec_for_audit(&global.spec)?;
    let provider = connect(global, loaded.spec.region()).await?;
    let mut drift = Vec::new();
    for name in loaded.spec.environment_names() {
        let desired = expand(&loaded, name)?;
        let (_, report) = ops::drift(&provider, &desired)
            .await
            .map_err(|e| cloud_error(e, format!("failed to read the live state of `{name}`")))?;
        drift.push(report);
    }
    let mut parity = Vec::new();
    let has_pairs = loaded.spec.environment_names().iter().any(|n| {
        loaded
            .spec
            .environment(n)
            .is_some_and(|e| e.promote_from.is_some())
    });
    if has_pairs {
        for (from, to) in promotion_pairs(&loaded, Vec::new())? {
            parity.push(compare(&loaded, &provider, &from, &to).await?);
        }
    }
    let differences = render::declared_differences(&loaded.spec, today());
    if output != AuditFormat::Json {
        for report in &drift {
            crate::commands::print_notes(&report.notes);
        }
    }
    let audit = Audit {
        drift,
        parity,
        differences,
    };
    let text = match output {
        AuditFormat::Text => render::audit_text(&audit),
        AuditFormat::Markdown => render::audit_markdown(&audit),
        AuditFormat::Json => {
            let provenance = crate::commands::provenance(global, &loaded, &provider).await;
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
