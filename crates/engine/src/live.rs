//! What the cloud holds right now, as the provider read it.
//!
//! Owns [`LiveState`] and [`LiveResource`]. Invariants: live fields use the same names and value
//! shapes as the spec's desired fields (references as addresses, set-like lists sorted), so the
//! engine can compare them without knowing any kind; `id` is the cloud's own identifier and is
//! the only thing an operation needs to find the resource again.

use std::collections::BTreeMap;

use envctl_spec::{Address, ResourceKind, TAG_APPLIED_DIGEST, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One resource that exists in the cloud and carries this environment's ownership tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResource {
    pub address: Address,
    pub kind: ResourceKind,
    /// The cloud's identifier (`vpc-0abc…`, `i-0abc…`, an RDS identifier).
    pub id: String,
    /// Every tag on the resource, ownership tags included.
    pub tags: BTreeMap<String, String>,
    /// Addresses of other owned resources this one references (a subnet's VPC, an instance's
    /// groups): deletes must wait for those that reference the resource being deleted.
    pub depends_on: Vec<Address>,
    /// Configuration read back, in the desired fields' names and shapes.
    pub fields: BTreeMap<String, Value>,
    /// What the cloud assigned and the spec does not set (a DB cluster's `endpoint`, an
    /// instance's `private_ip`): never compared, handed to `envctl verify`'s command.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

impl LiveResource {
    /// The digest of the desired values envctl last applied, if the resource carries one.
    pub fn applied_digest(&self) -> Option<&str> {
        self.tags.get(TAG_APPLIED_DIGEST).map(String::as_str)
    }
}

/// The name part of the address given to an untagged resource found inside the environment's
/// network: `instance.unmanaged:i-0abc`. Spec names cannot contain `:`, so it never collides.
pub const UNMANAGED_PREFIX: &str = "unmanaged:";

/// The address under which an untagged resource of `kind` with cloud id `id` is reported.
pub fn unmanaged_address(kind: ResourceKind, id: &str) -> Address {
    Address::new(kind, format!("{UNMANAGED_PREFIX}{id}"))
}

/// Everything one environment owns in the cloud, as read in one pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    pub resources: Vec<LiveResource>,
    /// Untagged resources inside the environment's own network (only from a deep read),
    /// addressed with [`unmanaged_address`].
    #[serde(default)]
    pub unmanaged: Vec<LiveResource>,
    /// Cloud names (unique ones: RDS identifiers, group names) held by resources envctl does
    /// not own for this environment, as far as the read saw them.
    #[serde(default)]
    pub foreign_names: Vec<ForeignName>,
    /// Cloud ids that some live resource references (a subnet an instance runs in, a group a
    /// rule names): of two copies of one address, the one in use is never the one removed.
    #[serde(default)]
    pub referenced: std::collections::BTreeSet<String>,
    /// Resources that claim to be this environment's but cannot be proven so (outside its
    /// network, or tagged for the project with a missing or unknown environment): reported,
    /// never changed or deleted.
    #[serde(default)]
    pub conflicts: Vec<Conflict>,
    /// The account the read was made in, when the cloud says (AWS: STS names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region the read was made in, when the cloud has regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// A resource whose ownership is claimed by its tags but not proven.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub resource: LiveResource,
    /// Why it is not counted as the environment's.
    pub reason: String,
}

/// A unique cloud name held by a resource that is not this environment's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignName {
    pub kind: ResourceKind,
    pub name: String,
    /// The holder's cloud id.
    pub id: String,
    /// Whose tags it carries (`project/environment`), if envctl's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl LiveState {
    /// Live resources carrying `address`; more than one means an earlier run duplicated it.
    pub fn at<'a>(&'a self, address: &'a Address) -> impl Iterator<Item = &'a LiveResource> + 'a {
        self.resources.iter().filter(move |r| &r.address == address)
    }

    /// A digest of everything read, to tell whether the cloud changed between two reads.
    /// Independent of the order the provider listed resources in.
    pub fn fingerprint(&self) -> String {
        let mut entries: Vec<String> = self
            .resources
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default())
            .collect();
        entries.sort();
        let mut hasher = Sha256::new();
        for entry in entries {
            hasher.update(entry.as_bytes());
            hasher.update([0u8]);
        }
        format!("sha256:{:x}", hasher.finalize())
    }
}

/// The digest of one desired resource's fields and tags, stored on the resource as
/// [`TAG_APPLIED_DIGEST`] whenever envctl creates or updates it.
pub fn applied_digest(fields: &BTreeMap<String, Value>) -> String {
    let text = serde_json::to_string(fields).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    format!("{digest:x}").chars().take(16).collect()
}
