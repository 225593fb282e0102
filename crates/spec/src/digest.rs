//! The parity digest: one hash of everything environments must share.
//!
//! Owns the canonical serialisation that is hashed. It covers the project's name, region and
//! tags, every resource (kind and name) with every field that is neither a scale field nor
//! declared as a difference (defaults included, so writing a default out changes nothing), and
//! the resource and field of each declared difference. It leaves out scale, the values of
//! declared differences, and operational settings (`lock_bucket`, `protected`,
//! `promote_from`). Invariants: the result is `sha256:` and 64 lowercase hex digits; it depends
//! only on the validated model, never on the order or formatting of the source; it is the same
//! for every environment of a spec by construction, since nothing environment-specific enters.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::kinds::address;
use crate::model::Value;
use crate::spec::Model;

pub(crate) fn parity_digest(model: &Model) -> String {
    let hash = Sha256::digest(canonical_text(model).as_bytes());
    let mut out = String::from("sha256:");
    for byte in hash {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// One line per setting, `key=json`, in a fixed order.
fn canonical_text(model: &Model) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: &Value| {
        let json = serde_json::to_string(value).unwrap_or_default();
        let key = serde_json::to_string(key).unwrap_or_default();
        let _ = writeln!(out, "{key}={json}");
    };
    line("project.name", &Value::Str(model.project.name.clone()));
    line("project.region", &Value::Str(model.project.region.clone()));
    for (key, value) in &model.project.tags {
        line(&format!("project.tags.{key}"), &Value::Str(value.clone()));
    }
    let mut differences: Vec<String> = model
        .differences
        .iter()
        .map(|d| format!("{}.{}", address(d.kind, &d.resource), d.field))
        .collect();
    differences.sort();
    for difference in &differences {
        line("difference", &Value::Str(difference.clone()));
    }
    // `model.resources` is sorted by kind then name; fields are a BTreeMap.
    for resource in &model.resources {
        let resource_address = address(resource.kind, &resource.name);
        line("resource", &Value::Str(resource_address.clone()));
        for (field, value) in &resource.fields {
            let key = format!("{resource_address}.{field}");
            let scale = resource.kind.field(field).is_some_and(|def| def.scale);
            if scale || differences.binary_search(&key).is_ok() {
                continue;
            }
            line(&key, &value.value.to_value());
        }
    }
    out
}
