//! Spec drafts: the TOML that `envctl import` writes for an environment found in the cloud.
//!
//! Owns [`SpecDraft`] (a whole spec: project, one environment, resources, what was left out),
//! [`EnvironmentDraft`] and [`DifferenceDraft`] (what a second environment adds to a spec),
//! their rendering as TOML text in envctl's canonical layout, and [`source_tables`], which
//! reads the resource tables of an existing spec back as draft values (what a second import
//! compares with). Invariants: rendering is deterministic (the order of the draft is kept);
//! keys that are not bare TOML keys are quoted; strings are escaped, so any value round-trips;
//! a drafted difference carries [`TODO`] in its reason, risk, owner and expiry, which the
//! spec's checks reject until a person writes them.

use std::fmt::Write as _;

/// What `envctl import` writes where a person must decide (a drafted difference's reason,
/// risk, owner and expiry); a spec holding it does not validate.
pub const TODO: &str = "TODO";

/// A value as it is written in a spec.
#[derive(Debug, Clone, PartialEq)]
pub enum DraftValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<DraftValue>),
    /// An inline table, in the order given.
    Table(Vec<(String, DraftValue)>),
}

impl DraftValue {
    /// The value as TOML text (inline).
    pub fn to_toml(&self) -> String {
        match self {
            DraftValue::Str(text) => quoted(text),
            DraftValue::Int(n) => n.to_string(),
            DraftValue::Float(x) if x.fract() == 0.0 && x.is_finite() => format!("{x:.1}"),
            DraftValue::Float(x) => x.to_string(),
            DraftValue::Bool(b) => b.to_string(),
            DraftValue::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(DraftValue::to_toml)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DraftValue::Table(entries) if entries.is_empty() => "{}".to_string(),
            DraftValue::Table(entries) => format!(
                "{{ {} }}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{} = {}", key(k), v.to_toml()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn from_toml(value: &toml::Value) -> Option<DraftValue> {
        Some(match value {
            toml::Value::String(text) => DraftValue::Str(text.clone()),
            toml::Value::Integer(n) => DraftValue::Int(*n),
            toml::Value::Float(x) => DraftValue::Float(*x),
            toml::Value::Boolean(b) => DraftValue::Bool(*b),
            toml::Value::Array(items) => DraftValue::List(
                items
                    .iter()
                    .map(DraftValue::from_toml)
                    .collect::<Option<Vec<_>>>()?,
            ),
            toml::Value::Table(table) => DraftValue::Table(
                table
                    .iter()
                    .map(|(k, v)| Some((k.clone(), DraftValue::from_toml(v)?)))
                    .collect::<Option<Vec<_>>>()?,
            ),
            toml::Value::Datetime(_) => return None,
        })
    }
}

/// One resource table, `[KIND.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDraft {
    /// The spec kind (`instance`, `db_cluster`, ...).
    pub kind: String,
    pub name: String,
    pub fields: Vec<(String, DraftValue)>,
    /// Comment lines written above the table (where it came from).
    pub comments: Vec<String>,
}

impl ResourceDraft {
    /// `KIND.NAME`.
    pub fn address(&self) -> String {
        format!("{}.{}", self.kind, self.name)
    }

    /// The value of `field`, if the draft sets it.
    pub fn field(&self, field: &str) -> Option<&DraftValue> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, v)| v)
    }
}

/// An environment's table: its scale, resource by resource.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvironmentDraft {
    pub name: String,
    /// `(KIND.NAME, scale fields)`, written as `KIND.NAME = { field = value, ... }`.
    pub scale: Vec<(String, Vec<(String, DraftValue)>)>,
}

/// A `[[differences]]` entry for a person to complete.
#[derive(Debug, Clone, PartialEq)]
pub struct DifferenceDraft {
    /// `KIND.NAME`.
    pub resource: String,
    pub field: String,
    /// The value in each environment, in order.
    pub values: Vec<(String, DraftValue)>,
}

/// A whole spec, as `envctl import` writes it for its first environment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpecDraft {
    /// Comment lines at the top (where and when it was imported).
    pub header: Vec<String>,
    pub project: String,
    pub region: String,
    pub environment: EnvironmentDraft,
    pub resources: Vec<ResourceDraft>,
    /// What the cloud holds that the spec could not say, one line each, written as comments
    /// at the end.
    pub left_out: Vec<String>,
}

impl SpecDraft {
    /// The spec as TOML text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "[project]");
        let _ = writeln!(out, "name = {}", quoted(&self.project));
        let _ = writeln!(out, "region = {}", quoted(&self.region));
        out.push('\n');
        out.push_str(&render_environment(&self.environment));
        for resource in &self.resources {
            out.push('\n');
            for line in &resource.comments {
                let _ = writeln!(out, "# {line}");
            }
            let _ = writeln!(out, "[{}.{}]", resource.kind, key(&resource.name));
            for (field, value) in &resource.fields {
                let _ = writeln!(out, "{} = {}", key(field), value.to_toml());
            }
        }
        out.push_str(&left_out_text(&self.left_out));
        out
    }
}

/// `[environments.NAME]` with its scale, as TOML text.
pub fn render_environment(environment: &EnvironmentDraft) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "[environments.{}]", key(&environment.name));
    for (address, fields) in &environment.scale {
        let _ = writeln!(
            out,
            "{address} = {}",
            DraftValue::Table(fields.clone()).to_toml()
        );
    }
    out
}

/// `[[differences]]` entries for a person to complete, as TOML text.
pub fn render_differences(differences: &[DifferenceDraft]) -> String {
    let mut out = String::new();
    for difference in differences {
        out.push('\n');
        let _ = writeln!(out, "[[differences]]");
        let _ = writeln!(out, "resource = {}", quoted(&difference.resource));
        let _ = writeln!(out, "field = {}", quoted(&difference.field));
        let _ = writeln!(
            out,
            "values = {}",
            DraftValue::Table(difference.values.clone()).to_toml()
        );
        for part in ["reason", "risk", "owner", "expires"] {
            let _ = writeln!(out, "{part} = {}", quoted(TODO));
        }
    }
    out
}

/// What could not be said in the spec, as a comment block (empty when nothing was left out).
pub fn left_out_text(left_out: &[String]) -> String {
    let mut out = String::new();
    if left_out.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n# Not in this spec (`envctl import` could not say it):"
    );
    for line in left_out {
        let _ = writeln!(out, "# - {line}");
    }
    out
}

/// The resource tables of the spec `text` (`[KIND.NAME]` for every table that is not
/// `project`, `environments`, `differences`, `compliance` or `probes`), as drafts; `None`
/// when the text is not TOML.
pub fn source_tables(text: &str) -> Option<Vec<ResourceDraft>> {
    let document = text.parse::<toml::Table>().ok()?;
    let mut out = Vec::new();
    for (kind, tables) in &document {
        if matches!(
            kind.as_str(),
            "project" | "environments" | "differences" | "compliance" | "probes"
        ) {
            continue;
        }
        let Some(tables) = tables.as_table() else {
            continue;
        };
        for (name, fields) in tables {
            let Some(fields) = fields.as_table() else {
                continue;
            };
            out.push(ResourceDraft {
                kind: kind.clone(),
                name: name.clone(),
                fields: fields
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), DraftValue::from_toml(v)?)))
                    .collect(),
                comments: Vec::new(),
            });
        }
    }
    Some(out)
}

/// The environments an existing spec declares (`[environments.NAME]`).
pub fn source_environments(text: &str) -> Vec<String> {
    text.parse::<toml::Table>()
        .ok()
        .and_then(|d| d.get("environments").and_then(|e| e.as_table()).cloned())
        .map(|e| e.keys().cloned().collect())
        .unwrap_or_default()
}

/// The `name` and `region` of an existing spec's `[project]`; `None` when the text is not
/// TOML or either is missing.
pub fn source_project(text: &str) -> Option<(String, String)> {
    let document = text.parse::<toml::Table>().ok()?;
    let project = document.get("project")?.as_table()?;
    Some((
        project.get("name")?.as_str()?.to_string(),
        project.get("region")?.as_str()?.to_string(),
    ))
}

/// Whether `text` is a TOML document.
pub fn is_toml(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok()
}

/// `name` as a TOML key: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { name.to_string() } else { quoted(name) }
}

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_renders_as_toml_that_reads_back_the_same() {
        let draft = SpecDraft {
            header: vec!["imported".to_string()],
            project: "shop".to_string(),
            region: "us-east-1".to_string(),
            environment: EnvironmentDraft {
                name: "staging".to_string(),
                scale: vec![(
                    "instance.web".to_string(),
                    vec![
                        (
                            "instance_type".to_string(),
                            DraftValue::Str("t3.small".into()),
                        ),
                        ("count".to_string(), DraftValue::Int(2)),
                    ],
                )],
            },
            resources: vec![ResourceDraft {
                kind: "db_cluster".to_string(),
                name: "orders".to_string(),
                fields: vec![
                    (
                        "engine".to_string(),
                        DraftValue::Str("a \"quoted\" \\ name".into()),
                    ),
                    (
                        "parameters".to_string(),
                        DraftValue::Table(vec![(
                            "rds.force_ssl".to_string(),
                            DraftValue::Str("1".into()),
                        )]),
                    ),
                    ("deletion_protection".to_string(), DraftValue::Bool(true)),
                    ("threshold".to_string(), DraftValue::Float(80.0)),
                ],
                comments: vec!["from orders-db".to_string()],
            }],
            left_out: vec!["a NAT gateway".to_string()],
        };
        let text = draft.render();
        assert!(text.contains("\"rds.force_ssl\" = \"1\""), "{text}");
        assert!(text.contains("instance.web = { instance_type = \"t3.small\", count = 2 }"));
        assert!(text.contains("# - a NAT gateway"), "{text}");
        let tables = source_tables(&text).expect("the draft is TOML");
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].fields, draft.resources[0].fields);
        assert_eq!(source_environments(&text), ["staging"]);
    }

    #[test]
    fn drafted_differences_carry_todo_in_every_part_a_person_must_write() {
        let text = render_differences(&[DifferenceDraft {
            resource: "db_cluster.orders".to_string(),
            field: "backup_retention_days".to_string(),
            values: vec![
                ("staging".to_string(), DraftValue::Int(7)),
                ("production".to_string(), DraftValue::Int(30)),
            ],
        }]);
        assert_eq!(
            text,
            "\n[[differences]]\nresource = \"db_cluster.orders\"\nfield = \"backup_retention_days\"\n\
             values = { staging = 7, production = 30 }\nreason = \"TODO\"\nrisk = \"TODO\"\n\
             owner = \"TODO\"\nexpires = \"TODO\"\n"
        );
    }
}
