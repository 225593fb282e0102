//! Turning plans, desired states and apply reports into text and JSON for people and pipelines.
//!
//! Owns every user-visible rendering of data (not of errors). Invariants: data goes to stdout
//! through these functions' return values, never printed here; text is understandable without
//! color; JSON carries a `format_version`; nothing rendered can contain a secret, because no
//! type rendered here holds one.

use std::fmt::Write as _;

use envctl_engine::{
    Action, ApplyReport, Cause, DriftKind, DriftReport, Note, Outcome, Plan, PlanSummary, Step,
};
use envctl_spec::{DesiredState, Value};
use serde::Serialize;
use serde_json::json;

/// The JSON format version of plan, show and report output.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// `Plan: 1 to create, 2 to update, 0 to replace, 0 to delete.`
pub fn summary_line(summary: &PlanSummary) -> String {
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete.",
        summary.create, summary.update, summary.replace, summary.delete
    )
}

fn value_text(value: Option<&Value>) -> String {
    value.map_or_else(|| "(none)".to_string(), ToString::to_string)
}

/// Warnings for differences envctl deliberately leaves alone.
pub fn notes_text(notes: &[Note]) -> String {
    let mut out = String::new();
    for note in notes {
        let _ = writeln!(out, "warning: {}: {}", note.address, note.message);
        if let Some(hint) = &note.hint {
            let _ = writeln!(out, "  hint: {hint}");
        }
    }
    out
}

/// The human-readable plan.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = notes_text(&plan.notes);
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "No changes: `{}` matches the spec ({} in {}).",
            plan.environment, plan.project, plan.region
        );
        return out;
    }
    let _ = writeln!(
        out,
        "envctl will make these changes to `{}` ({} in {}):\n",
        plan.environment, plan.project, plan.region
    );
    for change in &plan.changes {
        let _ = writeln!(
            out,
            "  {:>3} {}  ({}{})",
            change.action.symbol(),
            change.address,
            change.cause,
            change
                .live
                .as_ref()
                .map(|l| format!(", {}", l.id))
                .unwrap_or_default()
        );
        if let Some(reason) = &change.reason {
            let _ = writeln!(out, "        # {reason}");
        }
        match change.action {
            Action::Create => {
                if let Some(desired) = &change.desired {
                    for (field, value) in &desired.fields {
                        let _ = writeln!(out, "        {field} = {value}");
                    }
                }
            }
            Action::Update | Action::Replace => {
                for field in &change.fields {
                    let _ = writeln!(
                        out,
                        "        {}: {} -> {}{}",
                        field.field,
                        value_text(field.live.as_ref()),
                        value_text(field.desired.as_ref()),
                        if field.forces_replacement {
                            "  (forces replacement)"
                        } else {
                            ""
                        }
                    );
                }
            }
            Action::Delete => {}
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(&plan.summary()));
    out
}

#[derive(Serialize)]
struct JsonField<'a> {
    field: &'a str,
    live: Option<&'a Value>,
    desired: Option<&'a Value>,
    forces_replacement: bool,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    address: String,
    action: Action,
    cause: envctl_engine::Cause,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    fields: Vec<JsonField<'a>>,
}

/// The machine-readable plan: `{"format_version", "environment", "changes", "summary", ...}`.
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let changes: Vec<JsonChange> = plan
        .changes
        .iter()
        .map(|c| JsonChange {
            address: c.address.to_string(),
            action: c.action,
            cause: c.cause,
            reason: c.reason.as_deref(),
            fields: c
                .fields
                .iter()
                .map(|f| JsonField {
                    field: &f.field,
                    live: f.live.as_ref(),
                    desired: f.desired.as_ref(),
                    forces_replacement: f.forces_replacement,
                })
                .collect(),
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "project": plan.project,
        "environment": plan.environment,
        "parity_digest": plan.parity_digest,
        "changes": changes,
        "summary": plan.summary(),
        "notes": plan.notes,
    })
}

fn cause_text(cause: Cause) -> &'static str {
    match cause {
        Cause::Drift => "changed outside envctl",
        Cause::Spec => "the spec changed since the last apply",
        Cause::Orphan => "tagged for this environment but not in the spec",
        Cause::Unmanaged => "not created by envctl, inside the environment's network",
        Cause::Destroy | Cause::Redeploy => "",
    }
}

/// The human-readable drift of several environments.
pub fn drift_text(reports: &[DriftReport]) -> String {
    let mut out = String::new();
    for report in reports {
        out.push_str(&notes_text(&report.notes));
        if report.is_clean() {
            let _ = writeln!(
                out,
                "`{}`: no drift, live state matches the spec",
                report.environment
            );
            continue;
        }
        let _ = writeln!(
            out,
            "`{}`: {} departure{} from the spec",
            report.environment,
            report.drift.len(),
            if report.drift.len() == 1 { "" } else { "s" }
        );
        for entry in &report.drift {
            let kind = match entry.kind {
                DriftKind::Modified => "modified",
                DriftKind::Missing => "missing",
                DriftKind::Unmanaged => "unmanaged",
            };
            let id = entry
                .id
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default();
            let cause = match (entry.kind, entry.cause) {
                (DriftKind::Missing, _) => "deleted outside envctl or never created",
                (DriftKind::Unmanaged, Cause::Drift | Cause::Spec) => "added outside envctl",
                (_, cause) => cause_text(cause),
            };
            let _ = writeln!(out, "  {kind:<9} {}{id}: {cause}", entry.address);
            for field in &entry.fields {
                match entry.kind {
                    DriftKind::Unmanaged => {
                        let _ = writeln!(
                            out,
                            "      {}: {} not in the spec",
                            field.field,
                            value_text(field.live.as_ref())
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "      {}: live {}, spec {}",
                            field.field,
                            value_text(field.live.as_ref()),
                            value_text(field.desired.as_ref())
                        );
                    }
                }
            }
        }
    }
    out
}

/// The machine-readable drift: `{"format_version", "environments": [{"environment", "drift"}]}`.
pub fn drift_json(reports: &[DriftReport]) -> serde_json::Value {
    let environments: Vec<serde_json::Value> = reports
        .iter()
        .map(|report| {
            let drift: Vec<serde_json::Value> = report
                .drift
                .iter()
                .map(|entry| {
                    json!({
                        "address": entry.address.to_string(),
                        "resource_kind": entry.resource_kind,
                        "kind": entry.kind,
                        "cause": entry.cause,
                        "id": entry.id,
                        "fields": entry.fields.iter().map(|f| json!({
                            "field": f.field,
                            "live": f.live,
                            "desired": f.desired,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "environment": report.environment,
                "clean": report.is_clean(),
                "drift": drift,
                "notes": report.notes,
            })
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "environments": environments,
    })
}

/// The human-readable expansion of one environment.
pub fn desired_text(state: &DesiredState) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "environment `{}` of `{}` in {}: {} resources",
        state.environment,
        state.project,
        state.region,
        state.resources.len()
    );
    let _ = writeln!(out, "parity digest: {}", state.parity_digest);
    if state.protected {
        let _ = writeln!(
            out,
            "protected: destroy and replace need the environment's name typed"
        );
    }
    if let Some(from) = &state.promote_from {
        let _ = writeln!(out, "promoted from: `{from}`");
    }
    for resource in &state.resources {
        let _ = writeln!(out, "\n{}  ({})", resource.address, resource.cloud_name);
        for (field, value) in &resource.fields {
            let _ = writeln!(out, "    {field} = {value}");
        }
        if !resource.depends_on.is_empty() {
            let deps: Vec<String> = resource
                .depends_on
                .iter()
                .map(ToString::to_string)
                .collect();
            let _ = writeln!(out, "    depends on: {}", deps.join(", "));
        }
        let tags: Vec<String> = resource
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "    tags: {}", tags.join(", "));
    }
    out
}

/// The machine-readable expansion: the desired state plus the format version.
pub fn desired_json(state: &DesiredState) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(state)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("format_version".into(), json!(JSON_FORMAT_VERSION));
    }
    Ok(value)
}

/// The closing summary of an apply or destroy, with each failure and skip explained.
pub fn report_text(verb: &str, report: &ApplyReport) -> String {
    let mut out = String::new();
    for operation in &report.operations {
        let step = match (operation.action, operation.step) {
            (Action::Replace, Step::Create) => "replace (create new)".to_string(),
            (Action::Replace, Step::Delete) => "replace (delete old)".to_string(),
            (_, step) => step.verb().to_string(),
        };
        match &operation.outcome {
            Outcome::Succeeded => {}
            Outcome::Failed(error) => {
                let _ = writeln!(out, "error: {step} {} failed: {error}", operation.address);
            }
            Outcome::Skipped { because } => {
                let _ = writeln!(
                    out,
                    "skipped: {step} {} (it depends on {because}, which failed)",
                    operation.address
                );
            }
        }
    }
    let status = if report.is_success() {
        "complete"
    } else {
        "incomplete"
    };
    let _ = writeln!(
        out,
        "{verb} {status}: {} succeeded, {} failed, {} skipped.",
        report.succeeded(),
        report.failed(),
        report.skipped()
    );
    out
}
