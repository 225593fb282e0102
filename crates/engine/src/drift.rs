//! Drift: how an environment's live state departs from its spec, sorted the way an operator
//! reads it after an incident.
//!
//! Owns [`DriftReport`] with its [`DriftEntry`]s and their [`Departure`]s, and [`drift_of`], which
//! derives the report from a plan made with unmanaged resources included (so drift and reconcile
//! can never disagree: reconcile applies exactly the plan whose drift was shown). Invariants: each
//! entry carries only what its kind of departure has (a missing resource has no cloud id and no
//! fields); a resource missing from the cloud is `missing`; differing fields are `modified`, with
//! the plan's cause telling a change made outside envctl (`drift`) from a spec changed since the
//! last apply (`spec`); set items the cloud has and the spec does not (an extra rule, an extra
//! group) and whole resources the spec does not have (tagged orphans, untagged strays in the
//! environment's network) are `unmanaged`.

use envctl_spec::{Address, ResourceKind, Value};
use serde::{Deserialize, Serialize};

use crate::plan::{Cause, Change, Plan};
use crate::provider::{FieldChange, Note};

/// The three ways live state departs from the spec, as names: a [`Departure`] without its
/// data.
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
    pub cause: Cause,
    /// How it departs, with what only that way of departing has.
    #[serde(flatten)]
    pub departure: Departure,
}

/// How one resource departs from the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Departure {
    /// The cloud's copy `id` differs from the spec in `fields`.
    Modified {
        id: String,
        fields: Vec<FieldChange>,
    },
    /// The spec has it and the cloud does not.
    Missing,
    /// The cloud has it and the spec does not: the whole resource `id` (no `fields`), or the
    /// set items in `fields` (their `live` values) that only the cloud has.
    Unmanaged {
        id: String,
        fields: Vec<FieldChange>,
    },
}

impl DriftEntry {
    /// The way it departs, without its data.
    pub fn kind(&self) -> DriftKind {
        match self.departure {
            Departure::Modified { .. } => DriftKind::Modified,
            Departure::Missing => DriftKind::Missing,
            Departure::Unmanaged { .. } => DriftKind::Unmanaged,
        }
    }

    /// The cloud id; `None` when it is missing.
    pub fn id(&self) -> Option<&str> {
        match &self.departure {
            Departure::Modified { id, .. } | Departure::Unmanaged { id, .. } => Some(id),
            Departure::Missing => None,
        }
    }

    /// The fields it departs in; empty when it is missing or unmanaged as a whole.
    pub fn fields(&self) -> &[FieldChange] {
        match &self.departure {
            Departure::Modified { fields, .. } | Departure::Unmanaged { fields, .. } => fields,
            Departure::Missing => &[],
        }
    }
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
        let entry = |departure| DriftEntry {
            address: change.address.clone(),
            resource_kind: change.kind,
            cause: change.cause,
            departure,
        };
        match &change.change {
            Change::Create { .. } => drift.push(entry(Departure::Missing)),
            Change::Delete { live } => drift.push(entry(Departure::Unmanaged {
                id: live.id.clone(),
                fields: Vec::new(),
            })),
            Change::Update { live, fields, .. } | Change::Replace { live, fields, .. } => {
                let (modified, extra) = split_extra_items(fields);
                if !modified.is_empty() || (extra.is_empty() && change.cause == Cause::Redeploy) {
                    drift.push(entry(Departure::Modified {
                        id: live.id.clone(),
                        fields: modified,
                    }));
                }
                if !extra.is_empty() {
                    drift.push(entry(Departure::Unmanaged {
                        id: live.id.clone(),
                        fields: extra,
                    }));
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
