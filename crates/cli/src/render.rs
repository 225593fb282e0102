//! Turning plans, desired states and apply reports into text and JSON for people and pipelines.
//!
//! Owns every user-visible rendering of data (not of errors). Invariants: data goes to stdout
//! through these functions' return values, never printed here; text is understandable without
//! color (color is only ever added by a [`Palette`]); JSON carries a `format_version` and
//! follows `docs/json-output.md`; nothing rendered can contain a secret, because no type
//! rendered here holds one.

use std::fmt::Write as _;

use envctl_engine::ops::{DeclaredDifference, ExpiryStatus, Operation};
use envctl_engine::{
    Action, ApplyReport, Cause, Change, DriftKind, DriftReport, Note, Outcome, Plan, PlanSummary,
    Step,
};
use envctl_spec::{DesiredState, Value};
use serde::Serialize;
use serde_json::json;

use crate::style::Palette;

/// The JSON format version of plan, show and report output.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// `Plan: 1 to create, 2 to update, 0 to replace, 0 to delete.`
pub fn summary_line(summary: &PlanSummary) -> String {
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete.",
        summary.create, summary.update, summary.replace, summary.delete
    )
}

pub fn value_text(value: Option<&Value>) -> String {
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

/// The human-readable plan (its notes are messages, rendered by [`notes_text`]), with the
/// action symbols in `palette`'s colors.
pub fn plan_text(plan: &Plan, palette: Palette) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "No changes: `{}` matches the spec ({} in {}).",
            plan.environment, plan.project, plan.region
        );
        out.push_str(&unmanaged_text(plan));
        out.push_str(&blockers_text(plan));
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
            "  {} {}  ({}{})",
            palette.action(change.action()),
            change.address,
            change.cause,
            change
                .live()
                .map(|l| format!(", {}", l.id))
                .unwrap_or_default()
        );
        if let Some(reason) = &change.reason {
            let _ = writeln!(out, "        # {reason}");
        }
        match &change.change {
            Change::Create { desired } => {
                for (field, value) in &desired.fields {
                    let _ = writeln!(out, "        {field} = {value}");
                }
            }
            Change::Update { fields, .. } | Change::Replace { fields, .. } => {
                for field in fields {
                    if field.is_secret() {
                        let _ = writeln!(out, "        {} changed (secret)", field.field);
                        continue;
                    }
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
            Change::Delete { .. } => {}
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(&plan.summary()));
    let summary = plan.summary();
    if plan.protected && (summary.replace > 0 || summary.delete > 0) {
        let _ = writeln!(
            out,
            "`{0}` is protected: applying this needs its name typed at the prompt, or `--confirm {0}`.",
            plan.environment
        );
    }
    out.push_str(&unmanaged_text(plan));
    out.push_str(&blockers_text(plan));
    out
}

/// What `reconcile` would remove and the plan leaves (untagged resources inside the
/// environment's network), one line each with its `Name` tag; empty when there are none.
fn unmanaged_text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.unmanaged.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n{} resource{} inside the network not created by envctl: apply leaves {}, `envctl reconcile {}` would delete {}:",
        plan.unmanaged.len(),
        if plan.unmanaged.len() == 1 { "" } else { "s" },
        if plan.unmanaged.len() == 1 {
            "it"
        } else {
            "them"
        },
        plan.environment,
        if plan.unmanaged.len() == 1 {
            "it"
        } else {
            "them"
        },
    );
    for change in &plan.unmanaged {
        let name = change
            .live()
            .and_then(|l| l.tags.get("Name"))
            .map(|n| format!("  (Name: {n})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  unmanaged {}{name}", change.address);
    }
    out
}

/// The reasons a plan cannot be carried out, one `blocked:` line each with its hint; empty
/// when there are none.
pub fn blockers_text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.blockers.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nThis plan cannot be applied: {} blocker{}, so nothing will be changed.",
        plan.blockers.len(),
        if plan.blockers.len() == 1 { "" } else { "s" }
    );
    for blocker in &plan.blockers {
        let _ = writeln!(
            out,
            "  blocked: {}({}): {}",
            blocker
                .address
                .as_ref()
                .map(|a| format!("{a} "))
                .unwrap_or_default(),
            blocker.kind,
            blocker.message
        );
        if let Some(hint) = &blocker.hint {
            let _ = writeln!(out, "    hint: {hint}");
        }
    }
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
    /// The resource kind (`instance`, `db_cluster`, ...).
    kind: envctl_spec::ResourceKind,
    /// The cloud id of the live resource (none for a create).
    id: Option<&'a str>,
    /// `create`, `update`, `replace` or `delete`.
    action: &'static str,
    cause: envctl_engine::Cause,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    fields: Vec<JsonField<'a>>,
}

/// The machine-readable plan: `{"format_version", "environment", "changes", "summary", ...}`
/// (documented in `docs/json-output.md`).
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let changes: Vec<JsonChange> = plan.changes.iter().map(json_change).collect();
    let unmanaged: Vec<JsonChange> = plan.unmanaged.iter().map(json_change).collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "project": plan.project,
        "environment": plan.environment,
        "region": plan.region,
        "account": plan.account,
        "parity_digest": plan.parity_digest,
        "changes": changes,
        "summary": plan.summary(),
        "notes": plan.notes,
        "unmanaged": unmanaged,
        "blockers": plan.blockers,
    })
}

/// One change as the plan's JSON shows it.
fn json_change(c: &envctl_engine::ResourceChange) -> JsonChange<'_> {
    JsonChange {
        address: c.address.to_string(),
        kind: c.kind,
        id: c.live().map(|l| l.id.as_str()),
        action: c.action().verb(),
        cause: c.cause,
        reason: c.reason.as_deref(),
        fields: match &c.change {
            // A create shows the values it will set, a delete the values it removes.
            Change::Create { desired } => desired
                .fields
                .iter()
                .map(|(field, value)| JsonField {
                    field,
                    live: None,
                    desired: Some(value),
                    forces_replacement: false,
                })
                .collect(),
            Change::Delete { live } => live
                .fields
                .iter()
                .map(|(field, value)| JsonField {
                    field,
                    live: Some(value),
                    desired: None,
                    forces_replacement: false,
                })
                .collect(),
            Change::Update { fields, .. } | Change::Replace { fields, .. } => fields
                .iter()
                .map(|f| JsonField {
                    field: &f.field,
                    live: f.live.as_ref(),
                    desired: f.desired.as_ref(),
                    forces_replacement: f.forces_replacement,
                })
                .collect(),
        },
    }
}

fn cause_text(cause: Cause) -> &'static str {
    match cause {
        Cause::Drift => "changed outside envctl",
        Cause::Spec => "the spec changed since the last apply",
        Cause::Orphan => "tagged for this environment but not in the spec",
        Cause::Duplicate => "a second copy of the address that nothing uses",
        Cause::ScaleDown => "beyond the count the spec asks for",
        Cause::Unmanaged => "not created by envctl, inside the environment's network",
        Cause::Destroy | Cause::Redeploy => "",
    }
}

/// The human-readable drift of several environments (their notes are messages, rendered by
/// [`notes_text`]).
pub fn drift_text(reports: &[DriftReport]) -> String {
    let mut out = String::new();
    for report in reports {
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
            let kind = match entry.kind() {
                DriftKind::Modified => "modified",
                DriftKind::Missing => "missing",
                DriftKind::Unmanaged => "unmanaged",
            };
            let id = entry.id().map(|id| format!(" ({id})")).unwrap_or_default();
            let cause = match (entry.kind(), entry.cause) {
                (DriftKind::Missing, _) => "deleted outside envctl or never created",
                (DriftKind::Unmanaged, Cause::Drift | Cause::Spec) => "added outside envctl",
                (_, cause) => cause_text(cause),
            };
            let _ = writeln!(out, "  {kind:<9} {}{id}: {cause}", entry.address);
            for field in entry.fields() {
                if field.is_secret() {
                    let _ = writeln!(out, "      {} changed (secret)", field.field);
                    continue;
                }
                match entry.kind() {
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
/// Where and when a report was made, as its JSON says at the top.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub project: String,
    pub region: String,
    /// The AWS account the credentials act in, when STS said.
    pub account: Option<String>,
    /// Seconds since the Unix epoch.
    pub generated_at_unix: u64,
}

impl Provenance {
    /// `2026-12-02T07:30:00Z`.
    pub fn generated_at(&self) -> String {
        iso_time(self.generated_at_unix)
    }
}

/// `2026-12-02T07:30:00Z` for seconds since the Unix epoch.
pub fn iso_time(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or_default();
    let date = envctl_spec::CivilDate::from_days_since_unix_epoch(days);
    let s = unix % 86_400;
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

pub fn drift_json(reports: &[DriftReport], provenance: &Provenance) -> serde_json::Value {
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
                        "kind": entry.kind(),
                        "cause": entry.cause,
                        "id": entry.id(),
                        "fields": entry.fields().iter().map(|f| json!({
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
        "project": provenance.project,
        "region": provenance.region,
        "account": provenance.account,
        "generated_at": provenance.generated_at(),
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

/// The capitalised name of an operation in summaries (`Apply complete`).
pub fn title(operation: Operation) -> &'static str {
    match operation {
        Operation::Apply => "Apply",
        Operation::Destroy => "Destroy",
        Operation::Reconcile => "Reconcile",
        Operation::Redeploy => "Redeploy",
    }
}

/// The closing summary of an operation, with each failure and skip explained.
pub fn report_text(operation: Operation, report: &ApplyReport) -> String {
    let verb = title(operation);
    let mut out = String::new();
    for operation in &report.operations {
        let step = match (operation.action, operation.step) {
            (Action::Replace(_), Step::Create) => "replace (create new)".to_string(),
            (Action::Replace(_), Step::Delete) => "replace (delete old)".to_string(),
            (_, step) => step.verb().to_string(),
        };
        match &operation.outcome {
            Outcome::Succeeded { .. } => {}
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
            Outcome::NotStarted => {
                let _ = writeln!(
                    out,
                    "not started: {step} {} (the run was interrupted)",
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
    let _ = write!(
        out,
        "{verb} {status}: {} succeeded, {} failed, {} skipped",
        report.succeeded(),
        report.failed(),
        report.skipped()
    );
    if report.not_started() > 0 {
        let _ = write!(out, ", {} not started", report.not_started());
    }
    let _ = writeln!(out, ".");
    out
}

/// The closing summary of a rollback.
pub fn rollback_text(report: &envctl_engine::RollbackReport) -> String {
    let mut out = String::new();
    for operation in &report.operations {
        let undo = match operation.step {
            Step::Delete => "deleted again",
            _ => "restored to its previous values",
        };
        match &operation.outcome {
            Outcome::Failed(error) => {
                let _ = writeln!(
                    out,
                    "error: rolling back {} of {} failed: {error}",
                    operation.action, operation.address
                );
            }
            _ => {
                let _ = writeln!(out, "rolled back: {} {undo}", operation.address);
            }
        }
    }
    for (address, why) in &report.kept {
        let _ = writeln!(out, "kept: {address} was not rolled back: {why}");
    }
    for address in &report.irreversible {
        let _ = writeln!(
            out,
            "warning: {address} was deleted before the failure; a delete cannot be rolled back"
        );
    }
    let _ = writeln!(
        out,
        "Rollback {}: {} undone, {} failed.",
        if report.failed() == 0 {
            "complete"
        } else {
            "incomplete"
        },
        report.undone(),
        report.failed()
    );
    out
}

/// The name of an expiry status in text, Markdown and JSON (`docs/json-output.md`).
pub fn status_name(status: ExpiryStatus) -> &'static str {
    match status {
        ExpiryStatus::Active { .. } => "active",
        ExpiryStatus::Expiring { .. } => "expiring",
        ExpiryStatus::Expired { .. } => "expired",
    }
}

/// One declared difference as JSON: `{"resource", "field", "values", "reason", "risk",
/// "owner", "expires", "days_left", "status"}`.
pub fn difference_json(d: &DeclaredDifference) -> serde_json::Value {
    let difference = &d.difference;
    json!({
        "resource": difference.resource,
        "field": difference.field,
        "values": difference.values,
        "reason": difference.reason,
        "risk": difference.risk,
        "owner": difference.owner,
        "expires": difference.expires.to_string(),
        "days_left": d.status.days_left(),
        "status": status_name(d.status),
    })
}

/// Declared differences as a JSON array.
pub fn differences_json(differences: &[DeclaredDifference]) -> serde_json::Value {
    serde_json::Value::Array(differences.iter().map(difference_json).collect())
}

/// The human-readable list of declared differences.
pub fn declared_differences_text(differences: &[DeclaredDifference]) -> String {
    let mut out = String::new();
    if differences.is_empty() {
        let _ = writeln!(
            out,
            "The spec declares no differences: every environment is identical except in scale."
        );
        return out;
    }
    for judged in differences {
        let d = &judged.difference;
        let values: Vec<String> = d
            .values
            .iter()
            .map(|(env, v)| format!("{env} = {v}"))
            .collect();
        let flag = match judged.status {
            ExpiryStatus::Expired { days_ago } => format!("  EXPIRED {days_ago} days ago"),
            ExpiryStatus::Expiring { days_left } => format!("  EXPIRES in {days_left} days"),
            ExpiryStatus::Active { .. } => String::new(),
        };
        let _ = writeln!(
            out,
            "{}.{}: {}{flag}",
            d.resource,
            d.field,
            values.join(", ")
        );
        let _ = writeln!(out, "    reason:  {}", d.reason);
        let _ = writeln!(out, "    risk:    {}", d.risk);
        let _ = writeln!(out, "    owner:   {}", d.owner);
        let _ = writeln!(out, "    expires: {}", d.expires);
    }
    out
}

/// The human-readable parity of environment pairs.
pub fn parity_text(reports: &[envctl_engine::ParityReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let undeclared = report.undeclared().count();
        for reading in &report.unreadable {
            if let Err(error) = &reading.document {
                let _ = writeln!(
                    out,
                    "  UNREADABLE probe.{} in `{}`: {error}",
                    reading.probe, reading.environment
                );
                if let Some(hint) = error.hint() {
                    let _ = writeln!(out, "      hint: {hint}");
                }
            }
        }
        if report.differences.is_empty() && report.unreadable.is_empty() {
            let _ = writeln!(
                out,
                "`{}` and `{}` are at parity: they differ only in scale",
                report.from, report.to
            );
            continue;
        }
        let _ = writeln!(
            out,
            "`{}` -> `{}`: {} difference{}, {undeclared} undeclared{}",
            report.from,
            report.to,
            report.differences.len(),
            if report.differences.len() == 1 {
                ""
            } else {
                "s"
            },
            if undeclared == 0 { " (at parity)" } else { "" }
        );
        for d in &report.differences {
            let _ = writeln!(
                out,
                "  {} {}.{}: {} in `{}`, {} in `{}`",
                if d.declared {
                    "declared  "
                } else {
                    "UNDECLARED"
                },
                d.address,
                d.field,
                value_text(d.from_value.as_ref()),
                report.from,
                value_text(d.to_value.as_ref()),
                report.to
            );
        }
    }
    out
}

pub fn parity_object(report: &envctl_engine::ParityReport) -> serde_json::Value {
    json!({
        "from": report.from,
        "to": report.to,
        "at_parity": report.at_parity(),
        "differences": report.differences,
        "unreadable_probes": report.unreadable.iter().map(|r| json!({
            "probe": r.probe,
            "environment": r.environment,
            "url": r.url,
            "error": r.document.as_ref().err().map(ToString::to_string),
        })).collect::<Vec<_>>(),
    })
}

/// The machine-readable parity: one comparison as `{"from", "to", "differences"}`, several
/// as `{"comparisons": [...]}`.
pub fn parity_json(reports: &[envctl_engine::ParityReport]) -> serde_json::Value {
    let mut value = match reports {
        [one] => parity_object(one),
        many => json!({ "comparisons": many.iter().map(parity_object).collect::<Vec<_>>() }),
    };
    if let Some(object) = value.as_object_mut() {
        object.insert("format_version".into(), json!(JSON_FORMAT_VERSION));
    }
    value
}

/// The result of a command that changed the cloud (`apply`, `destroy`, `redeploy`,
/// `reconcile` with `--output json`): every plan carried out, per resource.
pub fn change_json(
    operation: Operation,
    applied: &[crate::frontend::Applied],
    success: bool,
) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = applied
        .iter()
        .map(|run| {
            let operations: Vec<serde_json::Value> = run
                .report
                .operations
                .iter()
                .map(|o| {
                    let (outcome, error) = match &o.outcome {
                        Outcome::Succeeded { .. } => ("succeeded", None),
                        Outcome::Failed(error) => ("failed", Some(error.to_string())),
                        Outcome::Skipped { because } => {
                            ("skipped", Some(format!("{because} failed first")))
                        }
                        Outcome::NotStarted => ("not_started", None),
                    };
                    json!({
                        "address": o.address.to_string(),
                        "action": o.action,
                        "step": o.step.verb(),
                        "outcome": outcome,
                        "cloud_id": o.cloud_id,
                        "duration_ms": u64::try_from(o.elapsed.as_millis()).unwrap_or(u64::MAX),
                        "error": error,
                    })
                })
                .collect();
            json!({
                "environment": run.environment,
                "operation": title(run.operation).to_lowercase(),
                "succeeded": run.report.succeeded(),
                "failed": run.report.failed(),
                "skipped": run.report.skipped(),
                "not_started": run.report.not_started(),
                "operations": operations,
            })
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "operation": title(operation).to_lowercase(),
        "success": success,
        "changes": runs,
    })
}

/// The apply graph in Graphviz DOT: one node per operation (`create subnet.a`), an edge
/// `a -> b` where `a` must finish before `b` starts, exactly as the executor orders them.
pub fn graph_dot(name: &str, graph: &envctl_engine::ApplyGraph) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""));
    let id = |operation: &envctl_engine::Operation| {
        quote(&format!("{} {}", operation.step.verb(), operation.address))
    };
    let color = |step: Step| match step {
        Step::Create => "darkgreen",
        Step::Update => "darkorange3",
        Step::Delete => "red3",
    };
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(name));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    );
    let mut nodes: Vec<&envctl_engine::Operation> = graph.graph.node_weights().collect();
    nodes.sort_by_key(|o| (o.change_index, o.step));
    for operation in nodes {
        // `\n` is DOT's line break inside a label.
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{}\", color={}];",
            id(operation),
            operation.step.verb(),
            operation.address,
            color(operation.step)
        );
    }
    let mut edges: Vec<(String, String)> = graph
        .graph
        .raw_edges()
        .iter()
        .map(|edge| {
            (
                id(&graph.graph[edge.source()]),
                id(&graph.graph[edge.target()]),
            )
        })
        .collect();
    edges.sort();
    edges.dedup();
    for (from, to) in edges {
        let _ = writeln!(out, "  {from} -> {to};");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use envctl_engine::{FieldChange, LiveResource, ReplaceOrder, ResourceChange};
    use envctl_spec::{Address, CivilDate, ResourceKind, SourceFile};

    use super::*;
    use crate::style::strip;

    /// Compares `actual` with its `insta` snapshot `tests/snapshots/NAME.snap` (accept a
    /// deliberate change with `cargo insta review`, or `INSTA_UPDATE=always`).
    pub fn assert_snapshot(name: &str, actual: &str) {
        insta::with_settings!({
            snapshot_path => "../tests/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, actual);
        });
    }

    fn address(text: &str) -> Address {
        text.parse().expect("an address")
    }

    /// A plan with one change of each action, made by hand from the example spec: no cloud.
    fn sample_plan() -> Plan {
        let source = SourceFile::new(
            "webapp.toml",
            include_str!("../../../environments/webapp.toml"),
        )
        .with_file(
            "dashboards/main.json",
            Ok(include_str!("../../../environments/dashboards/main.json").into()),
        );
        let today = CivilDate {
            year: 2026,
            month: 1,
            day: 1,
        };
        let spec = envctl_spec::check(&source, today)
            .spec
            .expect("the example spec is valid");
        let desired = spec.expand("staging").expect("staging exists");
        let resource = |text: &str| {
            desired
                .resources
                .iter()
                .find(|r| r.address == address(text))
                .cloned()
                .expect("the resource exists")
        };
        let live = |text: &str, id: &str| {
            let desired = resource(text);
            LiveResource {
                outputs: Default::default(),
                address: desired.address,
                kind: desired.kind,
                id: id.to_string(),
                tags: BTreeMap::new(),
                depends_on: Vec::new(),
                fields: desired.fields,
            }
        };
        let change = |text: &str, cause: Cause, change: Change| ResourceChange {
            address: address(text),
            kind: resource(text).kind,
            cause,
            reason: None,
            change,
        };
        let field = |name: &str, live: &str, desired: &str, forces_replacement: bool| FieldChange {
            field: name.to_string(),
            live: Some(Value::Str(live.to_string())),
            desired: Some(Value::Str(desired.to_string())),
            forces_replacement,
        };
        Plan {
            format_version: envctl_engine::plan::PLAN_FORMAT_VERSION,
            project: desired.project.clone(),
            environment: desired.environment.clone(),
            region: desired.region.clone(),
            account: None,
            parity_digest: "sha256:0123abcd".to_string(),
            protected: false,
            promote_from: None,
            lock_bucket: desired.lock_bucket.clone(),
            live_fingerprint: "sha256:feedbeef".to_string(),
            desired_digest: "sha256:d1e5".to_string(),
            force_replace: Vec::new(),
            targets: Vec::new(),
            live_ids: BTreeMap::new(),
            blockers: Vec::new(),
            unmanaged: Vec::new(),
            changes: vec![
                change(
                    "security_group.app",
                    Cause::Spec,
                    Change::Create {
                        desired: resource("security_group.app"),
                    },
                ),
                change(
                    "instance.app[0]",
                    Cause::Drift,
                    Change::Update {
                        desired: resource("instance.app[0]"),
                        live: live("instance.app[0]", "i-0a1b2c3d"),
                        fields: vec![field("instance_type", "m5.4xlarge", "t3.medium", false)],
                    },
                ),
                change(
                    "subnet.b",
                    Cause::Spec,
                    Change::Replace {
                        order: ReplaceOrder::CreateBeforeDestroy,
                        desired: resource("subnet.b"),
                        live: live("subnet.b", "subnet-0f1e2d"),
                        fields: vec![field("cidr", "10.0.9.0/24", "10.0.2.0/24", true)],
                    },
                ),
                ResourceChange {
                    reason: Some("a duplicate left by an interrupted run".to_string()),
                    ..change(
                        "subnet.a",
                        Cause::Orphan,
                        Change::Delete {
                            live: live("subnet.a", "subnet-0a0a0a"),
                        },
                    )
                },
            ],
            notes: vec![Note {
                address: address("db_cluster.main"),
                message: "the live engine version 15.5 is newer than the spec's 15.4".to_string(),
                hint: Some("set `engine_version = \"15.5\"` in the spec".to_string()),
            }],
        }
    }

    #[test]
    fn a_plan_renders_as_text() {
        let plan = sample_plan();
        assert_snapshot("plan", &plan_text(&plan, Palette::PLAIN));
        assert_snapshot("plan-notes", &notes_text(&plan.notes));
    }

    #[test]
    fn a_plan_renders_as_json() {
        let json = serde_json::to_string_pretty(&plan_json(&sample_plan())).expect("JSON");
        assert_snapshot("plan-json", &format!("{json}\n"));
    }

    #[test]
    fn a_colored_plan_reads_the_same_without_its_colors() {
        let plan = sample_plan();
        let colored = plan_text(&plan, Palette::COLORED);
        assert_ne!(colored, plan_text(&plan, Palette::PLAIN));
        assert_eq!(strip(&colored), plan_text(&plan, Palette::PLAIN));
        let notes = Palette::COLORED.prefixes(&notes_text(&plan.notes));
        assert_eq!(strip(&notes), notes_text(&plan.notes));
    }

    #[test]
    fn a_blocked_plan_lists_every_blocker_with_its_hint() {
        let mut plan = sample_plan();
        plan.blockers.push(envctl_engine::Blocker {
            address: Some(address("db_cluster.main")),
            kind: envctl_engine::BlockerKind::ReplacesData,
            message: "replacing subnet.a would replace db_cluster.main too, and it holds data"
                .to_string(),
            hint: Some("revert the change to subnet.a in the spec".to_string()),
        });
        let text = plan_text(&plan, Palette::PLAIN);
        assert!(
            text.contains("This plan cannot be applied: 1 blocker, so nothing will be changed."),
            "{text}"
        );
        assert!(
            text.contains("  blocked: db_cluster.main (would replace data): replacing subnet.a"),
            "{text}"
        );
        assert!(
            text.contains("    hint: revert the change to subnet.a in the spec"),
            "{text}"
        );
        assert_eq!(plan_json(&plan)["blockers"][0]["kind"], "replaces_data");
    }

    #[test]
    fn an_empty_plan_says_so() {
        let plan = Plan {
            changes: Vec::new(),
            notes: Vec::new(),
            ..sample_plan()
        };
        assert_eq!(
            plan_text(&plan, Palette::PLAIN),
            "No changes: `staging` matches the spec (webapp in us-east-1).\n"
        );
    }

    #[test]
    fn a_plan_lists_what_reconcile_would_remove_apart_from_its_changes() {
        let address = envctl_engine::unmanaged_address(ResourceKind::Instance, "i-0feed");
        let stray = LiveResource {
            outputs: Default::default(),
            address: address.clone(),
            kind: ResourceKind::Instance,
            id: "i-0feed".to_string(),
            tags: BTreeMap::from([("Name".to_string(), "debug box".to_string())]),
            depends_on: Vec::new(),
            fields: BTreeMap::new(),
        };
        let plan = Plan {
            changes: Vec::new(),
            notes: Vec::new(),
            unmanaged: vec![ResourceChange {
                address,
                kind: ResourceKind::Instance,
                cause: Cause::Unmanaged,
                reason: None,
                change: Change::Delete { live: stray },
            }],
            ..sample_plan()
        };
        assert!(plan.is_empty(), "apply would change nothing");
        assert_eq!(
            plan_text(&plan, Palette::PLAIN),
            "No changes: `staging` matches the spec (webapp in us-east-1).\n\n\
             1 resource inside the network not created by envctl: apply leaves it, \
             `envctl reconcile staging` would delete it:\n  \
             unmanaged instance.unmanaged:i-0feed  (Name: debug box)\n"
        );
        let json = plan_json(&plan);
        assert_eq!(json["unmanaged"][0]["cause"], "unmanaged");
        assert_eq!(json["unmanaged"][0]["action"], "delete");
        assert_eq!(json["unmanaged"][0]["id"], "i-0feed");
        assert_eq!(json["changes"], serde_json::json!([]));
    }
}
