//! What the RDS kinds (DB subnet group, Aurora cluster, DB instance) share: tag conversion,
//! ownership checks, sorting out identifiers of this environment's naming that belong to
//! someone else, and tagging by ARN.
//!
//! Invariants: RDS identifiers are unique per account and region, so a resource named like
//! one of this environment's but owned by someone else is recorded as a foreign name (the
//! plan blocks on it) and one tagged for the project whose environment cannot be told is a
//! conflict; a create adopts an existing identifier only when its ownership tags say it is
//! this address's; nothing here knows a particular kind.

use std::collections::BTreeMap;

use aws_sdk_rds::types::Tag;
use envctl_engine::{LiveResource, Progress, ProviderError, Scope, unmanaged_address};
use envctl_spec::{Address, DesiredResource, ResourceKind, TAG_ENVIRONMENT, TAG_PROJECT};

use super::error::classify;
use super::kinds::KindRead;
use super::wait::{Poll, wait_until};
use super::{AwsProvider, address_from_tags, tags_to_apply};

pub(super) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub(super) fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(super) fn owned_by(tags: &BTreeMap<String, String>, scope: &Scope) -> bool {
    tags.get(TAG_PROJECT) == Some(&scope.project)
        && tags.get(TAG_ENVIRONMENT) == Some(&scope.environment)
}

fn scope_of(desired: &DesiredResource) -> Scope {
    Scope {
        known_environments: Vec::new(),
        project: desired.tags.get(TAG_PROJECT).cloned().unwrap_or_default(),
        environment: desired
            .tags
            .get(TAG_ENVIRONMENT)
            .cloned()
            .unwrap_or_default(),
        network: None,
    }
}

/// States in which a resource is on its way out and no longer counts.
pub(super) fn is_going(status: Option<&str>) -> bool {
    matches!(status, Some("deleting" | "deleted"))
}

/// The address of the RDS resource `name` of `kind` tagged `tags` when `scope` owns it (an
/// import's scope owns everything, addressed as unmanaged); `None` otherwise, sorted out with
/// [`not_ours`].
pub(super) fn claim_rds(
    read: &mut KindRead,
    kind: ResourceKind,
    name: &str,
    tags: &BTreeMap<String, String>,
    scope: &Scope,
) -> Option<Address> {
    if scope.network.is_some() {
        return Some(unmanaged_address(kind, name));
    }
    if !owned_by(tags, scope) {
        not_ours(read, kind, name, tags, scope);
        return None;
    }
    address_from_tags(tags, kind)
}

/// The prefix of every RDS identifier of `scope`'s environment (`{project}-{env}-`).
pub(super) fn name_prefix(scope: &Scope) -> String {
    format!("{}-{}-", scope.project, scope.environment)
}

/// Sorts out an RDS resource of `kind` called `name` that is not owned by `scope` (see
/// [`super::not_ours`]), with the RDS naming's prefix.
pub(super) fn not_ours(
    read: &mut KindRead,
    kind: ResourceKind,
    name: &str,
    tags: &BTreeMap<String, String>,
    scope: &Scope,
) {
    super::not_ours(read, kind, name, tags, scope, &name_prefix(scope));
}

impl AwsProvider {
    /// The address and tags of the RDS resource `name` (at `arn`, of `kind`, listed by a
    /// describe that carries no tags) when they say it is `scope`'s; `None` otherwise (sorted
    /// out with [`not_ours`]), for a name outside the environment's naming or without an ARN
    /// (never asked for its tags), and for one deleted since the listing, which is gone, not
    /// a failed read.
    pub(super) async fn rds_claim(
        &self,
        read: &mut KindRead,
        kind: ResourceKind,
        name: &str,
        arn: Option<&str>,
        scope: &Scope,
    ) -> Result<Option<(Address, BTreeMap<String, String>)>, ProviderError> {
        if scope.network.is_some() {
            // An import asks every group for its tags; what is outside the network is told
            // apart later, by what refers to it.
            let tags = self.rds_tags_unless_gone(arn, name).await?;
            return Ok(tags.map(|tags| (unmanaged_address(kind, name), tags)));
        }
        let arn = arn.filter(|_| name.starts_with(&name_prefix(scope)));
        let Some(tags) = self.rds_tags_unless_gone(arn, name).await? else {
            return Ok(None);
        };
        if !owned_by(&tags, scope) {
            not_ours(read, kind, name, &tags, scope);
            return Ok(None);
        }
        Ok(address_from_tags(&tags, kind).map(|address| (address, tags)))
    }

    /// The address and tags of the RDS resource `name` (at `arn`) asked for by name (not
    /// listed), when its tags say it is `scope`'s; `None` when it is gone or someone else's.
    pub(super) async fn rds_owned_by_tags(
        &self,
        kind: ResourceKind,
        name: &str,
        arn: Option<&str>,
        scope: &Scope,
    ) -> Result<Option<(Address, BTreeMap<String, String>)>, ProviderError> {
        let Some(tags) = self.rds_tags_unless_gone(arn, name).await? else {
            return Ok(None);
        };
        if !owned_by(&tags, scope) {
            return Ok(None);
        }
        Ok(address_from_tags(&tags, kind).map(|address| (address, tags)))
    }

    /// The tags of the resource at `arn`; `None` without an ARN, or when it is gone since it
    /// was listed.
    async fn rds_tags_unless_gone(
        &self,
        arn: Option<&str>,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let Some(arn) = arn else {
            return Ok(None);
        };
        match self.rds_tags_of(arn, name).await {
            Ok(tags) => Ok(Some(tags)),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    pub(super) async fn rds_tags_of(
        &self,
        arn: &str,
        what: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let out = self
            .rds
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| classify(e, what))?;
        Ok(tag_map(out.tag_list()))
    }

    /// Refuses to adopt an existing resource unless its tags say it is this address's.
    pub(super) fn check_ours(
        desired: &DesiredResource,
        tags: &BTreeMap<String, String>,
        kind_label: &str,
    ) -> Result<(), ProviderError> {
        let ours = owned_by(tags, &scope_of(desired))
            && address_from_tags(tags, desired.kind).as_ref() == Some(&desired.address);
        if ours {
            Ok(())
        } else {
            Err(ProviderError::AlreadyExists {
                what: format!(
                    "{kind_label} `{}` (it was not created by envctl for {})",
                    desired.cloud_name, desired.address
                ),
            })
        }
    }

    /// Sets every desired tag and the applied digest on an RDS resource.
    /// Writes `desired`'s tags and applied digest on the RDS resource `arn` (`None`: RDS no
    /// longer knows it).
    pub(super) async fn tag_rds(
        &self,
        desired: &DesiredResource,
        arn: Option<String>,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let arn = arn.ok_or_else(|| ProviderError::NotFound { what: what.clone() })?;
        self.rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&tags_to_apply(desired))))
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        Ok(())
    }
}

/// A live resource standing for one just adopted, whose id is its cloud name.
pub(super) fn live_stub(desired: &DesiredResource) -> LiveResource {
    LiveResource {
        outputs: Default::default(),
        address: desired.address.clone(),
        kind: desired.kind,
        id: desired.cloud_name.clone(),
        tags: BTreeMap::new(),
        depends_on: Vec::new(),
        fields: BTreeMap::new(),
    }
}

impl AwsProvider {
    /// Waits until `status` (the record's RDS status; `None` once RDS no longer knows it)
    /// says the record of `kind` is gone, showing its status meanwhile.
    pub(super) async fn wait_rds_gone<F, Fut>(
        &self,
        kind: ResourceKind,
        what: &str,
        progress: &dyn Progress,
        status: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Option<String>>, ProviderError>>,
    {
        wait_until(
            &format!("{what} to be deleted"),
            self.waits.of(kind),
            self.waits.first_poll,
            progress,
            || {
                let status = status();
                async move {
                    Ok(match status.await? {
                        None => Poll::Ready,
                        Some(state) => Poll::Waiting(state.unwrap_or_else(|| "deleting".into())),
                    })
                }
            },
        )
        .await
    }
}
