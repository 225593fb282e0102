//! `adopt`: imported resources become the environment's, by their tags alone.
//!
//! Owns [`ImportRecord`] (what an import found: which cloud id is which address, kept next to
//! the spec until the adoption), [`Adoption`] and [`plan_adoption`] (what would be tagged,
//! what already is, and every refusal), and [`adopt`]. Invariants: nothing but tags is ever
//! written, so no resource is recreated or changed; a resource that carries another
//! project's or environment's ownership tags refuses the whole adoption before the first
//! call that changes anything; a resource already carrying exactly this address's tags is
//! left as it is, so an interrupted adoption is finished by running it again.

use std::collections::BTreeMap;

use envctl_spec::{
    Address, DesiredResource, DesiredState, Peer, ResourceKind, Rule, TAG_ADDRESS, TAG_ENVIRONMENT,
    TAG_PROJECT, Value,
};
use serde::{Deserialize, Serialize};

use super::import::Member;
use crate::diff::TAGS_FIELD;
use crate::live::LiveResource;
use crate::provider::{FieldChange, Provider, ProviderError, ReadDepth, Scope};

/// The version of [`ImportRecord`]'s format.
pub const IMPORT_RECORD_VERSION: u32 = 1;

/// What `envctl import` found in one environment's network, for `adopt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub format_version: u32,
    pub project: String,
    pub environment: String,
    pub region: String,
    /// The account the import read, when the cloud named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub vpc: String,
    pub members: Vec<Member>,
}

/// What an adoption would do.
#[derive(Debug, Clone, Default)]
pub struct Adoption {
    /// The resources to tag, with the spec's resource each becomes.
    pub take: Vec<(DesiredResource, LiveResource)>,
    /// Already tagged as the environment's.
    pub already: Vec<Address>,
    /// Recorded by the import but no longer in the cloud (the next apply creates them).
    pub gone: Vec<Address>,
    /// Recorded by the import but no longer in the spec (left as they are).
    pub not_in_spec: Vec<Address>,
}

/// Why an adoption was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The record was made for another project or environment than the spec's.
    #[error(
        "the import record is of `{recorded}`, not `{expected}`; run `envctl import` for this environment again"
    )]
    OtherTarget { recorded: String, expected: String },
    /// Resources carry someone else's ownership tags.
    #[error("{} already belong{} to another project or environment:\n{}", .refusals.len(), if .refusals.len() == 1 { "s" } else { "" }, .refusals.join("\n"))]
    Owned { refusals: Vec<String> },
    #[error(transparent)]
    Read(#[from] ProviderError),
    /// Tagging one resource failed; those before it are adopted, so running it again
    /// finishes the adoption.
    #[error("could not tag {address} ({id})")]
    Tag {
        address: Address,
        id: String,
        #[source]
        source: ProviderError,
    },
}

/// Reads the recorded network again and sorts out what `adopt` would tag. Refuses (before any
/// change) when a resource carries the ownership tags of another project or environment.
pub async fn plan_adoption<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
    record: &ImportRecord,
) -> Result<Adoption, AdoptError> {
    if record.project != desired.project || record.environment != desired.environment {
        return Err(AdoptError::OtherTarget {
            recorded: format!("{}/{}", record.project, record.environment),
            expected: format!("{}/{}", desired.project, desired.environment),
        });
    }
    let scope = Scope::network(&record.project, &record.environment, &record.vpc);
    let live = provider.read(&scope, ReadDepth::Owned).await?;
    let mut adoption = Adoption::default();
    let mut refusals = Vec::new();
    for member in &record.members {
        let Some(resource) = desired.resource(&member.address) else {
            adoption.not_in_spec.push(member.address.clone());
            continue;
        };
        let Some(found) = live
            .resources
            .iter()
            .find(|r| r.kind == member.address.kind && r.id == member.id)
        else {
            adoption.gone.push(member.address.clone());
            continue;
        };
        let project = found.tags.get(TAG_PROJECT);
        let environment = found.tags.get(TAG_ENVIRONMENT);
        let address = found.tags.get(TAG_ADDRESS);
        let ours = project == Some(&desired.project) && environment == Some(&desired.environment);
        if project.is_some() && !ours {
            refusals.push(format!(
                "  {} ({}) is tagged for {}/{}",
                member.address,
                member.id,
                project.map_or("?", String::as_str),
                environment.map_or("?", String::as_str)
            ));
            continue;
        }
        if ours && address == Some(&member.address.to_string()) {
            adoption.already.push(member.address.clone());
            continue;
        }
        if ours {
            refusals.push(format!(
                "  {} ({}) is tagged as this environment's {}",
                member.address,
                member.id,
                address.map_or("(no address)", String::as_str)
            ));
            continue;
        }
        adoption.take.push((resource.clone(), found.clone()));
    }
    if !refusals.is_empty() {
        return Err(AdoptError::Owned { refusals });
    }
    Ok(adoption)
}

/// Tags every resource of `adoption` as its spec resource, one after another; returns the
/// addresses adopted.
pub async fn adopt<P: Provider + ?Sized>(
    provider: &P,
    adoption: &Adoption,
) -> Result<Vec<Address>, AdoptError> {
    let mut adopted = Vec::new();
    for (desired, live) in &adoption.take {
        provider
            .adopt(desired, live)
            .await
            .map_err(|source| AdoptError::Tag {
                address: desired.address.clone(),
                id: live.id.clone(),
                source,
            })?;
        adopted.push(desired.address.clone());
    }
    Ok(adopted)
}

/// What the first plan after adopting `members` would still change, resource by resource:
/// each member's live resource (as an import's read found it, among `found`) compared with
/// `desired`, its references named by the members' addresses; tags are left out (adopting
/// writes them). Empty when the spec says exactly what the cloud holds.
pub fn changes_after_adoption<P: Provider + ?Sized>(
    provider: &P,
    desired: &DesiredState,
    members: &[Member],
    found: &[LiveResource],
) -> Vec<(Address, Vec<FieldChange>)> {
    let by_id: BTreeMap<(ResourceKind, &str), &Address> = members
        .iter()
        .map(|m| ((m.address.kind, m.id.as_str()), &m.address))
        .collect();
    let renamed: BTreeMap<&Address, &Address> = found
        .iter()
        .filter_map(|r| Some((&r.address, *by_id.get(&(r.kind, r.id.as_str()))?)))
        .collect();
    let rename = |value: &Value| -> Value {
        let one = |item: &Value| match item {
            Value::Ref(address) => Value::Ref(
                renamed
                    .get(address)
                    .map_or_else(|| address.clone(), |a| (*a).clone()),
            ),
            Value::Rule(rule) => match &rule.peer {
                Peer::Group(address) => Value::Rule(Rule {
                    peer: Peer::Group(
                        renamed
                            .get(address)
                            .map_or_else(|| address.clone(), |a| (*a).clone()),
                    ),
                    ..rule.clone()
                }),
                _ => item.clone(),
            },
            other => other.clone(),
        };
        match value {
            Value::List(items) => Value::set(items.iter().map(one).collect::<Vec<_>>()),
            single => one(single),
        }
    };
    let mut out = Vec::new();
    for member in members {
        let (Some(resource), Some(live)) = (
            desired.resource(&member.address),
            found
                .iter()
                .find(|r| r.kind == member.address.kind && r.id == member.id),
        ) else {
            continue;
        };
        let named = LiveResource {
            address: member.address.clone(),
            tags: resource.tags.clone(),
            fields: live
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), rename(v)))
                .collect(),
            ..live.clone()
        };
        let changes: Vec<FieldChange> = provider
            .diff(resource, &named)
            .changes
            .into_iter()
            .filter(|c| c.field != TAGS_FIELD)
            .collect();
        if !changes.is_empty() {
            out.push((member.address.clone(), changes));
        }
    }
    out
}
