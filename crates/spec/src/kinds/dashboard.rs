//! `dashboard`: a CloudWatch dashboard `{project}-{environment}-{name}` whose body is a JSON
//! file next to the spec.
//!
//! Owns the dashboard's definition: its one field (`body`, the file's path), its placeholders
//! and their check (located at `body`: each names a resource of the spec, the file is JSON
//! once they are filled in), and its expansion. Placeholders: `${project}`, `${environment}`
//! and `${region}` anywhere; `${ids:instance.NAME}` in place of a JSON value (the instance
//! ids, as an array); `${id:db_cluster.NAME}` inside a string (the cluster's identifier).
//! Invariants: a dashboard has no scale fields; its expanded `body` is the file in one
//! canonical form (compact JSON, each `${ids:...}` a string `"${ids:...}"`, each string that
//! is exactly a cluster's identifier written as `${id:db_cluster.NAME}`), with the
//! environment's placeholders substituted and the ids left for the provider to fill in, which
//! reads a live body back into the same form; `instances` (scale-dependent: it follows the
//! count) and `db_clusters` reference everything the placeholders name, so the dashboard is
//! written after them and rewritten when their membership changes.

use std::collections::BTreeSet;

use super::{ExpandedKind, FieldDef, FieldValue, KindDef, Presence, Shape, SpecKind, address};
use super::{db_cluster, instance};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, address_of};
use crate::model::{Address, ResourceKind, Value};
use crate::spec::{Configuration, Configured};
use crate::template::PLACEHOLDERS;

/// The body file's path (spec), or the canonical body (expanded).
pub(crate) const BODY: &str = "body";
/// The instances the body's `${ids:...}` name (expanded only).
pub(crate) const INSTANCES: &str = "instances";
/// The clusters the body's `${id:...}` name (expanded only).
pub(crate) const DB_CLUSTERS: &str = "db_clusters";

/// What CloudWatch accepts as a dashboard body, in bytes.
const MAX_BODY_BYTES: usize = 1_000_000;

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::Dashboard,
    singular: "dashboard",
    plural: "dashboards",
    fields: &[FieldDef {
        name: BODY,
        shape: Shape::JsonFile {
            max_bytes: MAX_BODY_BYTES,
        },
        presence: Presence::Required,
        scale: false,
        example: "body = \"dashboards/main.json\"",
    }],
    count_field: None,
    expands_to: &[ExpandedKind {
        scale_dependent_fields: &[INSTANCES],
        templated_fields: &[BODY],
        ..ExpandedKind::plain(ResourceKind::Dashboard)
    }],
    expand,
    check: Some(check),
    check_all: None,
});

/// One `${...}` of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placeholder<'t> {
    /// `${project}`, `${environment}`, `${region}`.
    Environment,
    /// `${ids:instance.NAME}`: the instances' ids, as a JSON array.
    InstanceIds(&'t str),
    /// `${id:db_cluster.NAME}`: the cluster's identifier, inside a string.
    ClusterId(&'t str),
}

/// A placeholder found at `start..end` of a body, or what is wrong with it.
#[derive(Debug)]
struct Found<'t> {
    start: usize,
    end: usize,
    placeholder: Result<Placeholder<'t>, String>,
}

/// Every `${...}` of `text`, in order.
fn placeholders(text: &str) -> Vec<Found<'_>> {
    let mut found = Vec::new();
    let mut offset = 0;
    while let Some(at) = text[offset..].find("${") {
        let start = offset + at;
        let Some(len) = text[start + 2..].find('}') else {
            found.push(Found {
                start,
                end: text.len(),
                placeholder: Err("`${` is never closed with `}`".into()),
            });
            break;
        };
        let inner = &text[start + 2..start + 2 + len];
        let end = start + 3 + len;
        let placeholder = if PLACEHOLDERS.contains(&inner) {
            Ok(Placeholder::Environment)
        } else if let Some(name) = inner.strip_prefix("ids:instance.") {
            Ok(Placeholder::InstanceIds(name))
        } else if let Some(name) = inner.strip_prefix("id:db_cluster.") {
            Ok(Placeholder::ClusterId(name))
        } else {
            Err(format!(
                "`${{{inner}}}` is not a placeholder envctl knows (`${{project}}`, \
                 `${{environment}}`, `${{region}}`, `${{ids:instance.NAME}}`, \
                 `${{id:db_cluster.NAME}}`)"
            ))
        };
        found.push(Found {
            start,
            end,
            placeholder,
        });
        offset = end;
    }
    found
}

/// `text` with each placeholder replaced by what `fill` makes of it.
fn fill_in(text: &str, fill: impl Fn(&Placeholder<'_>, &str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for found in placeholders(text) {
        out.push_str(&text[rest..found.start]);
        let written = &text[found.start..found.end];
        match &found.placeholder {
            Ok(placeholder) => out.push_str(&fill(placeholder, written)),
            Err(_) => out.push_str(written),
        }
        rest = found.end;
    }
    out.push_str(&text[rest..]);
    out
}

/// The 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Every placeholder known and naming a resource of the spec, and the file JSON once they
/// are filled in.
fn check(configuration: &Configuration<'_>, dashboard: &Configured<'_>, out: &mut Vec<Diagnostic>) {
    let owner = address(KIND, dashboard.name());
    let Some(field) = dashboard.field(BODY) else {
        return;
    };
    let FieldValue::JsonFile { path, text } = &field.value else {
        return;
    };
    let file = &path.value;
    let mut ok = true;
    for found in placeholders(text) {
        let line = line_of(text, found.start);
        let problem = match &found.placeholder {
            Err(problem) => Some((problem.clone(), None)),
            Ok(Placeholder::Environment) => None,
            Ok(Placeholder::InstanceIds(name)) => {
                configuration.get(instance::KIND, name).is_none().then(|| {
                    (
                        format!("`${{ids:instance.{name}}}` names no instance of the spec"),
                        Some(crate::suggest::unknown_name_hint(
                            name,
                            configuration.names(instance::KIND),
                            "instances",
                        )),
                    )
                })
            }
            Ok(Placeholder::ClusterId(name)) => configuration
                .get(db_cluster::KIND, name)
                .is_none()
                .then(|| {
                    (
                        format!(
                            "`${{id:db_cluster.{name}}}` names no database cluster of the spec"
                        ),
                        Some(crate::suggest::unknown_name_hint(
                            name,
                            configuration.names(db_cluster::KIND),
                            "database clusters",
                        )),
                    )
                }),
        };
        if let Some((label, hint)) = problem {
            ok = false;
            out.push(
                Diagnostic::error(format!("the body of `{owner}` has a wrong placeholder"))
                    .at(path.span, format!("{file}, line {line}: {label}"))
                    .with_optional_hint(hint),
            );
        }
    }
    if !ok {
        return;
    }
    // Filled in with stand-ins of the right shape, the file must be a JSON object.
    let probe = fill_in(text, |placeholder, _| match placeholder {
        Placeholder::InstanceIds(_) => "[]".into(),
        Placeholder::Environment | Placeholder::ClusterId(_) => "x".into(),
    });
    match serde_json::from_str::<serde_json::Value>(&probe) {
        Ok(serde_json::Value::Object(_)) => {}
        Ok(_) => out.push(
            Diagnostic::error(format!("the body of `{owner}` is not a JSON object"))
                .at(path.span, format!("{file} holds another JSON value"))
                .with_hint("a dashboard body is an object such as `{ \"widgets\": [...] }`"),
        ),
        Err(error) => out.push(
            Diagnostic::error(format!("the body of `{owner}` is not JSON"))
                .at(path.span, format!("{file}, line {}: {error}", error.line()))
                .with_hint(
                    "`${ids:instance.NAME}` stands for a whole JSON value (an array, unquoted); \
                     the other placeholders go inside strings",
                ),
        ),
    }
}

/// One `dashboard`: its canonical body and the resources its placeholders name.
fn expand(dashboard: &Configured<'_>, out: &mut Expansion<'_>) {
    let Some(FieldValue::JsonFile { text, .. }) = dashboard.field(BODY).map(|f| &f.value) else {
        return;
    };
    let placeholders_of_environment = out.placeholders();
    let mut instances = BTreeSet::new();
    let mut clusters = BTreeSet::new();
    for found in placeholders(text) {
        match found.placeholder {
            Ok(Placeholder::InstanceIds(name)) => {
                for index in 0..out.count_of(instance::KIND, name) {
                    instances.insert(Address::indexed(ResourceKind::Instance, name, index));
                }
            }
            Ok(Placeholder::ClusterId(name)) => {
                clusters.insert(address_of(db_cluster::KIND, name));
            }
            _ => {}
        }
    }
    // Each `${ids:...}` becomes a string holding itself, so that the file parses as JSON.
    let quoted = fill_in(text, |placeholder, written| match placeholder {
        Placeholder::InstanceIds(_) => format!("\"{written}\""),
        Placeholder::Environment | Placeholder::ClusterId(_) => written.to_string(),
    });
    let substituted = placeholders_of_environment.substitute(&quoted);
    let cluster_names: Vec<(String, String)> = out
        .names_of(db_cluster::KIND)
        .into_iter()
        .map(|name| {
            let cluster = address_of(db_cluster::KIND, &name);
            (
                out.cloud_name(&cluster),
                format!("${{id:db_cluster.{name}}}"),
            )
        })
        .collect();
    let body = match serde_json::from_str::<serde_json::Value>(&substituted) {
        Ok(mut json) => {
            name_clusters(&mut json, &cluster_names);
            json.to_string()
        }
        // A checked body parses; keep the text rather than lose it.
        Err(_) => substituted,
    };
    let mut fields = Fields::new();
    fields.insert(BODY.into(), Value::Str(body));
    fields.insert(
        INSTANCES.into(),
        Value::set(instances.iter().cloned().map(Value::Ref)),
    );
    fields.insert(
        DB_CLUSTERS.into(),
        Value::set(clusters.iter().cloned().map(Value::Ref)),
    );
    let depends_on: Vec<Address> = instances.into_iter().chain(clusters).collect();
    out.push(
        address_of(KIND, dashboard.name()),
        dashboard.resource.span,
        depends_on,
        fields,
    );
}

/// Writes every string of `json` that is exactly a cluster's identifier as its placeholder,
/// as the provider reads a live body back.
fn name_clusters(json: &mut serde_json::Value, names: &[(String, String)]) {
    match json {
        serde_json::Value::String(text) => {
            if let Some((_, placeholder)) = names.iter().find(|(name, _)| name == text) {
                *text = placeholder.clone();
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                name_clusters(item, names);
            }
        }
        serde_json::Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                name_clusters(item, names);
            }
        }
        _ => {}
    }
}
