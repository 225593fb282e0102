//! The plan: what would change, described and nothing more.
//!
//! Owns [`Plan`], [`ResourceChange`] with its [`Change`], [`Action`], [`Cause`] and the pure
//! planning function [`make_plan`]. Invariants: plan types only describe (the apply graph is built
//! from them elsewhere); each change carries exactly the data its action needs (a create has no
//! live copy, a delete no desired one), so nothing reading a plan meets missing data; no-op
//! resources are not in `changes`; a plan serialises to JSON and back unchanged, and carries the
//! fingerprint of the live state it was made from so that a saved plan can be refused when the
//! cloud moved on; a plan holds no secret (the spec has none). Every reason the plan cannot be
//! carried out is computed here, as a [`Blocker`], so that a command refuses before its first
//! change rather than half-way; a resource that holds data is never replaced unless asked for by
//! name, and replacements re-point what the cloud can move in place instead of cascading.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use envctl_spec::{Address, DesiredResource, DesiredState, ResourceKind, Value};
use serde::{Deserialize, Serialize};

use crate::live::{LiveResource, LiveState, applied_digest};
use crate::provider::{DELETION_PROTECTION_FIELD, FieldChange, Note, Provider, ReplaceOrder};

/// The version of the saved-plan and JSON plan format.
pub const PLAN_FORMAT_VERSION: u32 = 3;

/// What happens to one address, as a verb: a [`Change`] without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Replaced: a new copy is created and the old one deleted, in this order. A replacement
    /// always has an order, so the apply graph never guesses one.
    Replace(ReplaceOrder),
    Delete,
}

impl Action {
    /// The symbol shown before the address in a rendered plan.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace(_) => "-/+",
            Action::Delete => "-",
        }
    }

    /// The verb shown in progress and summaries.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace(_) => "replace",
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
    /// The resource is tagged for this environment but the spec no longer has it.
    Orphan,
    /// A second live copy of an address (left by an interrupted run or a lost answer) that
    /// nothing uses.
    Duplicate,
    /// A member of a counted set beyond the count the spec now asks for.
    #[serde(rename = "scale-down")]
    ScaleDown,
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
            Cause::Duplicate => "duplicate",
            Cause::ScaleDown => "scale-down",
            Cause::Destroy => "destroy",
            Cause::Unmanaged => "unmanaged",
            Cause::Redeploy => "redeploy",
        })
    }
}

/// The planned change of one address.
///
/// Saved plans write it flat, as format [`PLAN_FORMAT_VERSION`] always has: `address`,
/// `kind`, `action`, `cause`, `fields`, then `desired` and `live` where the action has them,
/// and `reason`. Reading one refuses a change whose data does not fit its action (a create
/// with a live copy, a delete without one).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "SavedChange")]
pub struct ResourceChange {
    pub address: Address,
    pub kind: ResourceKind,
    pub cause: Cause,
    /// Why this change happens when the fields alone do not say it (for display only).
    pub reason: Option<String>,
    /// What happens, with exactly the data carrying it out needs.
    pub change: Change,
}

/// What happens to one address, with what carrying it out needs and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Made from the spec: the cloud has no copy yet.
    Create { desired: DesiredResource },
    /// Changed in place: `fields` are the live -> desired values the update sets.
    Update {
        desired: DesiredResource,
        live: LiveResource,
        fields: Vec<FieldChange>,
    },
    /// A new copy made from `desired` and `live` deleted, in `order`: a replacement always
    /// has an order, so the apply graph never guesses one. `fields` are the differences (some
    /// force the replacement; none when it is rebuilt as asked).
    Replace {
        order: ReplaceOrder,
        desired: DesiredResource,
        live: LiveResource,
        fields: Vec<FieldChange>,
    },
    /// `live` is deleted.
    Delete { live: LiveResource },
}

impl ResourceChange {
    /// The verb of the change.
    pub fn action(&self) -> Action {
        match &self.change {
            Change::Create { .. } => Action::Create,
            Change::Update { .. } => Action::Update,
            Change::Replace { order, .. } => Action::Replace(*order),
            Change::Delete { .. } => Action::Delete,
        }
    }

    /// What the resource should become; `None` for a delete.
    pub fn desired(&self) -> Option<&DesiredResource> {
        match &self.change {
            Change::Create { desired }
            | Change::Update { desired, .. }
            | Change::Replace { desired, .. } => Some(desired),
            Change::Delete { .. } => None,
        }
    }

    /// What the cloud has now; `None` for a create.
    pub fn live(&self) -> Option<&LiveResource> {
        match &self.change {
            Change::Update { live, .. }
            | Change::Replace { live, .. }
            | Change::Delete { live } => Some(live),
            Change::Create { .. } => None,
        }
    }

    /// Per-field live -> desired values; empty for creates and deletes.
    pub fn fields(&self) -> &[FieldChange] {
        match &self.change {
            Change::Update { fields, .. } | Change::Replace { fields, .. } => fields,
            Change::Create { .. } | Change::Delete { .. } => &[],
        }
    }
}

impl Serialize for ResourceChange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let desired = self.desired();
        let live = self.live();
        let reason = self.reason.as_deref();
        let len = 5
            + usize::from(desired.is_some())
            + usize::from(live.is_some())
            + usize::from(reason.is_some());
        let mut saved = serializer.serialize_struct("ResourceChange", len)?;
        saved.serialize_field("address", &self.address)?;
        saved.serialize_field("kind", &self.kind)?;
        saved.serialize_field("action", &self.action())?;
        saved.serialize_field("cause", &self.cause)?;
        saved.serialize_field("fields", self.fields())?;
        match desired {
            Some(desired) => saved.serialize_field("desired", desired)?,
            None => saved.skip_field("desired")?,
        }
        match live {
            Some(live) => saved.serialize_field("live", live)?,
            None => saved.skip_field("live")?,
        }
        match reason {
            Some(reason) => saved.serialize_field("reason", reason)?,
            None => saved.skip_field("reason")?,
        }
        saved.end()
    }
}

/// A [`ResourceChange`] as a saved plan holds it, before its data is checked against its
/// action.
#[derive(Deserialize)]
struct SavedChange {
    address: Address,
    kind: ResourceKind,
    action: Action,
    cause: Cause,
    fields: Vec<FieldChange>,
    #[serde(default)]
    desired: Option<DesiredResource>,
    #[serde(default)]
    live: Option<LiveResource>,
    #[serde(default)]
    reason: Option<String>,
}

impl TryFrom<SavedChange> for ResourceChange {
    type Error = String;

    fn try_from(saved: SavedChange) -> Result<Self, String> {
        let SavedChange {
            address,
            kind,
            action,
            cause,
            fields,
            desired,
            live,
            reason,
        } = saved;
        let change = match (action, desired, live) {
            (Action::Create, Some(desired), None) if fields.is_empty() => {
                Change::Create { desired }
            }
            (Action::Update, Some(desired), Some(live)) => Change::Update {
                desired,
                live,
                fields,
            },
            (Action::Replace(order), Some(desired), Some(live)) => Change::Replace {
                order,
                desired,
                live,
                fields,
            },
            (Action::Delete, None, Some(live)) if fields.is_empty() => Change::Delete { live },
            _ => {
                let rule = match action {
                    Action::Create => "a create carries `desired`, and neither `live` nor `fields`",
                    Action::Update => "an update carries both `desired` and `live`",
                    Action::Replace(_) => "a replacement carries both `desired` and `live`",
                    Action::Delete => "a delete carries `live`, and neither `desired` nor `fields`",
                };
                return Err(format!("{address}: {rule}"));
            }
        };
        Ok(ResourceChange {
            address,
            kind,
            cause,
            reason,
            change,
        })
    }
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
    /// The account the plan was made in (from the read), when the cloud names it: a saved plan
    /// is carried out only in that account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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
    /// [`desired_digest`] of the desired state the plan was made from: a saved plan is applied
    /// only while the spec still expands to exactly that.
    pub desired_digest: String,
    /// The addresses the plan was asked to replace (`--replace`), so that it can be made again
    /// the same way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub force_replace: Vec<Address>,
    /// The addresses the plan was restricted to (`--target`), so that it can be made again
    /// the same way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Address>,
    /// Cloud ids of every live resource the plan was made from (references of creates resolve
    /// against these).
    pub live_ids: BTreeMap<Address, String>,
    pub changes: Vec<ResourceChange>,
    /// Differences deliberately left alone (for display only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// What `reconcile` would remove and this plan leaves: untagged resources inside the
    /// environment's network, as deletes of cause `unmanaged` (for display only; listed when
    /// [`PlanOptions::list_unmanaged`] asked for them; never carried out by an apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged: Vec<ResourceChange>,
    /// Every reason the plan cannot be carried out; a plan with any is refused whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<Blocker>,
}

/// Which matching resources `redeploy` rebuilds instead of leaving or patching them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplacePolicy {
    /// Patch what differs in place where the cloud allows it (plan, apply, reconcile).
    #[default]
    InPlace,
    /// Replace every resource changed outside envctl instead of patching it.
    Drifted,
    /// Replace every existing resource that holds no data and is not deletion-protected.
    All,
}

/// What a plan covers beyond bringing owned resources to the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Also delete untagged resources found inside the environment's network (`reconcile`;
    /// needs a deep read).
    pub remove_unmanaged: bool,
    /// Read the environment's network deeply and list, without deleting them, the untagged
    /// resources `reconcile` would remove ([`Plan::unmanaged`]; what `envctl plan` shows).
    pub list_unmanaged: bool,
    pub replace: ReplacePolicy,
    /// Addresses the user asked to replace by name (`--replace ADDR`): the only way a resource
    /// that holds data is ever replaced.
    pub force_replace: BTreeSet<Address>,
    /// Plan only these addresses and what they depend on (`--target ADDR`, as Terraform's
    /// `-target`); an address without an index (`instance.app`) names every member of the
    /// group. Empty: everything.
    pub targets: BTreeSet<Address>,
}

/// Whether `address` is one of `targets` or a member of a targeted group.
fn targeted(targets: &BTreeSet<Address>, address: &Address) -> bool {
    targets.iter().any(|t| {
        t == address || (t.index.is_none() && t.kind == address.kind && t.name == address.name)
    })
}

/// The addresses a targeted plan may change: the targets (groups expanded over `desired`)
/// and, transitively, every desired resource they depend on.
pub fn targeted_closure(desired: &DesiredState, targets: &BTreeSet<Address>) -> BTreeSet<Address> {
    let mut closure: BTreeSet<Address> = desired
        .resources
        .iter()
        .filter(|r| targeted(targets, &r.address))
        .map(|r| r.address.clone())
        .collect();
    let mut pending: Vec<Address> = closure.iter().cloned().collect();
    while let Some(address) = pending.pop() {
        let Some(resource) = desired.resources.iter().find(|r| r.address == address) else {
            continue;
        };
        for dependency in &resource.depends_on {
            if closure.insert(dependency.clone()) {
                pending.push(dependency.clone());
            }
        }
    }
    closure
}

/// Keeps the changes a targeted plan may make: those of `closure`, and deletes of what is
/// named by a target (a member beyond a group's count); the rest is left for a later plan,
/// said so in a note.
fn restrict_to_targets(
    changes: Vec<ResourceChange>,
    notes: &mut Vec<Note>,
    targets: &BTreeSet<Address>,
    closure: &BTreeSet<Address>,
) -> Vec<ResourceChange> {
    let total = changes.len();
    let kept: Vec<ResourceChange> = changes
        .into_iter()
        .filter(|c| closure.contains(&c.address) || targeted(targets, &c.address))
        .collect();
    if let Some(first) = targets.iter().next()
        && kept.len() < total
    {
        let left = total - kept.len();
        notes.push(Note {
            address: first.clone(),
            message: format!(
                "--target: {left} change{} outside the targets and their dependencies {} left for a later plan",
                if left == 1 { "" } else { "s" },
                if left == 1 { "is" } else { "are" }
            ),
            hint: Some("a plan without `--target` shows everything the spec still asks for".into()),
        });
    }
    kept
}

/// Why a plan cannot be carried out as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockerKind {
    /// A delete or replace of a resource whose deletion protection is on.
    DeletionProtection,
    /// A resource that holds data would be replaced without being asked for by name.
    ReplacesData,
    /// A create would collide with a name held by a resource envctl does not own.
    NameTaken,
    /// The promotion source has not converged on this spec.
    PromotionGate,
    /// The promotion source has not passed a verification of this spec since its last change.
    Unverified,
    /// A declared difference the plan relies on has expired.
    ExpiredDifference,
    /// The changes cannot be ordered (a dependency cycle).
    Unorderable,
    /// A resource claims an address the plan would create or replace, but its ownership is
    /// not proven (tags without placement, swapped address tags).
    Conflict,
}

impl fmt::Display for BlockerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlockerKind::DeletionProtection => "deletion protection",
            BlockerKind::ReplacesData => "would replace data",
            BlockerKind::NameTaken => "name taken",
            BlockerKind::PromotionGate => "promotion gate",
            BlockerKind::Unverified => "unverified upstream",
            BlockerKind::ExpiredDifference => "expired difference",
            BlockerKind::Unorderable => "unorderable",
            BlockerKind::Conflict => "conflict",
        })
    }
}

/// One reason the plan cannot be carried out; every mutating command refuses a plan that has
/// any, before its first change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// The resource the reason is about; `None` for reasons about the whole environment
    /// (the promotion gate).
    pub address: Option<Address>,
    pub kind: BlockerKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Plan {
    /// Counts of changes by action.
    pub fn summary(&self) -> PlanSummary {
        let mut summary = PlanSummary::default();
        for change in &self.changes {
            match change.action() {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace(_) => summary.replace += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        summary
    }

    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// True when nothing stands in the way of applying the plan.
    pub fn is_unblocked(&self) -> bool {
        self.blockers.is_empty()
    }
}

/// Diffs `desired` against `live` into a plan, with every reason it cannot be carried out
/// listed as a blocker. Pure: reads nothing, changes nothing.
pub fn make_plan<P: Provider + ?Sized>(
    desired: &DesiredState,
    live: &LiveState,
    provider: &P,
    options: &PlanOptions,
) -> Plan {
    // Rebuilds that `redeploy` asked for by policy are dropped (and said so) when they would
    // drag a resource that holds data along; the plan is then made again without them.
    let mut kept: BTreeMap<Address, String> = BTreeMap::new();
    loop {
        let drafted = draft(desired, live, provider, options, &kept);
        let newly_kept: Vec<(Address, String)> = drafted
            .data_loss
            .iter()
            .filter(|(_, root)| drafted.policy_rebuilds.contains(root) && !kept.contains_key(root))
            .map(|(data, root)| {
                (
                    root.clone(),
                    format!("rebuilding it would replace {data}, which holds data"),
                )
            })
            .collect();
        if newly_kept.is_empty() {
            let Draft {
                changes,
                mut notes,
                mut blockers,
                ..
            } = drafted;
            let changes = if options.targets.is_empty() {
                changes
            } else {
                let closure = targeted_closure(desired, &options.targets);
                blockers.retain(|b| {
                    b.address
                        .as_ref()
                        .is_none_or(|a| closure.contains(a) || targeted(&options.targets, a))
                });
                restrict_to_targets(changes, &mut notes, &options.targets, &closure)
            };
            blockers.extend(deletion_protection_blockers(&changes));
            blockers.extend(name_blockers(&changes, live));
            blockers.extend(conflict_blockers(&changes, live));
            blockers.extend(swapped_blockers(&changes, provider));
            notes.extend(final_snapshot_notes(&changes));
            notes.extend(conflict_notes(live));
            let mut changes = changes;
            keep_orphan_networks_with_foreign_content(&mut changes, live, &mut notes);
            let mut plan = plan_of(desired, live, changes, notes, blockers);
            plan.force_replace = options.force_replace.iter().cloned().collect();
            plan.targets = options.targets.iter().cloned().collect();
            if options.list_unmanaged && !options.remove_unmanaged {
                plan.unmanaged = live
                    .unmanaged
                    .iter()
                    .map(|stray| delete_change(stray, Cause::Unmanaged))
                    .collect();
            }
            return plan;
        }
        kept.extend(newly_kept);
    }
}

/// A plan in the making.
struct Draft {
    changes: Vec<ResourceChange>,
    notes: Vec<Note>,
    blockers: Vec<Blocker>,
    /// Addresses rebuilt only because the replace policy asked for it.
    policy_rebuilds: BTreeSet<Address>,
    /// Data-bearing resources that would be replaced without being asked for, each with the
    /// address whose replacement dragged it along (itself when its own fields force it).
    data_loss: Vec<(Address, Address)>,
}

fn draft<P: Provider + ?Sized>(
    desired: &DesiredState,
    live: &LiveState,
    provider: &P,
    options: &PlanOptions,
    kept: &BTreeMap<Address, String>,
) -> Draft {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let mut policy_rebuilds = BTreeSet::new();
    let desired_addresses: BTreeSet<&Address> =
        desired.resources.iter().map(|r| &r.address).collect();

    for resource in &desired.resources {
        let mut candidates: Vec<&LiveResource> = live.at(&resource.address).collect();
        if candidates.is_empty() {
            changes.push(ResourceChange {
                address: resource.address.clone(),
                kind: resource.kind,
                cause: Cause::Spec,
                reason: None,
                change: Change::Create {
                    desired: resource.clone(),
                },
            });
            continue;
        }
        // Keep the copy in use (then the one closest to the spec); another copy is removed
        // only when nothing uses it.
        candidates.sort_by_key(|l| {
            (
                !live.referenced.contains(&l.id),
                provider.diff(resource, l).changes.len(),
                l.id.clone(),
            )
        });
        let Some((&current, duplicates)) = candidates.split_first() else {
            continue;
        };
        for duplicate in duplicates {
            if live.referenced.contains(&duplicate.id) {
                notes.push(Note {
                    address: resource.address.clone(),
                    message: format!(
                        "duplicate: two copies claim this address, {} (kept) and {}, and both are in use; neither is removed",
                        current.id, duplicate.id
                    ),
                    hint: Some(format!(
                        "move what uses {} to {}, then `envctl reconcile` removes the unused copy",
                        duplicate.id, current.id
                    )),
                });
                continue;
            }
            let mut change = delete_change(duplicate, Cause::Duplicate);
            change.reason = Some(format!(
                "a second copy of {} ({} is kept); nothing uses this one",
                resource.address, current.id
            ));
            changes.push(change);
        }
        let diff = provider.diff(resource, current);
        notes.extend(diff.notes);
        let fields = diff.changes;
        let cause = cause_of_difference(resource, current);
        let forced = options.force_replace.contains(&resource.address);
        let wanted_by_policy = match options.replace {
            ReplacePolicy::InPlace => false,
            ReplacePolicy::Drifted => !fields.is_empty() && cause == Cause::Drift,
            ReplacePolicy::All => true,
        };
        let mut rebuild = forced;
        if wanted_by_policy && !forced {
            if let Some(why) = policy_exemption(resource, current, kept) {
                notes.push(Note {
                    address: resource.address.clone(),
                    message: format!("not rebuilt: {why}"),
                    hint: resource.kind.holds_data().then(|| {
                        format!(
                            "replace it explicitly with `--replace {}`",
                            resource.address
                        )
                    }),
                });
            } else {
                rebuild = true;
                policy_rebuilds.insert(resource.address.clone());
            }
        }
        if fields.is_empty() && !rebuild {
            continue;
        }
        let reason = if forced {
            Some("replaced as asked with `--replace`".to_string())
        } else if rebuild {
            Some("redeploy rebuilds it from the spec".to_string())
        } else {
            None
        };
        let cause = if fields.is_empty() {
            Cause::Redeploy
        } else {
            cause
        };
        let (desired, live) = (resource.clone(), current.clone());
        let change = if rebuild || fields.iter().any(|f| f.forces_replacement) {
            Change::Replace {
                order: provider.replace_order(resource, current),
                desired,
                live,
                fields,
            }
        } else {
            Change::Update {
                desired,
                live,
                fields,
            }
        };
        changes.push(ResourceChange {
            address: resource.address.clone(),
            kind: resource.kind,
            cause,
            reason,
            change,
        });
    }
    let roots = cascade_replacements(&mut changes, desired, live, provider);

    let mut orphans: Vec<&LiveResource> = live
        .resources
        .iter()
        .filter(|l| !desired_addresses.contains(&l.address))
        .collect();
    orphans.sort_by(|a, b| (&a.address, &a.id).cmp(&(&b.address, &b.id)));
    let counted: BTreeSet<(ResourceKind, &str)> = desired
        .resources
        .iter()
        .filter(|r| r.address.index.is_some())
        .map(|r| (r.kind, r.address.name.as_str()))
        .collect();
    for orphan in orphans {
        let scale_down = orphan.address.index.is_some()
            && counted.contains(&(orphan.kind, orphan.address.name.as_str()));
        let cause = if scale_down {
            Cause::ScaleDown
        } else {
            Cause::Orphan
        };
        changes.push(delete_change(orphan, cause));
    }
    if options.remove_unmanaged {
        for stray in &live.unmanaged {
            changes.push(delete_change(stray, Cause::Unmanaged));
        }
    }

    // A resource that holds data is replaced only when asked for by name.
    let mut blockers = Vec::new();
    let mut data_loss = Vec::new();
    for change in &changes {
        let Change::Replace { fields, .. } = &change.change else {
            continue;
        };
        if !change.kind.holds_data() || options.force_replace.contains(&change.address) {
            continue;
        }
        let root = roots
            .get(&change.address)
            .cloned()
            .unwrap_or_else(|| change.address.clone());
        let why = if root == change.address {
            let fields: Vec<&str> = fields
                .iter()
                .filter(|f| f.forces_replacement)
                .map(|f| f.field.as_str())
                .collect();
            format!(
                "changing {} needs a new {}, and it holds data",
                fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                change.address
            )
        } else {
            format!(
                "replacing {root} would replace {} too, and it holds data",
                change.address
            )
        };
        blockers.push(Blocker {
            address: Some(change.address.clone()),
            kind: BlockerKind::ReplacesData,
            message: why,
            hint: Some(if root == change.address {
                format!(
                    "revert the change in the spec, or replace it deliberately (a final snapshot is kept) with `--replace {}`",
                    change.address
                )
            } else {
                format!(
                    "revert the change to {root} in the spec, or replace {} deliberately with `--replace {}`",
                    change.address, change.address
                )
            }),
        });
        data_loss.push((change.address.clone(), root));
    }
    Draft {
        changes,
        notes,
        blockers,
        policy_rebuilds,
        data_loss,
    }
}

/// Why the replace policy must leave `resource` alone, if it must.
fn policy_exemption(
    resource: &DesiredResource,
    live: &LiveResource,
    kept: &BTreeMap<Address, String>,
) -> Option<String> {
    if resource.kind.holds_data() {
        return Some("it holds data".to_string());
    }
    if is_deletion_protected(live) {
        return Some("its deletion protection is on".to_string());
    }
    kept.get(&resource.address).cloned()
}

/// Whether the cloud refuses to delete `live` as it stands.
pub fn is_deletion_protected(live: &LiveResource) -> bool {
    live.fields.get(DELETION_PROTECTION_FIELD) == Some(&Value::Bool(true))
}

/// Deletes and replacements of resources whose deletion protection is on.
fn deletion_protection_blockers(changes: &[ResourceChange]) -> Vec<Blocker> {
    changes
        .iter()
        .filter_map(|c| {
            let (live, done, hint) = match &c.change {
                Change::Delete { live } => (
                    live,
                    "deleted",
                    "it is no longer in the spec: switch its deletion protection off by hand, or remove it with `envctl destroy`",
                ),
                Change::Replace { live, .. } => (
                    live,
                    "replaced",
                    "set `deletion_protection = false` in the spec and apply that alone first",
                ),
                Change::Create { .. } | Change::Update { .. } => return None,
            };
            is_deletion_protected(live).then(|| Blocker {
                address: Some(c.address.clone()),
                kind: BlockerKind::DeletionProtection,
                message: format!(
                    "{} would be {done}, but its deletion protection is on",
                    c.address
                ),
                hint: Some(hint.to_string()),
            })
        })
        .collect()
}

/// Every conflict, as a warning: envctl leaves those resources alone.
fn conflict_notes(live: &LiveState) -> Vec<Note> {
    live.conflicts
        .iter()
        .map(|c| Note {
            address: c.resource.address.clone(),
            message: format!(
                "conflict: `{}` claims this address, but {}; envctl neither changes nor deletes it",
                c.resource.id, c.reason
            ),
            hint: Some(
                "correct its envctl tags if it is this environment's, or remove them if it is not"
                    .to_string(),
            ),
        })
        .collect()
}

/// A create at an address a conflicting resource claims would duplicate it.
fn conflict_blockers(changes: &[ResourceChange], live: &LiveState) -> Vec<Blocker> {
    changes
        .iter()
        .filter(|c| matches!(c.change, Change::Create { .. }))
        .filter_map(|c| {
            let claimed = live.conflicts.iter().find(|x| x.resource.address == c.address)?;
            Some(Blocker {
                address: Some(c.address.clone()),
                kind: BlockerKind::Conflict,
                message: format!(
                    "{} would be created, but `{}` already claims it ({})",
                    c.address, claimed.resource.id, claimed.reason
                ),
                hint: Some(
                    "correct that resource's envctl tags (or remove them) so that it is either this environment's or not"
                        .to_string(),
                ),
            })
        })
        .collect()
}

/// Two replacements of one kind where each live copy is exactly what the other address asks
/// for: their address tags were swapped, and replacing both would destroy two healthy
/// resources.
fn swapped_blockers<P: Provider + ?Sized>(
    changes: &[ResourceChange],
    provider: &P,
) -> Vec<Blocker> {
    let matches = |want: &DesiredResource, have: &LiveResource| {
        provider
            .diff(want, have)
            .changes
            .iter()
            .all(|f| f.field == crate::diff::TAGS_FIELD)
    };
    let replaced: Vec<(&DesiredResource, &LiveResource)> = changes
        .iter()
        .filter_map(|c| match &c.change {
            Change::Replace { desired, live, .. } => Some((desired, live)),
            Change::Create { .. } | Change::Update { .. } | Change::Delete { .. } => None,
        })
        .collect();
    let mut blockers = Vec::new();
    for (i, (want_a, have_a)) in replaced.iter().enumerate() {
        for (want_b, have_b) in replaced.iter().skip(i + 1) {
            if want_a.kind == want_b.kind && matches(want_b, have_a) && matches(want_a, have_b) {
                blockers.push(Blocker {
                    address: Some(want_a.address.clone()),
                    kind: BlockerKind::Conflict,
                    message: format!(
                        "the address tags of {} (`{}`) and {} (`{}`) look swapped: each is exactly what the other address asks for",
                        want_a.address, have_a.id, want_b.address, have_b.id
                    ),
                    hint: Some(format!(
                        "swap their `envctl:address` tags back (`{}` is {}, `{}` is {})",
                        have_a.id, want_b.address, have_b.id, want_a.address
                    )),
                });
            }
        }
    }
    blockers
}

/// An orphan VPC (tagged for the environment, not in the spec) that holds resources envctl
/// does not own is someone's network: it is reported as a conflict instead of deleted.
fn keep_orphan_networks_with_foreign_content(
    changes: &mut Vec<ResourceChange>,
    live: &LiveState,
    notes: &mut Vec<Note>,
) {
    changes.retain(|c| {
        let Change::Delete { live: network } = &c.change else {
            return true;
        };
        if c.kind != ResourceKind::Vpc || c.cause != Cause::Orphan {
            return true;
        }
        let address = Value::Ref(c.address.clone());
        let foreign = live
            .unmanaged
            .iter()
            .filter(|u| u.fields.get("vpc") == Some(&address))
            .count();
        if foreign == 0 {
            return true;
        }
        notes.push(Note {
            address: c.address.clone(),
            message: format!(
                "conflict: `{}` is tagged for this environment but holds {foreign} resource{} envctl does not own; it is not deleted",
                network.id,
                if foreign == 1 { "" } else { "s" }
            ),
            hint: Some("remove its envctl tags if it is not this environment's".to_string()),
        });
        false
    });
}

/// Says, for each resource that holds data and goes away, that a final snapshot is kept.
fn final_snapshot_notes(changes: &[ResourceChange]) -> Vec<Note> {
    changes
        .iter()
        .filter(|c| c.kind.holds_data())
        .filter_map(|c| {
            let live = match &c.change {
                Change::Delete { live } | Change::Replace { live, .. } => live,
                Change::Create { .. } | Change::Update { .. } => return None,
            };
            Some(Note {
                address: c.address.clone(),
                message: format!(
                    "it holds data: a final snapshot `{}-final-<unix time>` is taken before it is deleted",
                    live.id
                ),
                hint: None,
            })
        })
        .collect()
}

/// Creates whose cloud name is held by a resource envctl does not own.
fn name_blockers(changes: &[ResourceChange], live: &LiveState) -> Vec<Blocker> {
    changes
        .iter()
        .filter_map(|c| {
            let Change::Create { desired } = &c.change else {
                return None;
            };
            let holder = live
                .foreign_names
                .iter()
                .find(|f| f.kind == c.kind && f.name == desired.cloud_name)?;
            Some(Blocker {
                address: Some(c.address.clone()),
                kind: BlockerKind::NameTaken,
                message: format!(
                    "the name `{}` is taken by {} `{}`, which envctl does not own{}",
                    desired.cloud_name,
                    c.kind,
                    holder.id,
                    holder
                        .owner
                        .as_ref()
                        .map(|o| format!(" (tagged for {o})"))
                        .unwrap_or_default()
                ),
                hint: Some(
                    "rename or remove that resource, or adopt it by giving it this address's envctl tags"
                        .to_string(),
                ),
            })
        })
        .collect()
}

/// A digest of everything `desired` asks for (every resource with its fields, tags and
/// references, and the environment's settings).
pub fn desired_digest(desired: &DesiredState) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(desired).unwrap_or_default();
    format!("sha256:{:x}", Sha256::digest(text.as_bytes()))
}

/// A plan that deletes everything `live` holds (for `destroy`, which lifts deletion
/// protection after confirmation, so protection is no blocker here; conflicts are).
pub fn make_destroy_plan(desired: &DesiredState, live: &LiveState) -> Plan {
    let changes: Vec<ResourceChange> = live
        .resources
        .iter()
        .map(|r| delete_change(r, Cause::Destroy))
        .collect();
    let mut notes = final_snapshot_notes(&changes);
    notes.extend(conflict_notes(live));
    // What claims the environment without proof stays, and what it sits in could not be
    // deleted around it (AWS refuses a subnet or VPC still in use): settle it first.
    let blockers = live
        .conflicts
        .iter()
        .map(|c| Blocker {
            address: Some(c.resource.address.clone()),
            kind: BlockerKind::Conflict,
            message: format!(
                "`{}` claims {} but {}; envctl will not delete it, and what it sits in cannot go while it is there",
                c.resource.id, c.resource.address, c.reason
            ),
            hint: Some(
                "correct its envctl tags if it is this environment's (destroy then removes it), or remove it yourself"
                    .to_string(),
            ),
        })
        .collect();
    plan_of(desired, live, changes, notes, blockers)
}

/// A plan of `changes` for `desired`, made from `live`.
fn plan_of(
    desired: &DesiredState,
    live: &LiveState,
    changes: Vec<ResourceChange>,
    notes: Vec<Note>,
    blockers: Vec<Blocker>,
) -> Plan {
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        project: desired.project.clone(),
        environment: desired.environment.clone(),
        region: desired.region.clone(),
        account: live.account.clone(),
        parity_digest: desired.parity_digest.clone(),
        protected: desired.protected,
        promote_from: desired.promote_from.clone(),
        lock_bucket: desired.lock_bucket.clone(),
        live_fingerprint: live.fingerprint(),
        desired_digest: desired_digest(desired),
        force_replace: Vec::new(),
        targets: Vec::new(),
        live_ids: live
            .resources
            .iter()
            .map(|r| (r.address.clone(), r.id.clone()))
            .collect(),
        changes,
        notes,
        unmanaged: Vec::new(),
        blockers,
    }
}

fn delete_change(live: &LiveResource, cause: Cause) -> ResourceChange {
    ResourceChange {
        address: live.address.clone(),
        kind: live.kind,
        cause,
        reason: None,
        change: Change::Delete { live: live.clone() },
    }
}

/// Carries replacements to the resources that reference what is replaced, replacing as little
/// as possible: a dependent whose reference the cloud can move in place (an instance's or a
/// cluster's security groups, a rule naming a group) is re-pointed to the new copy by an
/// update; one that cannot follow is replaced too, old copy first when what it references
/// must go first. Returns, for every replacement it added, the replacement that caused it.
fn cascade_replacements<P: Provider + ?Sized>(
    changes: &mut Vec<ResourceChange>,
    desired: &DesiredState,
    live: &LiveState,
    provider: &P,
) -> BTreeMap<Address, Address> {
    let mut roots: BTreeMap<Address, Address> = BTreeMap::new();
    let mut repointed: BTreeSet<(Address, Address)> = BTreeSet::new();
    loop {
        let replaced: BTreeMap<Address, (ReplaceOrder, String)> = changes
            .iter()
            .filter_map(|c| match &c.change {
                Change::Replace { order, live, .. } => {
                    Some((c.address.clone(), (*order, live.id.clone())))
                }
                Change::Create { .. } | Change::Update { .. } | Change::Delete { .. } => None,
            })
            .collect();
        let mut added = false;
        for resource in &desired.resources {
            let Some(index) = changes.iter().position(|c| {
                c.address == resource.address && !matches!(c.change, Change::Delete { .. })
            }) else {
                // Unchanged so far: it may still have to follow a replacement.
                let Some(current) = live.at(&resource.address).next() else {
                    continue;
                };
                if let Some(change) = follow(
                    resource,
                    current,
                    &replaced,
                    provider,
                    &mut repointed,
                    &mut roots,
                ) {
                    changes.push(change);
                    added = true;
                }
                continue;
            };
            let current = match &mut changes[index].change {
                Change::Update { live, .. } => live.clone(),
                Change::Replace { order, live, .. } => {
                    // A create-before-destroy copy cannot come up before something it
                    // references that must go first.
                    let must_wait = *order == ReplaceOrder::CreateBeforeDestroy
                        && live.depends_on.iter().any(|d| {
                            replaced.get(d).map(|(o, _)| *o)
                                == Some(ReplaceOrder::DestroyBeforeCreate)
                        });
                    if must_wait {
                        *order = ReplaceOrder::DestroyBeforeCreate;
                        added = true;
                    }
                    continue;
                }
                // Created: nothing to follow (and deletes were not picked).
                Change::Create { .. } | Change::Delete { .. } => continue,
            };
            let Some(followed) = follow(
                resource,
                &current,
                &replaced,
                provider,
                &mut repointed,
                &mut roots,
            ) else {
                continue;
            };
            let existing = &mut changes[index];
            existing.reason = followed.reason;
            existing.change = match (followed.change, &existing.change) {
                // Replaced too: what the update had, swapped for a new copy.
                (
                    Change::Replace { order, .. },
                    Change::Update {
                        desired,
                        live,
                        fields,
                    },
                ) => Change::Replace {
                    order,
                    desired: desired.clone(),
                    live: live.clone(),
                    fields: fields.clone(),
                },
                // Re-pointed: the update that moves it.
                (followed, _) => followed,
            };
            added = true;
        }
        if !added {
            break;
        }
    }
    roots
}

/// How `resource` (live as `current`, not replaced itself) follows the replacements in
/// `replaced` it references: re-pointed in place, or replaced too. `None` when it references
/// none of them or was already re-pointed to all of them.
fn follow<P: Provider + ?Sized>(
    resource: &DesiredResource,
    current: &LiveResource,
    replaced: &BTreeMap<Address, (ReplaceOrder, String)>,
    provider: &P,
    repointed: &mut BTreeSet<(Address, Address)>,
    roots: &mut BTreeMap<Address, Address>,
) -> Option<ResourceChange> {
    let targets: Vec<&Address> = current
        .depends_on
        .iter()
        .filter(|d| replaced.contains_key(*d))
        .filter(|d| !repointed.contains(&(resource.address.clone(), (*d).clone())))
        .collect();
    if targets.is_empty() {
        return None;
    }
    let mut moved = current.clone();
    let mut replace_because: Option<(&Address, ReplaceOrder)> = None;
    for target in &targets {
        let (order, old_id) = &replaced[*target];
        let repoint = match order {
            ReplaceOrder::CreateBeforeDestroy => provider.repoint(&moved, target, old_id),
            ReplaceOrder::DestroyBeforeCreate => None,
        };
        match repoint {
            Some(next) => moved = next,
            None => {
                let order = match order {
                    ReplaceOrder::DestroyBeforeCreate => ReplaceOrder::DestroyBeforeCreate,
                    ReplaceOrder::CreateBeforeDestroy => provider.replace_order(resource, current),
                };
                replace_because = Some((target, order));
                break;
            }
        }
    }
    let root_of = |address: &Address, roots: &BTreeMap<Address, Address>| {
        roots
            .get(address)
            .cloned()
            .unwrap_or_else(|| address.clone())
    };
    if let Some((target, order)) = replace_because {
        let root = root_of(target, roots);
        roots.insert(resource.address.clone(), root);
        return Some(ResourceChange {
            address: resource.address.clone(),
            kind: resource.kind,
            cause: Cause::Spec,
            reason: Some(format!(
                "{target} is replaced and this resource cannot be moved to the new one in place"
            )),
            change: Change::Replace {
                order,
                desired: resource.clone(),
                live: current.clone(),
                fields: provider.diff(resource, current).changes,
            },
        });
    }
    for target in &targets {
        repointed.insert((resource.address.clone(), (*target).clone()));
    }
    Some(ResourceChange {
        address: resource.address.clone(),
        kind: resource.kind,
        // Moving to a replacement is the spec's doing, whatever else differs.
        cause: Cause::Spec,
        reason: Some(format!(
            "moved in place to the new {}",
            targets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        change: Change::Update {
            desired: resource.clone(),
            fields: provider.diff(resource, &moved).changes,
            live: moved,
        },
    })
}

/// Drift when the live resource still carries the digest of exactly what the spec asks for
/// now (so the spec did not change, the cloud did); spec otherwise.
fn cause_of_difference(desired: &DesiredResource, live: &LiveResource) -> Cause {
    match live.applied_digest() {
        Some(digest) if digest == applied_digest(&desired.fields) => Cause::Drift,
        _ => Cause::Spec,
    }
}
