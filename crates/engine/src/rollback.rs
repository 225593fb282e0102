//! Undoing what a failed apply already changed.
//!
//! Owns [`rollback`]. Invariants: operations are undone one at a time in the reverse of the
//! order they finished, so a resource is undone before what it depends on; a create is undone
//! by deleting what it created (deletion protection lifted: envctl made it moments ago); an
//! update by updating back to the values envctl last applied, and only when the values read
//! before the apply were exactly those (their applied digest says so): an update that repaired
//! drift is never undone into the drift, and is listed as kept; a delete cannot be undone and
//! is reported as such, which is why applies run pure deletes last.

use std::collections::BTreeMap;
use std::time::Instant;

use envctl_spec::{DesiredResource, Value};

use crate::execute::{ApplyReport, OperationReport, Outcome, Reporter};
use crate::graph::Step;
use crate::live::{LiveResource, applied_digest};
use crate::plan::{Cause, Change, Plan, ResourceChange};
use crate::provider::{CloudIds, DeleteOptions, FieldChange, NoProgress, Provider, ProviderError};

/// What a rollback did, one entry per operation it tried to undo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollbackReport {
    /// The undo operations, in the order they ran.
    pub operations: Vec<OperationReport>,
    /// Deletes that succeeded before the failure and cannot be undone.
    pub irreversible: Vec<String>,
    /// Updates deliberately not undone, with why (the values before them were drift).
    pub kept: Vec<(String, String)>,
}

impl RollbackReport {
    /// Undo operations that succeeded.
    pub fn undone(&self) -> usize {
        self.operations
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Succeeded { .. }))
            .count()
    }

    /// Undo operations that failed.
    pub fn failed(&self) -> usize {
        self.operations.len() - self.undone()
    }
}

/// Undoes every successful operation of `report` (made by applying `plan`).
pub async fn rollback<P: Provider + ?Sized, R: Reporter + ?Sized>(
    plan: &Plan,
    report: &ApplyReport,
    provider: &P,
    reporter: &R,
) -> RollbackReport {
    let mut result = RollbackReport::default();
    let ids: CloudIds = plan.live_ids.clone();
    for operation in report.operations.iter().rev() {
        let Outcome::Succeeded { applied } = &operation.outcome else {
            continue;
        };
        let change = plan
            .changes
            .iter()
            .find(|c| c.address == operation.address && c.action() == operation.action);
        let undo_step = match operation.step {
            Step::Create => Step::Delete,
            Step::Update => Step::Update,
            Step::Delete => {
                result.irreversible.push(operation.address.to_string());
                continue;
            }
        };
        if operation.step == Step::Update
            && let Some(why) = change.and_then(not_restorable)
        {
            result.kept.push((operation.address.to_string(), why));
            continue;
        }
        reporter.on_start(&operation.address, operation.action, undo_step);
        let started = Instant::now();
        let outcome = match (operation.step, applied, change.map(|c| &c.change)) {
            (Step::Create, Some(created), _) => provider
                .delete(
                    created,
                    DeleteOptions {
                        lift_deletion_protection: true,
                    },
                    &NoProgress,
                )
                .await
                .err(),
            (
                Step::Update,
                Some(updated),
                Some(Change::Update {
                    desired,
                    live: before,
                    ..
                }),
            ) => restore(provider, desired, before, updated, &ids)
                .await
                .err(),
            _ => Some(nothing_to_restore(operation)),
        };
        let undone = OperationReport {
            address: operation.address.clone(),
            action: operation.action,
            step: undo_step,
            outcome: outcome.map_or(Outcome::Succeeded { applied: None }, Outcome::Failed),
            elapsed: started.elapsed(),
            cloud_id: operation.cloud_id.clone(),
        };
        reporter.on_finish(&undone);
        result.operations.push(undone);
    }
    result
}

/// Why an update must not be undone, if it must not: the values before it were not the ones
/// envctl last applied (drift, or a live state the digest does not vouch for), so restoring
/// them would re-open what the update closed.
fn not_restorable(change: &ResourceChange) -> Option<String> {
    if change.cause == Cause::Drift {
        return Some(
            "the update repaired drift; restoring the drifted values would undo the repair".into(),
        );
    }
    let Change::Update {
        desired,
        live: before,
        ..
    } = &change.change
    else {
        return None;
    };
    let applied: BTreeMap<String, Value> = before
        .fields
        .iter()
        .filter(|(name, _)| desired.fields.contains_key(name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    match before.applied_digest() {
        Some(digest) if digest == applied_digest(&applied) => None,
        _ => Some(
            "its values before the apply were not the ones envctl last applied, so they are not restored; it keeps the spec's values".into(),
        ),
    }
}

fn nothing_to_restore(operation: &OperationReport) -> ProviderError {
    ProviderError::NotFound {
        what: format!("the state of {} before the apply", operation.address),
    }
}

/// Updates `now` back to the values `before` had.
async fn restore<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredResource,
    before: &LiveResource,
    now: &LiveResource,
    ids: &CloudIds,
) -> Result<(), ProviderError> {
    let previous = DesiredResource {
        address: before.address.clone(),
        kind: before.kind,
        cloud_name: desired.cloud_name.clone(),
        tags: before.tags.clone(),
        depends_on: before.depends_on.clone(),
        fields: before.fields.clone(),
        span: Default::default(),
    };
    // Only fields the spec sets: the rest (an instance's run state) are not envctl's to restore.
    let changes: Vec<FieldChange> = before
        .fields
        .iter()
        .filter(|(name, _)| desired.fields.contains_key(name.as_str()))
        .filter(|(name, value)| now.fields.get(name.as_str()) != Some(*value))
        .map(|(name, value)| FieldChange {
            field: name.clone(),
            live: now.fields.get(name.as_str()).cloned(),
            desired: Some(value.clone()),
            forces_replacement: false,
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    provider
        .update(&previous, now, &changes, ids, &NoProgress)
        .await
        .map(|_| ())
}
