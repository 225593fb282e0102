//! A kind-agnostic field comparison that providers build their `diff` on.
//!
//! Owns [`diff_fields`]. Invariants: only fields the desired resource sets are compared (the
//! cloud may report more); tags are compared as a subset (the cloud may add its own, and the
//! applied-digest tag is envctl's bookkeeping, never a difference); a field listed as forcing
//! replacement marks its change so.

use envctl_spec::{DesiredResource, TAG_APPLIED_DIGEST, Value};

use crate::live::LiveResource;
use crate::provider::{FieldChange, ResourceDiff};

/// The pseudo-field under which tag differences are reported.
pub const TAGS_FIELD: &str = "tags";

/// Fields of `desired` whose live value differs, plus `tags` when a desired tag is missing or
/// different. Fields named in `forces_replacement` are marked as such. (Providers wrap this in
/// a [`ResourceDiff`], adding kind-specific notes.)
pub fn diff_fields(
    desired: &DesiredResource,
    live: &LiveResource,
    forces_replacement: &[&str],
) -> Vec<FieldChange> {
    let mut changes: Vec<FieldChange> = desired
        .fields
        .iter()
        .filter(|(name, value)| live.fields.get(name.as_str()) != Some(value))
        .map(|(name, value)| FieldChange {
            field: name.clone(),
            live: live.fields.get(name.as_str()).cloned(),
            desired: Some(value.clone()),
            forces_replacement: forces_replacement.contains(&name.as_str()),
        })
        .collect();
    let tags_differ = desired
        .tags
        .iter()
        .any(|(k, v)| live.tags.get(k) != Some(v));
    if tags_differ {
        let as_list = |tags: &std::collections::BTreeMap<String, String>| {
            Value::string_set(
                tags.iter()
                    .filter(|(k, _)| k.as_str() != TAG_APPLIED_DIGEST)
                    .map(|(k, v)| format!("{k}={v}")),
            )
        };
        changes.push(FieldChange {
            field: TAGS_FIELD.to_string(),
            live: Some(as_list(&live.tags)),
            desired: Some(as_list(&desired.tags)),
            forces_replacement: false,
        });
    }
    changes
}

/// A diff made of field changes alone.
pub fn plain_diff(changes: Vec<FieldChange>) -> ResourceDiff {
    ResourceDiff {
        changes,
        notes: Vec::new(),
    }
}
