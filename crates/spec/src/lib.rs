//! The envctl spec: one TOML file describing every environment of a project, identical except
//! in scale.
//!
//! The data flows in two stages, and nothing here does IO (the caller hands in bytes):
//!
//! 1. `raw` walks the TOML document (parsed with recovery, so every syntax error is found) into
//!    spanned raw types that mirror the file's structure;
//! 2. `validate` checks every value and reference, applies each environment's scale overrides
//!    and declared differences, and checks each environment's resulting configuration.
//!
//! [`json_schema`] describes the file's structure as a JSON Schema for editors, generated from
//! the same tables the reader uses.
//!
//! [`check`] returns every problem it finds as a [`Diagnostic`], and a [`Spec`] when none of
//! them is an error. [`Spec::expand`] then turns the spec into the [`DesiredState`] of one
//! environment.
//!
//! Resource kinds and their fields (expanded field names in parentheses where they differ);
//! each kind is defined in its own file of `src/kinds/`, and a test holds this table to them:
//!
//! | kind | fields |
//! |------|--------|
//! | `vpc` | `cidr` |
//! | `subnet` | `vpc`, `cidr`, `zone` |
//! | `security_group` | `vpc`, `description`, `ingress`, `egress` |
//! | `instance` | `ami`, `instance_type`*, `count`*, `volume_size`*, `subnets` (`subnet`), `security_groups`, `monitoring` |
//! | `db_cluster` | `engine`, `engine_version`, `instance_class`*, `instances`*, `subnets`, `security_groups`, `backup_retention_days`, `backup_window`, `deletion_protection`, `storage_encrypted`, `master_username`, `parameters` (`parameter_group`) |
//! | `log_group` | `retention_days`, `kms_key` |
//! | `parameter` | `value`, `values`, `secure`, `value_from` (`type`) |
//! | `alarm` | `for` (`instance` or `db_cluster`, and `namespace`), `metric`, `statistic`, `comparison`, `threshold`, `period`, `evaluation_periods`, `actions` |
//! | `dashboard` | `body` (`instances`, `db_clusters`) |
//!
//! Fields marked * are scale fields: the only ones an environment may override. Any other field
//! may differ between environments only through a declared `[[differences]]` entry.

pub mod compliance;
pub mod date;
pub mod diagnostic;
pub mod draft;
pub mod format;
pub mod model;
pub mod probe;
pub mod rule;
pub mod secret;
pub mod source;
pub mod template;

mod digest;
mod expand;
mod formats;
mod kinds;
mod net;
mod raw;
mod schema;
mod spec;
mod suggest;
mod validate;

pub use compliance::{Compliance, ComplianceSeverity, RuleName, Subject, Violation};
pub use date::{CivilDate, DateParseError};
pub use diagnostic::{Diagnostic, Severity};
pub use model::*;
pub use probe::Probe;
pub use rule::{Peer, Rule, RuleParseError};
pub use schema::{SCHEMA_DIALECT, json_schema};
pub use secret::{SecretSource, SecretSourceError};
pub use source::SourceFile;
pub use spec::{Difference, EnvironmentSettings, Spec, UnknownEnvironment};

/// The outcome of [`check`]: every diagnostic, and the spec when none of them is an error.
#[derive(Debug)]
pub struct Checked {
    /// `Some` if and only if no diagnostic has [`Severity::Error`].
    pub spec: Option<Spec>,
    /// Every problem found, in the order of their position in the source (those without a
    /// position last).
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks a spec and reports every problem in one run.
///
/// `today` decides which declared differences have expired. TOML syntax errors are all
/// reported, but they stop the check there: the rest of a broken document would only produce
/// misleading follow-up errors.
pub fn check(source: &SourceFile, today: CivilDate) -> Checked {
    let mut diagnostics = Vec::new();
    let spec = raw::read(source, &mut diagnostics)
        .and_then(|raw| validate::validate(raw, source, today, &mut diagnostics));
    diagnostics.sort_by_key(|d| d.span.map_or(usize::MAX, |s| s.start));
    let spec = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        spec
    };
    Checked { spec, diagnostics }
}

/// The paths of the files next to the spec that `source` names (dashboard bodies), as written
/// (relative to the spec's folder), each once: what the caller reads and attaches with
/// [`SourceFile::with_file`] before [`check`]. Text that is not TOML names none (the check
/// reports it).
pub fn companion_paths(source: &SourceFile) -> Vec<String> {
    let Ok(document) = source.text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut paths: Vec<String> = document
        .get("dashboard")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|dashboards| dashboards.values())
        .filter_map(|dashboard| dashboard.get("body")?.as_str())
        .map(str::to_string)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Whether two IPv4 CIDR blocks share an address; `None` when either is not a CIDR block.
/// (Providers use it to tell whether a replacement subnet can exist beside the old one.)
pub fn cidrs_overlap(a: &str, b: &str) -> Option<bool> {
    let a = net::Cidr::parse(a).ok()?;
    let b = net::Cidr::parse(b).ok()?;
    Some(a.overlaps(b))
}
