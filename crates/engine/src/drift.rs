//! Drift: how an environment's live state departs from its spec, sorted the way an operator
//! reads it after an incident.
//!
//! Owns [`DriftReport`] and [`drift_of`], which derives the report from a plan made with
//! unmanaged resources included (so drift and reconcile can never disagree: reconcile applies
//! exactly the plan whose drift was shown). Invariants: a resource missing from the cloud is
//! `missing`; differing fields are `modified`, with the plan's cause telling a change made
//! outside envctl (`drift`) from a spec changed since the last apply (`spec`); set items the
//! cloud has and the spec does not (an extra rule, an extra group) and whole resources the spec
//! does not have (tagged orphans, untagged strays in the environment's network) are
//! `unmanaged`.

use envctl_spec::{Address, ResourceKind, Value};
use serde::{Deserialize, Serialize};

use crate::plan::{Cause, Change, Plan};
use crate::provider::{FieldChange, Note};

/// The three ways live state departs from the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    Modified,
    Missing,
    Unmanaged,
}

/// One departure from the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftEntry {
    pub address: Address,
    pub resource_kind: ResourceKind,
    pub kind: DriftKind,
    pub cause: Cause,
    /// The cloud id, when the resource exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub fields: Vec<FieldChange>,
}

/// Everything that departs from the spec in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub environment: String,
    pub drift: Vec<DriftEntry>,
    /// Differences envctl deliberately leaves alone (version skew).
    pub notes: Vec<Note>,
}

impl DriftReport {
    /// True when live state matches the spec.
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty()
    }
}

/// The drift a plan (made with unmanaged resources included) describes.
pub fn drift_of(plan: &Plan) -> DriftReport {
    let mut drift = Vec::new();
    for change in &plan.changes {
        let id = change.live().map(|l| l.id.clone());
        let entry = |kind, fields| DriftEntry {
            address: change.address.clone(),
            resource_kind: change.kind,
            kind,
            cause: change.cause,
            id: id.clone(),
            fields,
        };
        match &change.change {
            Change::Create { .. } => drift.push(entry(DriftKind::Missing, Vec::new())),
            Change::Delete { .. } => drift.push(entry(DriftKind::Unmanaged, Vec::new())),
            Change::Update { fields, .. } | Change::Replace { fields, .. } => {
                let (modified, extra) = split_extra_items(fields);
                if !modified.is_empty() || (extra.is_empty() && change.cause == Cause::Redeploy) {
                    drift.push(entry(DriftKind::Modified, modified));
                }
                if !extra.is_empty() {
                    drift.push(entry(DriftKind::Unmanaged, extra));
                }
            }
        }
    }
    DriftReport {
        environment: plan.environment.clone(),
        drift,
        notes: plan.notes.clone(),
    }
}

/// Splits field changes into what differs from the spec and the set items only the cloud has.
fn split_extra_items(fields: &[FieldChange]) -> (Vec<FieldChange>, Vec<FieldChange>) {
    let mut modified = Vec::new();
    let mut extra = Vec::new();
    for field in fields {
        match (&field.live, &field.desired) {
            (Some(Value::List(live)), Some(Value::List(desired))) => {
                let only_live: Vec<Value> = live
                    .iter()
                    .filter(|v| !desired.contains(v))
                    .cloned()
                    .collect();
                let only_desired = desired.iter().any(|v| !live.contains(v));
                if !only_live.is_empty() {
                    extra.push(FieldChange {
                        field: field.field.clone(),
                        live: Some(Value::List(only_live)),
                        desired: None,
                        forces_replacement: field.forces_replacement,
                    });
                }
                if only_desired {
                    // The extra items are reported as unmanaged; here only what is missing.
                    let shared: Vec<Value> = live
                        .iter()
                        .filter(|v| desired.contains(v))
                        .cloned()
                        .collect();
                    modified.push(FieldChange {
                        live: Some(Value::List(shared)),
                        ..field.clone()
                    });
                }
            }
            _ => modified.push(field.clone()),
        }
    }
    (modified, extra)
}
