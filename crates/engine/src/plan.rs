//! The plan: what would change, described and nothing more.
//!
//! Owns [`Plan`], [`ResourceChange`], [`Action`], [`Cause`] and the pure planning function
//! [`make_plan`]. Invariants: plan types only describe (the apply graph is built from them
//! elsewhere); no-op resources are not in `changes`; a plan serialises to JSON and back
//! unchanged, and carries the fingerprint of the live state it was made from so that a saved
//! plan can be refused when the cloud moved on; a plan holds no secret (the spec has none).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use envctl_spec::{Address, DesiredResource, DesiredState, ResourceKind};
use serde::{Deserialize, Serialize};

use crate::live::{LiveResource, LiveState, applied_digest};
use crate::provider::{FieldChange, Note, Provider, ReplaceOrder};

/// The version of the saved-plan and JSON plan format.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What happens to one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    /// The symbol shown before the address in a rendered plan.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    /// The verb shown in progress and summaries.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())
    }
}

/// Why a change is planned. For display only: the apply graph never looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The spec asks for something the cloud does not have yet, or the spec changed since
    /// envctl last applied this resource.
    Spec,
    /// The resource was changed outside envctl: its live values differ from what envctl last
    /// applied, and the spec did not change.
    Drift,
    /// The resource is tagged for this environment but the spec no longer has it, or it is a
    /// duplicate left by an interrupted run.
    Orphan,
    /// `destroy` removes everything the environment owns.
    Destroy,
    /// An untagged resource someone added inside the environment's network; only `reconcile`
    /// removes these.
    Unmanaged,
    /// `redeploy` rebuilds the resource from the spec although it may match.
    Redeploy,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Spec => "spec",
            Cause::Drift => "drift",
            Cause::Orphan => "orphan",
            Cause::Destroy => "destroy",
            Cause::Unmanaged => "unmanaged",
            Cause::Redeploy => "redeploy",
        })
    }
}

/// The planned change of one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub kind: ResourceKind,
    pub action: Action,
    pub cause: Cause,
    /// Per-field live -> desired values (empty for creates and deletes).
    pub fields: Vec<FieldChange>,
    /// What the resource should become; absent for deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredResource>,
    /// What the cloud has now; absent for creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveResource>,
    /// For replacements: whether the new resource comes up before the old one goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_order: Option<ReplaceOrder>,
    /// Why this change happens when the fields alone do not say it (for display only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Counts of changes by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

impl PlanSummary {
    /// Total number of changes.
    pub fn total(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }
}

/// Everything that would change in one environment, and what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub project: String,
    pub environment: String,
    pub region: String,
    pub parity_digest: String,
    pub protected: bool,
    /// The environment that must have converged on the same spec before this plan is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    /// The S3 bucket holding the environment's lock, if the spec names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_bucket: Option<String>,
    /// [`LiveState::fingerprint`] of the state the plan was made from.
    pub live_fingerprint: String,
    /// Cloud ids of every live resource the plan was made from (references of creates resolve
    /// against these).
    pub live_ids: BTreeMap<Address, String>,
    pub changes: Vec<ResourceChange>,
    /// Differences deliberately left alone (for display only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

/// Which matching resources `redeploy` rebuilds instead of leaving or patching them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplacePolicy {
    /// Patch what differs in place where the cloud allows it (plan, apply, reconcile).
    #[default]
    InPlace,
    /// Replace every resource changed outside envctl instead of patching it.
    Drifted,
    /// Replace every existing resource.
    All,
}

/// What a plan covers beyond bringing owned resources to the spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Also delete untagged resources found inside the environment's network (`reconcile`;
    /// needs a deep read).
    pub remove_unmanaged: bool,
    pub replace: ReplacePolicy,
}

impl Plan {
    /// Counts of changes by action.
    pub fn summary(&self) -> PlanSummary {
        let mut summary = PlanSummary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        summary
    }

    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Diffs `desired` against `live` into a plan. Pure: reads nothing, changes nothing.
pub fn make_plan<P: Provider + ?Sized>(
    desired: &DesiredState,
    live: &LiveState,
    provider: &P,
    options: PlanOptions,
) -> Plan {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let desired_addresses: BTreeSet<&Address> =
        desired.resources.iter().map(|r| &r.address).collect();

    for resource in &desired.resources {
        let mut candidates: Vec<&LiveResource> = live.at(&resource.address).collect();
        if candidates.is_empty() {
            changes.push(ResourceChange {
                address: resource.address.clone(),
                kind: resource.kind,
                action: Action::Create,
                cause: Cause::Spec,
                fields: Vec::new(),
                desired: Some(resource.clone()),
                live: None,
                replace_order: None,
                reason: None,
            });
            continue;
        }
        // Keep the copy closest to the spec; any other copy is a duplicate to remove.
        candidates.sort_by_key(|l| (provider.diff(resource, l).changes.len(), l.id.clone()));
        let Some((&kept, duplicates)) = candidates.split_first() else {
            continue;
        };
        for duplicate in duplicates {
            changes.push(delete_change(duplicate, Cause::Orphan));
        }
        let diff = provider.diff(resource, kept);
        notes.extend(diff.notes);
        let fields = diff.changes;
        let cause = cause_of_difference(resource, kept);
        let rebuild = match options.replace {
            ReplacePolicy::InPlace => false,
            ReplacePolicy::Drifted => !fields.is_empty() && cause == Cause::Drift,
            ReplacePolicy::All => true,
        };
        if fields.is_empty() && !rebuild {
            continue;
        }
        let action = if rebuild || fields.iter().any(|f| f.forces_replacement) {
            Action::Replace
        } else {
            Action::Update
        };
        changes.push(ResourceChange {
            address: resource.address.clone(),
            kind: resource.kind,
            action,
            cause: if fields.is_empty() {
                Cause::Redeploy
            } else {
                cause
            },
            fields,
            desired: Some(resource.clone()),
            live: Some(kept.clone()),
            replace_order: (action == Action::Replace)
                .then(|| provider.replace_order(resource.kind)),
            reason: rebuild.then(|| "redeploy rebuilds it from the spec".to_string()),
        });
    }
    cascade_replacements(&mut changes, desired, live);

    let mut orphans: Vec<&LiveResource> = live
        .resources
        .iter()
        .filter(|l| !desired_addresses.contains(&l.address))
        .collect();
    orphans.sort_by(|a, b| (&a.address, &a.id).cmp(&(&b.address, &b.id)));
    for orphan in orphans {
        changes.push(delete_change(orphan, Cause::Orphan));
    }
    if options.remove_unmanaged {
        for stray in &live.unmanaged {
            changes.push(delete_change(stray, Cause::Unmanaged));
        }
    }

    plan_of(desired, live, changes, notes)
}

/// A plan that deletes everything `live` holds (for `destroy`).
pub fn make_destroy_plan(desired: &DesiredState, live: &LiveState) -> Plan {
    let changes = live
        .resources
        .iter()
        .map(|r| delete_change(r, Cause::Destroy))
        .collect();
    plan_of(desired, live, changes, Vec::new())
}

/// A plan of `changes` for `desired`, made from `live`.
fn plan_of(
    desired: &DesiredState,
    live: &LiveState,
    changes: Vec<ResourceChange>,
    notes: Vec<Note>,
) -> Plan {
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        project: desired.project.clone(),
        environment: desired.environment.clone(),
        region: desired.region.clone(),
        parity_digest: desired.parity_digest.clone(),
        protected: desired.protected,
        promote_from: desired.promote_from.clone(),
        lock_bucket: desired.lock_bucket.clone(),
        live_fingerprint: live.fingerprint(),
        live_ids: live
            .resources
            .iter()
            .map(|r| (r.address.clone(), r.id.clone()))
            .collect(),
        changes,
        notes,
    }
}

fn delete_change(live: &LiveResource, cause: Cause) -> ResourceChange {
    ResourceChange {
        address: live.address.clone(),
        kind: live.kind,
        action: Action::Delete,
        cause,
        fields: Vec::new(),
        desired: None,
        live: Some(live.clone()),
        replace_order: None,
        reason: None,
    }
}

/// A resource that must be destroyed before its replacement is created takes everything that
/// references it along: those cannot keep pointing at something that is going away, so they
/// are replaced too, old copy first (and the plan says why).
fn cascade_replacements(
    changes: &mut Vec<ResourceChange>,
    desired: &DesiredState,
    live: &LiveState,
) {
    loop {
        let going: BTreeSet<Address> = changes
            .iter()
            .filter(|c| c.replace_order == Some(ReplaceOrder::DestroyBeforeCreate))
            .map(|c| c.address.clone())
            .collect();
        let mut added = false;
        for resource in &desired.resources {
            let Some(current) = live.at(&resource.address).next() else {
                continue;
            };
            let Some(cause) = current.depends_on.iter().find(|d| going.contains(*d)) else {
                continue;
            };
            let existing = changes
                .iter_mut()
                .find(|c| c.address == resource.address && c.action != Action::Delete);
            let reason = Some(format!(
                "{cause} is replaced and this resource references it"
            ));
            match existing {
                Some(change) if change.replace_order == Some(ReplaceOrder::DestroyBeforeCreate) => {
                    continue;
                }
                Some(change) => {
                    change.action = Action::Replace;
                    change.replace_order = Some(ReplaceOrder::DestroyBeforeCreate);
                    change.reason = reason;
                }
                None => changes.push(ResourceChange {
                    address: resource.address.clone(),
                    kind: resource.kind,
                    action: Action::Replace,
                    cause: Cause::Spec,
                    fields: Vec::new(),
                    desired: Some(resource.clone()),
                    live: Some(current.clone()),
                    replace_order: Some(ReplaceOrder::DestroyBeforeCreate),
                    reason,
                }),
            }
            added = true;
        }
        if !added {
            break;
        }
    }
}

/// Drift when the live resource still carries the digest of exactly what the spec asks for
/// now (so the spec did not change, the cloud did); spec otherwise.
fn cause_of_difference(desired: &DesiredResource, live: &LiveResource) -> Cause {
    match live.applied_digest() {
        Some(digest) if digest == applied_digest(&desired.fields) => Cause::Drift,
        _ => Cause::Spec,
    }
}
