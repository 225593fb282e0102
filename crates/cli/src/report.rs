//! The audit and compliance reports: text for a terminal, Markdown for an issue or a wiki page,
//! HTML for a page people open, print or read on a phone, and JSON for programs.
//!
//! Owns every rendering of [`Audit`] and [`ComplianceReport`]. Invariants: every format says
//! the same things (project, date, where each environment lives, every finding with what to
//! do about it); the HTML is one self-contained document (inline CSS, no script, nothing
//! fetched), every text in it escaped, its matrix one row per environment and one cell per
//! check, each cell linking to the details it counts; nothing here prints.

use std::fmt::Write as _;

use envctl_engine::ops::lock::utc_time;
use envctl_engine::ops::{
    Audit, AuditPlace, ComplianceReport, DeclaredDifference, ExpiryStatus, Verification,
};
use envctl_engine::probe::ProbeReading;
use envctl_engine::{DriftEntry, DriftKind, DriftReport, ParityReport};
use envctl_spec::{ComplianceSeverity, Violation};
use serde_json::json;

use crate::context::plural;
use crate::render::{
    JSON_FORMAT_VERSION, Provenance, declared_differences_text, differences_json, drift_json,
    drift_text, notes_text, parity_text, status_name, value_text,
};

/// `staging (123456789012, us-east-1)`, and `protected`, `promoted from X` when they apply.
fn place_text(place: &AuditPlace) -> String {
    let mut parts = Vec::new();
    if let Some(account) = &place.account {
        parts.push(format!("account {account}"));
    }
    parts.push(place.region.clone());
    if place.protected {
        parts.push("protected".to_string());
    }
    if let Some(from) = &place.promote_from {
        parts.push(format!("promoted from {from}"));
    }
    format!("{} ({})", place.environment, parts.join(", "))
}

/// What to run or edit to clear a compliance violation.
fn compliance_fix(report: &ComplianceReport, violation: &Violation) -> String {
    if report.from_spec(violation) {
        format!(
            "the spec asks for it: change `{}` of `{}` in the spec, then `envctl apply {}`",
            violation.field, violation.resource, report.environment
        )
    } else {
        format!(
            "changed in the cloud: `envctl reconcile {}` restores the spec",
            report.environment
        )
    }
}

/// `1 critical, 2 high`; `none` when the environment complies.
fn severity_counts(report: &ComplianceReport) -> String {
    let counts: Vec<String> = ComplianceSeverity::ALL
        .into_iter()
        .rev()
        .filter_map(|severity| {
            let n = report.count(severity);
            (n > 0).then(|| format!("{n} {severity}"))
        })
        .collect();
    if counts.is_empty() {
        "none".to_string()
    } else {
        counts.join(", ")
    }
}

// ---------------------------------------------------------------------------------------------
// Compliance

/// The human-readable compliance report: per environment, most severe first.
pub fn compliance_text(reports: &[ComplianceReport], rules: usize) -> String {
    let mut out = String::new();
    for report in reports {
        if report.violations.is_empty() {
            let _ = writeln!(
                out,
                "`{}`: complies with all {}",
                report.environment,
                plural(rules, "rule")
            );
            continue;
        }
        let _ = writeln!(
            out,
            "`{}`: {} ({})",
            report.environment,
            plural(report.violations.len(), "violation"),
            severity_counts(report)
        );
        for violation in &report.violations {
            let _ = writeln!(out, "  {violation}");
            let _ = writeln!(out, "      fix: {}", compliance_fix(report, violation));
        }
    }
    out
}

/// The compliance report as Markdown.
pub fn compliance_markdown(reports: &[ComplianceReport], provenance: &Provenance) -> String {
    let mut out = String::new();
    let environments: Vec<&str> = reports.iter().map(|r| r.environment.as_str()).collect();
    let _ = writeln!(
        out,
        "# envctl compliance: `{}`\n\n{} · environments: {}\n",
        provenance.project,
        provenance.generated_at(),
        environments.join(", ")
    );
    compliance_markdown_sections(&mut out, reports, "##");
    out
}

fn compliance_markdown_sections(out: &mut String, reports: &[ComplianceReport], level: &str) {
    for report in reports {
        let _ = writeln!(out, "{level} `{}`\n", report.environment);
        if report.violations.is_empty() {
            let _ = writeln!(out, "Complies with every rule.\n");
            continue;
        }
        let _ = writeln!(
            out,
            "| severity | rule | resource | field | problem | fix |\n|---|---|---|---|---|---|"
        );
        for v in &report.violations {
            let _ = writeln!(
                out,
                "| **{}** | `{}` | `{}` | `{}` | {} | {} |",
                v.severity,
                v.rule,
                v.resource,
                v.field,
                cell(&v.detail),
                cell(&compliance_fix(report, v))
            );
        }
        let _ = writeln!(out);
    }
}

fn violation_json(report: &ComplianceReport, v: &Violation) -> serde_json::Value {
    json!({
        "severity": v.severity,
        "rule": v.rule,
        "resource": v.resource,
        "field": v.field,
        "detail": v.detail,
        "cause": if report.from_spec(v) { "spec" } else { "drift" },
        "message": v.to_string(),
    })
}

fn compliance_object(report: &ComplianceReport) -> serde_json::Value {
    json!({
        "environment": report.environment,
        "complies": report.violations.is_empty(),
        "violations": report.violations.iter().map(|v| violation_json(report, v)).collect::<Vec<_>>(),
    })
}

/// The machine-readable compliance report.
pub fn compliance_json(
    reports: &[ComplianceReport],
    fail_on: ComplianceSeverity,
    provenance: &Provenance,
) -> serde_json::Value {
    let failing: usize = reports.iter().map(|r| r.at_least(fail_on).count()).sum();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "project": provenance.project,
        "region": provenance.region,
        "account": provenance.account,
        "generated_at": provenance.generated_at(),
        "fail_on": fail_on,
        "failing": failing,
        "environments": reports.iter().map(compliance_object).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------------------------
// Probes

fn probe_status(reading: &ProbeReading) -> String {
    match &reading.document {
        Ok(document) => format!("read, {}", plural(document.len(), "key")),
        Err(error) => format!("unreachable: {error}"),
    }
}

fn probes_text(audit: &Audit) -> String {
    let mut out = String::new();
    if audit.probes.is_empty() {
        let _ = writeln!(out, "the spec has no `[[probes]]`");
    }
    for reading in &audit.probes {
        let _ = writeln!(
            out,
            "  probe.{} in `{}` ({}): {}",
            reading.probe,
            reading.environment,
            reading.url,
            probe_status(reading)
        );
        if let Err(error) = &reading.document
            && let Some(hint) = error.hint()
        {
            let _ = writeln!(out, "      hint: {hint}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Audit: text, Markdown, JSON

fn heading_lines(audit: &Audit, provenance: &Provenance) -> (String, String) {
    let title = format!(
        "envctl audit of `{}`, {}",
        audit.project,
        provenance.generated_at()
    );
    let places: Vec<String> = audit.places.iter().map(place_text).collect();
    (title, places.join("; "))
}

/// The human-readable audit.
pub fn audit_text(audit: &Audit, provenance: &Provenance, fail_on: ComplianceSeverity) -> String {
    let mut out = String::new();
    let (title, places) = heading_lines(audit, provenance);
    let _ = writeln!(out, "{title}\nenvironments: {places}\n");
    let _ = writeln!(out, "== drift");
    out.push_str(&drift_text(&audit.drift));
    for report in &audit.drift {
        for line in notes_text(&report.notes).lines() {
            let _ = writeln!(out, "  `{}`: {}", report.environment, line.trim_start());
        }
    }
    let _ = writeln!(out, "\n== compliance");
    let rules = audit.compliance_rules;
    if rules == 0 {
        let _ = writeln!(out, "the spec has no `[compliance]` rules");
    } else {
        out.push_str(&compliance_text(&audit.compliance, rules));
    }
    let _ = writeln!(out, "\n== probes");
    out.push_str(&probes_text(audit));
    let _ = writeln!(out, "\n== parity");
    if audit.parity.is_empty() {
        let _ = writeln!(out, "no environment has `promote_from`");
    }
    out.push_str(&parity_text(&audit.parity));
    let _ = writeln!(out, "\n== declared differences");
    out.push_str(&declared_differences_text(&audit.differences));
    let _ = writeln!(out, "\n== verifications");
    for (environment, newest) in &audit.verifications {
        let stale = newest.is_some() && !audit.verified_now.iter().any(|e| e == environment);
        let _ = writeln!(
            out,
            "  `{environment}`: {}{}",
            verification_text(newest.as_ref()),
            if stale {
                " (not of it as it is now)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(out, "\n{}", findings_line(audit, fail_on));
    out
}

/// `passed `./smoke.sh` on 2026-12-03 14:05 UTC by ci@runner at sha256:...`.
fn verification_text(newest: Option<&Verification>) -> String {
    match newest {
        None => "never verified".to_string(),
        Some(v) => format!(
            "passed `{}` on {} by {} at parity digest {}{}",
            v.command,
            utc_time(v.at_unix),
            v.who,
            v.parity_digest,
            v.revision
                .as_deref()
                .map(|r| format!(" (spec at git {r})"))
                .unwrap_or_default()
        ),
    }
}

fn findings_line(audit: &Audit, fail_on: ComplianceSeverity) -> String {
    let all = audit.findings();
    let counted = audit.findings_at(fail_on);
    if counted == all {
        plural(all, "finding")
    } else {
        format!(
            "{} ({counted} at `--fail-on {fail_on}`)",
            plural(all, "finding")
        )
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn drift_kind(entry: &DriftEntry) -> &'static str {
    match entry.kind() {
        DriftKind::Modified => "modified",
        DriftKind::Missing => "missing",
        DriftKind::Unmanaged => "unmanaged",
    }
}

/// `instance_type: live "m5.4xlarge", spec "t3.medium"` per field; secrets as `changed`.
fn drift_fields(entry: &DriftEntry) -> Vec<(String, String, String)> {
    entry
        .fields()
        .iter()
        .map(|f| {
            if f.is_secret() {
                (f.field.clone(), "(secret)".into(), "(secret)".into())
            } else {
                (
                    f.field.clone(),
                    value_text(f.live.as_ref()),
                    value_text(f.desired.as_ref()),
                )
            }
        })
        .collect()
}

/// The audit as a Markdown document (for an issue, a wiki page, a chat message).
pub fn audit_markdown(
    audit: &Audit,
    provenance: &Provenance,
    fail_on: ComplianceSeverity,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# envctl audit: `{}`\n\n{} · **{}**\n",
        audit.project,
        provenance.generated_at(),
        findings_line(audit, fail_on)
    );
    let _ = writeln!(
        out,
        "| environment | account | region | protected | promoted from |\n|---|---|---|---|---|"
    );
    for place in &audit.places {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            place.environment,
            place.account.as_deref().unwrap_or("-"),
            place.region,
            if place.protected { "yes" } else { "no" },
            place.promote_from.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(out, "\n## Drift\n");
    for report in &audit.drift {
        if report.is_clean() && report.notes.is_empty() {
            let _ = writeln!(out, "- `{}`: no drift", report.environment);
            continue;
        }
        let _ = writeln!(out, "\n### `{}`\n", report.environment);
        if !report.drift.is_empty() {
            let _ = writeln!(
                out,
                "| kind | address | id | cause | field | live | spec |\n|---|---|---|---|---|---|---|"
            );
        }
        for entry in &report.drift {
            let fields = drift_fields(entry);
            let id = entry.id().unwrap_or("-");
            if fields.is_empty() {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {} | | | |",
                    drift_kind(entry),
                    entry.address,
                    id,
                    entry.cause
                );
            }
            for (field, live, spec) in fields {
                let spec = if entry.kind() == DriftKind::Unmanaged {
                    "(not in the spec)".to_string()
                } else {
                    spec
                };
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {} | `{}` | {} | {} |",
                    drift_kind(entry),
                    entry.address,
                    id,
                    entry.cause,
                    field,
                    cell(&live),
                    cell(&spec)
                );
            }
        }
        if !report.drift.is_empty() {
            let _ = writeln!(
                out,
                "\nFix: `envctl reconcile {}` restores the spec.",
                report.environment
            );
        }
        for note in &report.notes {
            let _ = writeln!(
                out,
                "\n> **note** `{}`: {}{}",
                note.address,
                cell(&note.message),
                note.hint
                    .as_deref()
                    .map(|h| format!(" (hint: {})", cell(h)))
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(out, "\n## Compliance\n");
    if audit.compliance_rules == 0 {
        let _ = writeln!(out, "The spec has no `[compliance]` rules.\n");
    } else {
        compliance_markdown_sections(&mut out, &audit.compliance, "###");
    }
    let _ = writeln!(out, "## Probes\n");
    if audit.probes.is_empty() {
        let _ = writeln!(out, "The spec has no `[[probes]]`.\n");
    } else {
        let _ = writeln!(
            out,
            "| probe | environment | url | status |\n|---|---|---|---|"
        );
        for reading in &audit.probes {
            let _ = writeln!(
                out,
                "| `probe.{}` | `{}` | {} | {} |",
                reading.probe,
                reading.environment,
                cell(&reading.url),
                cell(&probe_status(reading))
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Parity\n");
    if audit.parity.is_empty() {
        let _ = writeln!(out, "No environment has `promote_from`.\n");
    }
    for report in &audit.parity {
        let _ = writeln!(out, "### `{}` -> `{}`\n", report.from, report.to);
        if report.differences.is_empty() {
            let _ = writeln!(out, "At parity.\n");
            continue;
        }
        let _ = writeln!(
            out,
            "| resource | field | `{}` | `{}` | declared |\n|---|---|---|---|---|",
            report.from, report.to
        );
        for d in &report.differences {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} |",
                d.address,
                d.field,
                cell(&value_text(d.from_value.as_ref())),
                cell(&value_text(d.to_value.as_ref())),
                if d.declared { "yes" } else { "**no**" }
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Declared differences\n");
    if audit.differences.is_empty() {
        let _ = writeln!(out, "None.");
    } else {
        let _ = writeln!(
            out,
            "| resource | field | owner | expires | status | reason |\n|---|---|---|---|---|---|"
        );
        for judged in &audit.differences {
            let d = &judged.difference;
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} | {} |",
                d.resource,
                d.field,
                cell(&d.owner),
                d.expires,
                status_name(judged.status),
                cell(&d.reason)
            );
        }
    }
    let _ = writeln!(out, "\n## Verifications\n");
    for (environment, newest) in &audit.verifications {
        let _ = writeln!(
            out,
            "- `{environment}`: {}",
            cell(&verification_text(newest.as_ref()))
        );
    }
    out
}

fn probe_json(reading: &ProbeReading) -> serde_json::Value {
    match &reading.document {
        Ok(document) => json!({
            "probe": reading.probe,
            "environment": reading.environment,
            "url": reading.url,
            "ok": true,
            "keys": document.len(),
            "error": null,
        }),
        Err(error) => json!({
            "probe": reading.probe,
            "environment": reading.environment,
            "url": reading.url,
            "ok": false,
            "keys": 0,
            "error": error.to_string(),
        }),
    }
}

/// The machine-readable audit.
pub fn audit_json(
    audit: &Audit,
    provenance: &Provenance,
    fail_on: ComplianceSeverity,
) -> serde_json::Value {
    let drift = drift_json(&audit.drift, provenance);
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "project": provenance.project,
        "region": provenance.region,
        "account": provenance.account,
        "generated_at": provenance.generated_at(),
        "findings": audit.findings_at(fail_on),
        "fail_on": fail_on,
        "environments": audit.places,
        "drift": drift["environments"],
        "parity": audit.parity.iter().map(crate::render::parity_object).collect::<Vec<_>>(),
        "compliance": audit.compliance.iter().map(compliance_object).collect::<Vec<_>>(),
        "probes": audit.probes.iter().map(probe_json).collect::<Vec<_>>(),
        "differences": differences_json(&audit.differences),
        "verifications": audit.verifications.iter().map(|(environment, newest)| json!({
            "environment": environment,
            "latest": newest.as_ref().map(|v| crate::commands::verify::verification_json(v, &audit.parity_digest)),
            "current": audit.verified_now.iter().any(|e| e == environment),
        })).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------------------------
// Audit: HTML

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe in content and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How a matrix cell reads: fine, needs a look, needs action, or not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Ok,
    Warn,
    Bad,
    None,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::None => "none",
        }
    }
}

/// One cell of the matrix: its tone, its words, and the details it links to.
struct Cell {
    tone: Tone,
    text: String,
    anchor: Option<String>,
}

/// An anchor from an environment's name and a check (`drift-staging`): names are
/// identifiers, so they need no escaping beyond [`escape`].
fn anchor(check: &str, environment: &str) -> String {
    format!("{check}-{environment}")
}

const CHECKS: [&str; 6] = [
    "drift",
    "parity",
    "compliance",
    "probes",
    "differences",
    "verified",
];

fn drift_cell(report: Option<&DriftReport>, environment: &str) -> Cell {
    let Some(report) = report else {
        return Cell {
            tone: Tone::None,
            text: "not read".into(),
            anchor: None,
        };
    };
    let (tone, text) = match (report.drift.len(), report.notes.len()) {
        (0, 0) => (Tone::Ok, "no drift".to_string()),
        (0, notes) => (Tone::Warn, plural(notes, "note")),
        (n, 0) => (Tone::Bad, plural(n, "departure")),
        (n, notes) => (
            Tone::Bad,
            format!("{}, {}", plural(n, "departure"), plural(notes, "note")),
        ),
    };
    Cell {
        tone,
        text,
        anchor: Some(anchor("drift", environment)),
    }
}

fn parity_cell(report: Option<&ParityReport>, place: &AuditPlace) -> Cell {
    let Some(report) = report else {
        return Cell {
            tone: Tone::None,
            text: "no promote_from".into(),
            anchor: None,
        };
    };
    let undeclared = report.undeclared().count();
    let declared = report.differences.len() - undeclared;
    let (tone, text) = if undeclared > 0 {
        (
            Tone::Bad,
            format!(
                "{} vs {}",
                plural(undeclared, "undeclared difference"),
                report.from
            ),
        )
    } else if declared > 0 {
        (
            Tone::Ok,
            format!("at parity with {} ({declared} declared)", report.from),
        )
    } else {
        (Tone::Ok, format!("at parity with {}", report.from))
    };
    Cell {
        tone,
        text,
        anchor: Some(anchor("parity", &place.environment)),
    }
}

fn compliance_cell(report: Option<&ComplianceReport>, rules: usize, environment: &str) -> Cell {
    if rules == 0 {
        return Cell {
            tone: Tone::None,
            text: "no rules".into(),
            anchor: None,
        };
    }
    let Some(report) = report else {
        return Cell {
            tone: Tone::None,
            text: "not read".into(),
            anchor: None,
        };
    };
    let tone = match report.worst() {
        None => Tone::Ok,
        Some(ComplianceSeverity::Critical | ComplianceSeverity::High) => Tone::Bad,
        Some(_) => Tone::Warn,
    };
    let text = if report.violations.is_empty() {
        format!("complies ({})", plural(rules, "rule"))
    } else {
        severity_counts(report)
    };
    Cell {
        tone,
        text,
        anchor: Some(anchor("compliance", environment)),
    }
}

fn probes_cell(audit: &Audit, environment: &str) -> Cell {
    let readings: Vec<&ProbeReading> = audit.probes_of(environment).collect();
    if readings.is_empty() {
        return Cell {
            tone: Tone::None,
            text: "no probes".into(),
            anchor: None,
        };
    }
    let unreadable = readings.iter().filter(|r| r.document.is_err()).count();
    let differing = audit.parity_into(environment).map_or(0, |report| {
        report
            .undeclared()
            .filter(|d| d.address.starts_with("probe."))
            .count()
    });
    let (tone, text) = if unreadable > 0 {
        (Tone::Bad, format!("{unreadable} unreachable"))
    } else if differing > 0 {
        (Tone::Bad, plural(differing, "undeclared difference"))
    } else {
        (Tone::Ok, format!("{} read", readings.len()))
    };
    Cell {
        tone,
        text,
        anchor: Some(anchor("probes", environment)),
    }
}

fn differences_cell(audit: &Audit, environment: &str) -> Cell {
    let concerned: Vec<&DeclaredDifference> = audit.differences_of(environment).collect();
    if concerned.is_empty() {
        return Cell {
            tone: Tone::None,
            text: "none declared".into(),
            anchor: None,
        };
    }
    let expired = concerned
        .iter()
        .filter(|d| matches!(d.status, ExpiryStatus::Expired { .. }))
        .count();
    let expiring = concerned
        .iter()
        .filter(|d| matches!(d.status, ExpiryStatus::Expiring { .. }))
        .count();
    let (tone, text) = if expired > 0 {
        (Tone::Bad, format!("{expired} expired"))
    } else if expiring > 0 {
        (Tone::Warn, format!("{expiring} expiring"))
    } else {
        (Tone::Ok, format!("{} declared", concerned.len()))
    };
    Cell {
        tone,
        text,
        anchor: Some(anchor("differences", environment)),
    }
}

fn verified_cell(audit: &Audit, environment: &str) -> Cell {
    let newest = audit
        .verifications
        .iter()
        .find(|(name, _)| name == environment)
        .and_then(|(_, newest)| newest.as_ref());
    let current = audit.verified_now.iter().any(|e| e == environment);
    let (tone, text) = match newest {
        None => (Tone::None, "never".to_string()),
        Some(v) if current => (Tone::Ok, format!("passed {}", utc_time(v.at_unix))),
        Some(v) if v.parity_digest == audit.parity_digest => (
            Tone::Warn,
            format!("stale: changed since {}", utc_time(v.at_unix)),
        ),
        Some(_) => (Tone::Warn, "at another spec".to_string()),
    };
    Cell {
        tone,
        text,
        anchor: newest.map(|_| anchor("verified", environment)),
    }
}

const STYLE: &str = r#"
:root { --ok:#d9f2df; --ok-ink:#0f5323; --warn:#fff1c7; --warn-ink:#6b4d00; --bad:#fbd9d6;
  --bad-ink:#8a1c12; --none:#eef0f2; --none-ink:#555; --line:#d0d4d9; --ink:#1b1f24; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0 auto; padding: 1.25rem; max-width: 72rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
.meta { color: #444; margin: 0 0 1rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .4rem .55rem; text-align: left; vertical-align: top; }
thead th { background: #f6f7f9; font-weight: 600; }
td.ok { background: var(--ok); color: var(--ok-ink); }
td.warn { background: var(--warn); color: var(--warn-ink); }
td.bad { background: var(--bad); color: var(--bad-ink); font-weight: 600; }
td.none { background: var(--none); color: var(--none-ink); }
td a { color: inherit; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f3f4f6;
  padding: 0 .2em; border-radius: 3px; overflow-wrap: break-word; }
.scroll > table:not(.matrix) { min-width: 40rem; }
.sev { display: inline-block; min-width: 4.8em; padding: 0 .35em; border-radius: 3px; font-weight: 600; text-align: center; }
.sev.critical { background: #8a1c12; color: #fff; } .sev.high { background: var(--bad); color: var(--bad-ink); }
.sev.medium { background: var(--warn); color: var(--warn-ink); } .sev.low { background: var(--none); color: var(--none-ink); }
.fix { color: #0b4f8a; }
.clean { color: var(--ok-ink); }
.legend span { display: inline-block; padding: 0 .4em; margin: 0 .3em 0 .6em; border-radius: 3px; }
.legend .ok { background: var(--ok); color: var(--ok-ink); } .legend .warn { background: var(--warn); color: var(--warn-ink); }
.legend .bad { background: var(--bad); color: var(--bad-ink); } .legend .none { background: var(--none); color: var(--none-ink); }
@media (max-width: 40rem) {
  body { padding: .75rem; font-size: 14px; }
  table.matrix thead { display: none; }
  table.matrix, table.matrix tbody, table.matrix tr, table.matrix th, table.matrix td { display: block; width: 100%; }
  table.matrix tr { margin-bottom: .75rem; border: 1px solid var(--line); }
  table.matrix td::before { content: attr(data-check) ": "; font-weight: 600; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { text-decoration: none; }
  section, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
}
"#;

/// The audit as one self-contained HTML page.
pub fn audit_html(audit: &Audit, provenance: &Provenance, fail_on: ComplianceSeverity) -> String {
    let mut out = String::new();
    let project = escape(&audit.project);
    let date = escape(&provenance.generated_at());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>envctl audit: {project}, {date}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    let _ = writeln!(
        out,
        "<header>\n<h1>envctl audit: <code>{project}</code></h1>\n<p class=\"meta\">{date} · \
         <strong id=\"findings\">{}</strong></p>\n</header>",
        escape(&findings_line(audit, fail_on))
    );
    // Where each environment lives.
    let _ = writeln!(
        out,
        "<section id=\"environments\">\n<h2>Environments</h2>\n<div class=\"scroll\"><table>\n\
         <thead><tr><th>environment</th><th>account</th><th>region</th><th>protected</th>\
         <th>promoted from</th></tr></thead>\n<tbody>"
    );
    for place in &audit.places {
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&place.environment),
            escape(place.account.as_deref().unwrap_or("-")),
            escape(&place.region),
            if place.protected { "yes" } else { "no" },
            escape(place.promote_from.as_deref().unwrap_or("-"))
        );
    }
    let _ = writeln!(out, "</tbody></table></div>\n</section>");

    // The matrix: environments x checks.
    let _ = writeln!(
        out,
        "<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"scroll\"><table class=\"matrix\">\n\
         <thead><tr><th>environment</th>{}</tr></thead>\n<tbody>",
        CHECKS
            .iter()
            .map(|c| format!("<th scope=\"col\">{c}</th>"))
            .collect::<String>()
    );
    for place in &audit.places {
        let environment = place.environment.as_str();
        let cells = [
            drift_cell(audit.drift_of(environment), environment),
            parity_cell(audit.parity_into(environment), place),
            compliance_cell(
                audit.compliance_of(environment),
                audit.compliance_rules,
                environment,
            ),
            probes_cell(audit, environment),
            differences_cell(audit, environment),
            verified_cell(audit, environment),
        ];
        let _ = write!(
            out,
            "<tr data-environment=\"{0}\"><th scope=\"row\">{0}</th>",
            escape(environment)
        );
        for (check, cell) in CHECKS.iter().zip(cells) {
            let text = escape(&cell.text);
            let body = match &cell.anchor {
                Some(anchor) => format!("<a href=\"#{}\">{text}</a>", escape(anchor)),
                None => text,
            };
            let _ = write!(
                out,
                "<td class=\"{}\" data-check=\"{check}\">{body}</td>",
                cell.tone.class()
            );
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(
        out,
        "</tbody></table></div>\n<p class=\"legend\"><span class=\"ok\">green</span>fine \
         <span class=\"warn\">amber</span>look soon <span class=\"bad\">red</span>act now \
         <span class=\"none\">grey</span>not applicable; each cell links to its details.</p>\n</section>"
    );

    html_drift(&mut out, audit);
    html_parity(&mut out, audit);
    html_compliance(&mut out, audit);
    html_probes(&mut out, audit);
    html_differences(&mut out, audit);
    html_verifications(&mut out, audit);
    let _ = writeln!(
        out,
        "<footer><p class=\"meta\">Made by <code>envctl audit --output html</code>. Exit code \
         2 when there are findings at <code>--fail-on {fail_on}</code>.</p></footer>\n</body>\n</html>"
    );
    out
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// `text` escaped, with each `` `quoted` `` part set as code.
fn inline_code(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { code(part) } else { escape(part) })
        .collect()
}

fn html_drift(out: &mut String, audit: &Audit) {
    let _ = writeln!(out, "<section id=\"drift\">\n<h2>Drift</h2>");
    for report in &audit.drift {
        let environment = escape(&report.environment);
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h3>{environment}</h3>",
            escape(&anchor("drift", &report.environment))
        );
        if report.drift.is_empty() {
            let _ = writeln!(
                out,
                "<p class=\"clean\">No drift: the live state matches the spec.</p>"
            );
        } else {
            let _ = writeln!(
                out,
                "<div class=\"scroll\"><table>\n<thead><tr><th>resource</th><th>kind</th>\
                 <th>field</th><th>live</th><th>spec</th><th>cause</th></tr></thead>\n<tbody>"
            );
            for entry in &report.drift {
                let fields = drift_fields(entry);
                let id = entry
                    .id()
                    .map(|id| format!("<br>{}", code(id)))
                    .unwrap_or_default();
                let head = format!("{}{id}", code(&entry.address.to_string()));
                let cause = escape(&entry.cause.to_string());
                if fields.is_empty() {
                    let _ = writeln!(
                        out,
                        "<tr><td>{head}</td><td>{}</td><td>-</td><td>{}</td><td>{}</td><td>{cause}</td></tr>",
                        drift_kind(entry),
                        if entry.kind() == DriftKind::Missing {
                            "(missing)"
                        } else {
                            "(exists)"
                        },
                        if entry.kind() == DriftKind::Missing {
                            "(exists)"
                        } else {
                            "(not in the spec)"
                        },
                    );
                }
                for (field, live, spec) in fields {
                    let spec = if entry.kind() == DriftKind::Unmanaged {
                        "(not in the spec)".to_string()
                    } else {
                        spec
                    };
                    let _ = writeln!(
                        out,
                        "<tr><td>{head}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{cause}</td></tr>",
                        drift_kind(entry),
                        code(&field),
                        code(&live),
                        code(&spec)
                    );
                }
            }
            let _ = writeln!(
                out,
                "</tbody></table></div>\n<p class=\"fix\">Fix: {} restores the spec.</p>",
                code(&format!("envctl reconcile {}", report.environment))
            );
        }
        for note in &report.notes {
            let _ = writeln!(
                out,
                "<p class=\"note\"><strong>note</strong> {}: {}{}</p>",
                code(&note.address.to_string()),
                inline_code(&note.message),
                note.hint
                    .as_deref()
                    .map(|h| format!("<br><span class=\"fix\">hint: {}</span>", inline_code(h)))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out, "</section>");
    }
    let _ = writeln!(out, "</section>");
}

fn html_parity(out: &mut String, audit: &Audit) {
    let _ = writeln!(out, "<section id=\"parity\">\n<h2>Parity</h2>");
    if audit.parity.is_empty() {
        let _ = writeln!(out, "<p>No environment has <code>promote_from</code>.</p>");
    }
    for report in &audit.parity {
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h3>{} → {}</h3>",
            escape(&anchor("parity", &report.to)),
            escape(&report.from),
            escape(&report.to)
        );
        if report.differences.is_empty() {
            let _ = writeln!(
                out,
                "<p class=\"clean\">At parity: they differ only in scale.</p>"
            );
        } else {
            let _ = writeln!(
                out,
                "<div class=\"scroll\"><table>\n<thead><tr><th>resource</th><th>field</th>\
                 <th>{}</th><th>{}</th><th>declared</th><th>fix</th></tr></thead>\n<tbody>",
                escape(&report.from),
                escape(&report.to)
            );
            for d in &report.differences {
                let fix = if d.declared {
                    "-".to_string()
                } else {
                    format!(
                        "make them equal, or declare it: {}",
                        code(&format!(
                            "[[differences]] resource = \"{}\" field = \"{}\"",
                            d.address, d.field
                        ))
                    )
                };
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{fix}</td></tr>",
                    code(&d.address),
                    code(&d.field),
                    code(&value_text(d.from_value.as_ref())),
                    code(&value_text(d.to_value.as_ref())),
                    if d.declared { "ok" } else { "bad" },
                    if d.declared { "yes" } else { "no" }
                );
            }
            let _ = writeln!(out, "</tbody></table></div>");
        }
        let _ = writeln!(out, "</section>");
    }
    let _ = writeln!(out, "</section>");
}

fn html_compliance(out: &mut String, audit: &Audit) {
    let _ = writeln!(out, "<section id=\"compliance\">\n<h2>Compliance</h2>");
    if audit.compliance_rules == 0 {
        let _ = writeln!(
            out,
            "<p>The spec has no <code>[compliance]</code> rules.</p>"
        );
    }
    for report in audit
        .compliance
        .iter()
        .filter(|_| audit.compliance_rules > 0)
    {
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h3>{}</h3>",
            escape(&anchor("compliance", &report.environment)),
            escape(&report.environment)
        );
        if report.violations.is_empty() {
            let _ = writeln!(out, "<p class=\"clean\">Complies with every rule.</p>");
        } else {
            let _ = writeln!(
                out,
                "<div class=\"scroll\"><table>\n<thead><tr><th>severity</th><th>rule</th>\
                 <th>resource</th><th>field</th><th>problem</th><th>fix</th></tr></thead>\n<tbody>"
            );
            for v in &report.violations {
                let _ = writeln!(
                    out,
                    "<tr><td><span class=\"sev {0}\">{0}</span></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td class=\"fix\">{5}</td></tr>",
                    v.severity,
                    code(v.rule.as_str()),
                    code(&v.resource),
                    code(&v.field),
                    escape(&v.detail),
                    inline_code(&compliance_fix(report, v))
                );
            }
            let _ = writeln!(out, "</tbody></table></div>");
        }
        let _ = writeln!(out, "</section>");
    }
    let _ = writeln!(out, "</section>");
}

fn html_probes(out: &mut String, audit: &Audit) {
    let _ = writeln!(out, "<section id=\"probes\">\n<h2>Probes</h2>");
    if audit.probes.is_empty() {
        let _ = writeln!(out, "<p>The spec has no <code>[[probes]]</code>.</p>");
    }
    for place in &audit.places {
        let readings: Vec<&ProbeReading> = audit.probes_of(&place.environment).collect();
        if readings.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h3>{}</h3>\n<div class=\"scroll\"><table>\n<thead><tr>\
             <th>probe</th><th>url</th><th>status</th></tr></thead>\n<tbody>",
            escape(&anchor("probes", &place.environment)),
            escape(&place.environment)
        );
        for reading in readings {
            let (tone, status) = match &reading.document {
                Ok(_) => (Tone::Ok, escape(&probe_status(reading))),
                Err(error) => (
                    Tone::Bad,
                    format!(
                        "{}{}",
                        escape(&error.to_string()),
                        error
                            .hint()
                            .map(|h| format!(
                                "<br><span class=\"fix\">hint: {}</span>",
                                inline_code(&h)
                            ))
                            .unwrap_or_default()
                    ),
                ),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{status}</td></tr>",
                code(&format!("probe.{}", reading.probe)),
                code(&reading.url),
                tone.class()
            );
        }
        let _ = writeln!(out, "</tbody></table></div>");
        if let Some(report) = audit.parity_into(&place.environment) {
            let differing: Vec<_> = report
                .differences
                .iter()
                .filter(|d| d.address.starts_with("probe."))
                .collect();
            if !differing.is_empty() {
                let _ = writeln!(
                    out,
                    "<p>Differences from {} are listed under <a href=\"#{}\">parity</a>: {}.</p>",
                    escape(&report.from),
                    escape(&anchor("parity", &place.environment)),
                    differing
                        .iter()
                        .map(|d| code(&format!("{}.{}", d.address, d.field)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let _ = writeln!(out, "</section>");
    }
    let _ = writeln!(out, "</section>");
}

fn html_verifications(out: &mut String, audit: &Audit) {
    let _ = writeln!(
        out,
        "<section id=\"verifications\">\n<h2>Verifications</h2>"
    );
    for (environment, newest) in &audit.verifications {
        let Some(v) = newest else {
            continue;
        };
        let this_spec = v.parity_digest == audit.parity_digest;
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h3>{}</h3>\n<p class=\"{}\">Passed {} on {} by {}, at parity digest {}{}{}.</p>\n</section>",
            escape(&anchor("verified", environment)),
            escape(environment),
            if this_spec { "clean" } else { "fix" },
            code(&v.command),
            escape(&utc_time(v.at_unix)),
            escape(&v.who),
            code(&v.parity_digest),
            if this_spec {
                " (this spec)"
            } else {
                " (another spec than this one)"
            },
            v.revision
                .as_deref()
                .map(|r| format!(", spec at git {}", code(r)))
                .unwrap_or_default()
        );
    }
    if audit
        .verifications
        .iter()
        .all(|(_, newest)| newest.is_none())
    {
        let _ = writeln!(
            out,
            "<p>No environment has been verified: <code>envctl verify ENV -- COMMAND</code> records one.</p>"
        );
    }
    let _ = writeln!(out, "</section>");
}

fn html_differences(out: &mut String, audit: &Audit) {
    let _ = writeln!(
        out,
        "<section id=\"differences\">\n<h2>Declared differences</h2>"
    );
    if audit.differences.is_empty() {
        let _ = writeln!(
            out,
            "<p>The spec declares no differences: every environment is identical except in scale.</p>"
        );
    }
    for place in &audit.places {
        let concerned: Vec<&DeclaredDifference> =
            audit.differences_of(&place.environment).collect();
        if concerned.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h3>{}</h3>\n<div class=\"scroll\"><table>\n<thead><tr>\
             <th>resource</th><th>field</th><th>value</th><th>owner</th><th>expires</th>\
             <th>status</th><th>reason</th><th>risk</th></tr></thead>\n<tbody>",
            escape(&anchor("differences", &place.environment)),
            escape(&place.environment)
        );
        for judged in concerned {
            let d = &judged.difference;
            let tone = match judged.status {
                ExpiryStatus::Active { .. } => Tone::Ok,
                ExpiryStatus::Expiring { .. } => Tone::Warn,
                ExpiryStatus::Expired { .. } => Tone::Bad,
            };
            let value = d
                .values
                .get(&place.environment)
                .map_or_else(|| "(base)".to_string(), ToString::to_string);
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                code(&d.resource),
                code(&d.field),
                code(&value),
                escape(&d.owner),
                d.expires,
                tone.class(),
                status_name(judged.status),
                escape(&d.reason),
                escape(&d.risk)
            );
        }
        let _ = writeln!(out, "</tbody></table></div>\n</section>");
    }
    let _ = writeln!(out, "</section>");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use envctl_engine::probe::ProbeError;
    use envctl_engine::{Cause, Departure, FieldChange, Note, ParityDifference};
    use envctl_spec::{CivilDate, Difference, ResourceKind, RuleName, Value};
    use scraper::{ElementRef, Html, Selector};

    use super::*;

    fn select(selector: &str) -> Selector {
        Selector::parse(selector).expect("a selector")
    }

    fn text(element: ElementRef<'_>) -> String {
        element.text().collect::<String>().trim().to_string()
    }

    /// An audit made by hand: staging drifted and opened SSH to the world, production's
    /// probe is unreachable and its declared difference expires soon.
    fn sample() -> (Audit, Provenance) {
        let address = |text: &str| text.parse::<envctl_spec::Address>().expect("an address");
        let place = |environment: &str, protected, promote_from: Option<&str>| AuditPlace {
            environment: environment.into(),
            account: Some("123456789012".into()),
            region: "us-east-1".into(),
            protected,
            promote_from: promote_from.map(Into::into),
        };
        let ssh = Violation {
            rule: RuleName::ForbidWorldIngress,
            severity: ComplianceSeverity::Critical,
            environment: "staging".into(),
            resource: "security_group.app".into(),
            field: "ingress".into(),
            detail: "allows tcp/22 from 0.0.0.0/0".into(),
        };
        let audit = Audit {
            project: "webapp".into(),
            parity_digest: "sha256:abc".into(),
            places: vec![
                place("staging", false, None),
                place("production", true, Some("staging")),
            ],
            drift: vec![
                DriftReport {
                    environment: "staging".into(),
                    drift: vec![DriftEntry {
                        address: address("instance.app[0]"),
                        resource_kind: ResourceKind::Instance,
                        cause: Cause::Drift,
                        departure: Departure::Modified {
                            id: "i-0abc".into(),
                            fields: vec![FieldChange {
                                field: "instance_type".into(),
                                live: Some(Value::Str("m5.4xlarge".into())),
                                desired: Some(Value::Str("t3.medium".into())),
                                forces_replacement: false,
                            }],
                        },
                    }],
                    notes: Vec::new(),
                },
                DriftReport {
                    environment: "production".into(),
                    drift: Vec::new(),
                    notes: vec![Note {
                        address: address("db_cluster.main"),
                        message: "AWS upgraded the engine to `15.5`; the spec says `15.4`".into(),
                        hint: Some("pin `engine_version = \"15.5\"`".into()),
                    }],
                },
            ],
            parity: vec![ParityReport {
                from: "staging".into(),
                to: "production".into(),
                differences: vec![ParityDifference {
                    address: "probe.versions".into(),
                    field: "dependencies.openssl".into(),
                    from_value: Some(Value::Str("3.0.13".into())),
                    to_value: Some(Value::Str("3.0.2".into())),
                    declared: false,
                }],
                unreadable: Vec::new(),
            }],
            compliance_rules: 8,
            compliance: vec![
                ComplianceReport {
                    environment: "staging".into(),
                    violations: vec![ssh],
                    in_spec: Vec::new(),
                },
                ComplianceReport {
                    environment: "production".into(),
                    violations: Vec::new(),
                    in_spec: Vec::new(),
                },
            ],
            probes: vec![
                ProbeReading {
                    probe: "versions".into(),
                    environment: "staging".into(),
                    url: "file:probes/staging-versions.json".into(),
                    document: Ok(BTreeMap::from([(
                        "dependencies.openssl".to_string(),
                        Value::Str("3.0.13".into()),
                    )])),
                },
                ProbeReading {
                    probe: "versions".into(),
                    environment: "production".into(),
                    url: "https://production.example.com/versions.json".into(),
                    document: Err(ProbeError::Connection {
                        url: "https://production.example.com/versions.json".into(),
                        reason: "<b>connection refused</b>".into(),
                        attempts: 3,
                    }),
                },
            ],
            differences: vec![DeclaredDifference {
                difference: Difference {
                    resource: "db_cluster.main".into(),
                    field: "backup_retention_days".into(),
                    values: BTreeMap::from([
                        ("staging".to_string(), Value::Int(7)),
                        ("production".to_string(), Value::Int(30)),
                    ]),
                    reason: "Compliance requires 30 days".into(),
                    risk: "Old restores untested in staging".into(),
                    owner: "platform-team".into(),
                    expires: CivilDate::new(2026, 12, 10).expect("a date"),
                },
                status: ExpiryStatus::Expiring { days_left: 7 },
            }],
            verifications: vec![
                (
                    "staging".into(),
                    Some(Verification {
                        id: "v1".into(),
                        environment: "staging".into(),
                        parity_digest: "sha256:abc".into(),
                        live_fingerprint: "sha256:def".into(),
                        revision: Some("1a2b3c".into()),
                        command: "./smoke-test.sh".into(),
                        who: "ci@runner".into(),
                        at_unix: 1_796_280_000,
                    }),
                ),
                ("production".into(), None),
            ],
            verified_now: vec!["staging".into()],
        };
        let provenance = Provenance {
            project: "webapp".into(),
            region: "us-east-1".into(),
            account: Some("123456789012".into()),
            generated_at_unix: 1_796_284_800,
        };
        (audit, provenance)
    }

    #[test]
    fn the_html_report_is_a_matrix_of_environments_by_checks_linking_to_details() {
        let (audit, provenance) = sample();
        let html = audit_html(&audit, &provenance, ComplianceSeverity::Low);
        let document = Html::parse_document(&html);

        let title = document.select(&select("title")).next().map(text);
        assert_eq!(
            title.as_deref(),
            Some("envctl audit: webapp, 2026-12-03T08:00:00Z")
        );
        let headers: Vec<String> = document
            .select(&select("table.matrix thead th"))
            .map(text)
            .collect();
        assert_eq!(
            headers,
            [
                "environment",
                "drift",
                "parity",
                "compliance",
                "probes",
                "differences",
                "verified"
            ]
        );
        let rows: Vec<ElementRef<'_>> = document.select(&select("table.matrix tbody tr")).collect();
        let names: Vec<&str> = rows
            .iter()
            .filter_map(|row| row.value().attr("data-environment"))
            .collect();
        assert_eq!(names, ["staging", "production"]);

        // Each cell: its tone (a class), its words, and a link to details that exist.
        let cell = |environment: &str, check: &str| {
            let selector = format!(
                "table.matrix tr[data-environment=\"{environment}\"] td[data-check=\"{check}\"]"
            );
            let cell = document
                .select(&select(&selector))
                .next()
                .unwrap_or_else(|| panic!("no {check} cell for {environment}"));
            let class = cell.value().attr("class").unwrap_or_default().to_string();
            let link = cell
                .select(&select("a"))
                .next()
                .and_then(|a| a.value().attr("href"))
                .map(str::to_string);
            (class, text(cell), link)
        };
        assert_eq!(
            cell("staging", "drift"),
            (
                "bad".into(),
                "1 departure".into(),
                Some("#drift-staging".into())
            )
        );
        assert_eq!(
            cell("staging", "compliance"),
            (
                "bad".into(),
                "1 critical".into(),
                Some("#compliance-staging".into())
            )
        );
        assert_eq!(cell("staging", "parity").0, "none", "no promote_from");
        assert_eq!(cell("production", "drift").0, "warn", "a note only");
        assert_eq!(
            cell("production", "parity"),
            (
                "bad".into(),
                "1 undeclared difference vs staging".into(),
                Some("#parity-production".into())
            )
        );
        assert_eq!(cell("production", "compliance").0, "ok");
        assert_eq!(
            cell("production", "probes"),
            (
                "bad".into(),
                "1 unreachable".into(),
                Some("#probes-production".into())
            )
        );
        assert_eq!(cell("production", "differences").0, "warn", "expiring");
        assert_eq!(
            cell("staging", "verified"),
            (
                "ok".into(),
                "passed 2026-12-03 06:40 UTC".into(),
                Some("#verified-staging".into())
            )
        );
        assert_eq!(
            cell("production", "verified"),
            ("none".into(), "never".into(), None)
        );
        for row in &rows {
            for link in row.select(&select("a")) {
                let target = link.value().attr("href").unwrap_or_default();
                let id = target.trim_start_matches('#');
                assert!(
                    document
                        .select(&select(&format!("[id=\"{id}\"]")))
                        .next()
                        .is_some(),
                    "{target} links to nothing"
                );
            }
        }

        // The details: field, live value, spec value, cause, and the fix command.
        let drift = document
            .select(&select("#drift-staging"))
            .next()
            .map(text)
            .unwrap_or_default();
        for expected in [
            "instance.app[0]",
            "i-0abc",
            "instance_type",
            "\"m5.4xlarge\"",
            "\"t3.medium\"",
            "envctl reconcile staging",
        ] {
            assert!(drift.contains(expected), "{expected} missing from {drift}");
        }
        let compliance = document
            .select(&select("#compliance-staging tbody tr td"))
            .map(text)
            .collect::<Vec<_>>();
        assert_eq!(compliance[0], "critical");
        assert_eq!(compliance[1], "forbid_world_ingress");
        assert!(
            compliance[5].contains("envctl reconcile staging"),
            "{compliance:?}"
        );
        let notes = document
            .select(&select("#drift-production .note"))
            .map(text)
            .collect::<Vec<_>>();
        assert_eq!(notes.len(), 1, "the note is in the report");

        // Self-contained, escaped, for phones and print.
        assert!(document.select(&select("script")).next().is_none());
        assert!(document.select(&select("link")).next().is_none());
        assert!(document.select(&select("[src]")).next().is_none());
        assert!(
            document.select(&select("b")).next().is_none(),
            "text from the cloud is escaped"
        );
        assert!(html.contains("&lt;b&gt;connection refused&lt;/b&gt;"));
        let viewport = document
            .select(&select("meta[name=\"viewport\"]"))
            .next()
            .and_then(|m| m.value().attr("content"));
        assert_eq!(viewport, Some("width=device-width, initial-scale=1"));
        let style = document
            .select(&select("head style"))
            .map(text)
            .collect::<String>();
        assert!(style.contains("@media print"), "{style}");
        assert!(style.contains("@media (max-width"), "{style}");
    }

    #[test]
    fn text_and_markdown_carry_the_heading_values_and_findings() {
        let (audit, provenance) = sample();
        let text = audit_text(&audit, &provenance, ComplianceSeverity::Low);
        assert!(
            text.starts_with("envctl audit of `webapp`, 2026-12-03T08:00:00Z\nenvironments: staging (account 123456789012, us-east-1); production (account 123456789012, us-east-1, protected, promoted from staging)"),
            "{text}"
        );
        assert!(
            text.contains("instance_type: live \"m5.4xlarge\", spec \"t3.medium\""),
            "{text}"
        );
        assert!(
            text.contains("[critical] staging: forbid_world_ingress (security_group.app allows tcp/22 from 0.0.0.0/0)"),
            "{text}"
        );
        assert!(
            text.contains("AWS upgraded the engine"),
            "notes are findings: {text}"
        );
        // drift, note, probe difference, unreachable probe, violation, expiring difference
        assert!(text.ends_with("6 findings\n"), "{text}");
        let critical_only = audit_text(&audit, &provenance, ComplianceSeverity::Critical);
        assert!(
            critical_only.ends_with("6 findings (5 at `--fail-on critical`)\n"),
            "{critical_only}"
        );

        let markdown = audit_markdown(&audit, &provenance, ComplianceSeverity::Low);
        assert!(
            markdown.starts_with("# envctl audit: `webapp`\n\n2026-12-03T08:00:00Z"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| modified | `instance.app[0]` | i-0abc | drift | `instance_type` | \"m5.4xlarge\" | \"t3.medium\" |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| **critical** | `forbid_world_ingress` | `security_group.app` |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| `staging` | 123456789012 | us-east-1 | no | - |"),
            "{markdown}"
        );
    }

    #[test]
    fn a_verification_of_an_environment_changed_since_is_stale() {
        let (mut audit, provenance) = sample();
        audit.verified_now.clear();
        let html = audit_html(&audit, &provenance, ComplianceSeverity::Low);
        let document = Html::parse_document(&html);
        let cell = document
            .select(&select(
                "table.matrix tr[data-environment=\"staging\"] td[data-check=\"verified\"]",
            ))
            .next()
            .expect("the cell");
        assert_eq!(cell.value().attr("class"), Some("warn"));
        assert_eq!(text(cell), "stale: changed since 2026-12-03 06:40 UTC");
        let report = audit_text(&audit, &provenance, ComplianceSeverity::Low);
        assert!(report.contains("(not of it as it is now)"), "{report}");
    }
}
