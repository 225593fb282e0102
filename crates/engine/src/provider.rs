//! The seam between the engine and a cloud: read, a pure diff, and idempotent operations.
//!
//! Owns the [`Provider`] trait, the classified [`ProviderError`], and the [`CloudIds`] map
//! that lets an operation resolve the addresses in a desired resource's reference fields.
//! Invariants an implementation keeps: `read` finds resources by ownership tags only (never by
//! name alone), with a number of calls that does not grow with the number of resources;
//! `create` tags at creation and adopts a resource that an interrupted earlier run already
//! made instead of duplicating it; `delete` of something already gone succeeds, and returns
//! only once the resource is gone (not while it reads `deleting`); long waits are reported
//! through the operation's [`Progress`].
//!
//! Also owns [`Environments`]: which provider reaches which environment, since environments
//! may live in their own accounts and regions behind their own credentials. Invariant: an
//! operation on an environment uses only the provider [`Environments::provider`] gives for it.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use envctl_spec::{Address, DesiredResource, Value};
use serde::{Deserialize, Serialize};

use crate::live::{LiveResource, LiveState};

/// Whose resources a read is after: the ownership tags `envctl:project` and
/// `envctl:environment` select them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub project: String,
    pub environment: String,
    /// Every environment of the spec: a resource of the project whose environment tag is
    /// missing or names none of these is reported as a conflict, never ignored.
    pub known_environments: Vec<String>,
    /// `Some(vpc id)`: an import's read. Everything inside that VPC is read, whoever made it
    /// and however it is tagged, each resource addressed as unmanaged
    /// ([`crate::unmanaged_address`]); kinds that do not live in a VPC are not read, and
    /// nothing is a conflict. `None`: the resources the ownership tags select.
    pub network: Option<String>,
}

impl Scope {
    /// The scope of an import of `vpc` into `environment` of `project`.
    pub fn network(project: &str, environment: &str, vpc: &str) -> Scope {
        Scope {
            project: project.to_string(),
            environment: environment.to_string(),
            known_environments: Vec::new(),
            network: Some(vpc.to_string()),
        }
    }
}

/// One field whose live value differs from the desired one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    /// `None` when the cloud does not have the field set.
    pub live: Option<Value>,
    /// `None` when the spec no longer sets the field.
    pub desired: Option<Value>,
    /// The cloud cannot change this field in place: the resource must be replaced.
    pub forces_replacement: bool,
}

/// What stands for a secret's value on both sides of a [`FieldChange`]: envctl knows that a
/// secret changed, never what it is.
pub const SECRET_VALUE: &str = "(secret)";

impl FieldChange {
    /// A change of a secret's value: both sides are [`SECRET_VALUE`].
    pub fn secret(field: &str) -> FieldChange {
        FieldChange {
            field: field.to_string(),
            live: Some(Value::Str(SECRET_VALUE.to_string())),
            desired: Some(Value::Str(SECRET_VALUE.to_string())),
            forces_replacement: false,
        }
    }

    /// Whether this is a change of a secret's value ([`FieldChange::secret`]).
    pub fn is_secret(&self) -> bool {
        let secret = Some(Value::Str(SECRET_VALUE.to_string()));
        self.live == secret && self.desired == secret
    }
}

/// A remark about one resource that is not a change: something envctl deliberately leaves
/// alone, such as a version AWS upgraded past the spec (envctl never downgrades).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub address: Address,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The result of comparing one desired resource with its live counterpart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceDiff {
    /// Fields to change; empty when the resource matches.
    pub changes: Vec<FieldChange>,
    /// Differences deliberately not changed, with why.
    pub notes: Vec<Note>,
}

/// How much of an environment a read covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadDepth {
    /// Resources carrying the environment's ownership tags.
    Owned,
    /// Those, plus untagged resources inside the environment's own network (instances,
    /// security groups, subnets someone added by hand), reported in `LiveState::unmanaged`.
    OwnedAndUnmanaged,
}

/// How a resource that must be replaced is swapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceOrder {
    /// The new one is created first, then the old one deleted (no name is unique).
    CreateBeforeDestroy,
    /// The old one must go first because its name is unique in the cloud.
    DestroyBeforeCreate,
}

/// The live field that says a resource refuses to be deleted (`deletion_protection`).
pub const DELETION_PROTECTION_FIELD: &str = "deletion_protection";

/// Where one running operation reports what it is waiting for; the executor binds one to
/// each operation and forwards it to the reporter.
pub trait Progress: Sync {
    /// The operation is waiting for the cloud: `state` is what the resource reads now
    /// (`creating`, `stopping`, `deleting`, ...), `elapsed` how long the operation has run.
    fn waiting(&self, state: &str, elapsed: Duration);
}

/// A progress sink that drops everything (for rollback of tests and one-off calls).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn waiting(&self, _: &str, _: Duration) {}
}

/// Cloud ids known so far, by address: those read live plus those created in this run.
pub type CloudIds = BTreeMap<Address, String>;

/// What a delete may do beyond deleting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Lift deletion protection first; only `destroy`, after confirmation, sets this.
    pub lift_deletion_protection: bool,
}

/// Why a provider call failed, classified so that the runtime can decide on retries and the
/// CLI on messages and exit codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The resource the operation targets does not exist (any more).
    #[error("{what} was not found")]
    NotFound { what: String },
    /// A create collided with an existing resource that is not ours to adopt.
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    /// The cloud throttled the request and retries ran out.
    #[error("the cloud throttled the request and retries ran out ({code})")]
    Throttled { code: String },
    /// A network error, timeout or 5xx answer that persisted through retries.
    #[error("transient failure that persisted through retries: {message}")]
    Transient { message: String },
    /// The cloud refused the request; retrying the same request will not help.
    #[error("{code}: {message}{}", request_id.as_ref().map(|id| format!(" (request id {id})")).unwrap_or_default())]
    Rejected {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The resource did not reach the awaited state in time.
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    Timeout { what: String, waited: Duration },
    /// An update made of several calls failed part-way: `done` took effect, `not_done` did not.
    #[error(
        "{source} (took effect: {}; not done: {})",
        list_or_none(done),
        list_or_none(not_done)
    )]
    Partial {
        done: Vec<String>,
        not_done: Vec<String>,
        source: Box<ProviderError>,
    },
    /// A reference could not be resolved to a cloud id (its target is missing or failed).
    #[error("cannot resolve reference `{address}` to a cloud id")]
    UnresolvedReference { address: String },
    /// Credentials are missing or invalid.
    #[error("no usable credentials: {message}")]
    Credentials { message: String },
    /// The credentials act in another account than the environment lives in; nothing but the
    /// identity question was asked.
    #[error("the credentials are for account {actual}, but `{environment}` lives in {expected}")]
    WrongAccount {
        environment: String,
        expected: String,
        actual: String,
    },
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items.join(", ")
    }
}

/// A cloud that envctl can read and change.
///
/// Every async method returns a `Send` future so the engine can run many at once.
pub trait Provider: Sync {
    /// Reads every resource owned by `scope`, one paginated listing per kind, and with
    /// [`ReadDepth::OwnedAndUnmanaged`] the untagged resources inside its network too.
    fn read(
        &self,
        scope: &Scope,
        depth: ReadDepth,
    ) -> impl Future<Output = Result<LiveState, ProviderError>> + Send;

    /// Compares one desired resource with its live counterpart; pure and synchronous.
    fn diff(&self, desired: &DesiredResource, live: &LiveResource) -> ResourceDiff;

    /// How `live` is swapped for a new copy made from `desired`: create-before-destroy
    /// wherever the cloud lets both exist at once (a fresh name, a range that does not
    /// overlap), destroy-before-create otherwise.
    fn replace_order(&self, desired: &DesiredResource, live: &LiveResource) -> ReplaceOrder;

    /// When `target` (whose cloud id is `old_id`) is replaced create-before-destroy, can
    /// `live`, which references it, be moved to the new copy in place? If so, returns `live`
    /// with those references written as the raw `old_id`, so that diffing it against the
    /// desired resource yields the update that re-points it; `None` means `live` must be
    /// replaced along with `target`.
    fn repoint(&self, live: &LiveResource, target: &Address, old_id: &str) -> Option<LiveResource>;

    /// Creates `desired` (tagged at creation), waits until it is usable, returns it as read.
    /// If an earlier, interrupted run already created it, adopts that one instead.
    fn create(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> impl Future<Output = Result<LiveResource, ProviderError>> + Send;

    /// Changes `live` in place so that the `changes` (none forcing replacement) match `desired`.
    fn update(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> impl Future<Output = Result<LiveResource, ProviderError>> + Send;

    /// Deletes `live` (owned, or unmanaged and found by a deep read) and waits until it is
    /// gone. Deleting what is already gone succeeds.
    fn delete(
        &self,
        live: &LiveResource,
        options: DeleteOptions,
        progress: &dyn Progress,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// What sits inside the VPC `vpc` that envctl does not model (gateways, other services'
    /// network interfaces), one line each as a person reads it: what an import lists as left
    /// out. Instances' and databases' own interfaces are not listed.
    fn unmodelled(
        &self,
        vpc: &str,
    ) -> impl Future<Output = Result<Vec<String>, ProviderError>> + Send;

    /// Makes `live` (found by an import's read) `desired`'s: writes its ownership tags, the
    /// spec's tags and the applied digest, and changes nothing else.
    fn adopt(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
    ) -> impl Future<Output = Result<LiveResource, ProviderError>> + Send;
}

/// Which provider reaches each environment of a spec: environments may live in their own
/// accounts and regions, each behind its own credentials. One [`Provider`] that reaches every
/// environment is itself an `Environments`.
pub trait Environments: Sync {
    /// The provider of one environment.
    type Provider: Provider + ?Sized;

    /// The provider that reaches `environment`.
    fn provider(&self, environment: &str) -> &Self::Provider;
}

impl<P: Provider + ?Sized> Environments for P {
    type Provider = P;

    fn provider(&self, _environment: &str) -> &P {
        self
    }
}

/// A provider per environment, by name: what reaches staging in one account and production in
/// another.
#[derive(Debug, Clone)]
pub struct ProviderPerEnvironment<P> {
    /// The provider of the environment the run is about, and of any environment not named.
    primary: P,
    others: BTreeMap<String, P>,
}

impl<P: Provider> ProviderPerEnvironment<P> {
    /// `primary` reaches every environment that `others` does not name.
    pub fn new(primary: P, others: BTreeMap<String, P>) -> Self {
        ProviderPerEnvironment { primary, others }
    }
}

impl<P: Provider> Environments for ProviderPerEnvironment<P> {
    type Provider = P;

    fn provider(&self, environment: &str) -> &P {
        self.others.get(environment).unwrap_or(&self.primary)
    }
}
