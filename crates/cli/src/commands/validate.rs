//! `envctl validate`: check the whole spec and print a one-line summary, or every diagnostic
//! as JSON (`--output json`) for editors and CI annotations.

use std::io::Write;

use envctl_spec::{Diagnostic, SourceFile};
use serde_json::json;

use crate::args::{GlobalArgs, OutputFormat, ValidateArgs};
use crate::context::{load_spec, plural};
use crate::errors::{Outcome, Reported};

pub fn run(global: &GlobalArgs, args: ValidateArgs) -> anyhow::Result<Outcome> {
    if args.output == OutputFormat::Json {
        return run_json(global);
    }
    let loaded = load_spec(&global.spec)?;
    let environments = loaded.spec.environment_names();
    if loaded.critical_violations > 0 {
        return Err(crate::errors::UserError::new(format!(
            "`{}` breaks {} (shown above): `apply` would refuse it",
            loaded.source.path,
            plural(loaded.critical_violations, "critical compliance rule")
        ))
        .hint("fix the spec, or declare each exception as a `[[differences]]` entry with `resource = \"compliance\"`")
        .into());
    }
    eprintln!(
        "`{}` is valid: project `{}`, {} ({}), {}",
        loaded.source.path,
        loaded.spec.project(),
        plural(environments.len(), "environment"),
        environments.join(", "),
        plural(loaded.warnings, "warning")
    );
    Ok(Outcome::Success)
}

/// One diagnostic as data: where (1-based line and column, in characters, of both ends),
/// what, and what to do.
fn diagnostic_json(diagnostic: &Diagnostic, source: &SourceFile) -> serde_json::Value {
    let position = |offset: usize| {
        let (line, column) = source.line_col(offset);
        json!({ "line": line, "column": column })
    };
    json!({
        "severity": diagnostic.severity.as_str(),
        "message": diagnostic.summary,
        "file": source.path,
        "start": diagnostic.span.map(|s| position(s.start)),
        "end": diagnostic.span.map(|s| position(s.end)),
        "label": diagnostic.label,
        "hints": diagnostic.hints,
    })
}

/// The document `validate --output json` prints: always one, whatever the spec holds; the exit
/// code is 1 when the spec has an error or breaks a critical compliance rule.
fn run_json(global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let checked = crate::context::check_spec_file(&global.spec)?;
    let errors = checked.errors();
    let critical = checked.critical_violations();
    let document = json!({
        "format_version": crate::render::JSON_FORMAT_VERSION,
        "file": checked.source.path,
        "valid": errors == 0,
        "errors": errors,
        "warnings": checked.diagnostics.len() - errors,
        "critical_violations": critical,
        "environments": checked.spec.as_ref().map(|s| s.environment_names()).unwrap_or_default(),
        "diagnostics": checked
            .diagnostics
            .iter()
            .map(|d| diagnostic_json(d, &checked.source))
            .collect::<Vec<_>>(),
    });
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(format!("{}\n", serde_json::to_string_pretty(&document)?).as_bytes())?;
    stdout.flush()?;
    if errors > 0 || critical > 0 {
        // The document said it all: exit 1 without another message.
        return Err(Reported { code: 1 }.into());
    }
    Ok(Outcome::Success)
}
