//! DB subnet groups: derived from a `db_cluster` (the subnets its cluster lives in), read by
//! their names (the describe carries no tags, so only groups named like this environment's
//! are asked for theirs), created, changed in place, deleted once no cluster uses them.
//!
//! Invariants: the name is unique, so a replacement removes the old group first; an existing
//! group is adopted only when its tags say it is this address's; a group deleted between the
//! listing and the tag call is gone, not a failed read; the description is written at
//! creation and never compared (an adopted group keeps its own).

use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    ResourceDiff, Scope, diff_fields,
};
use envctl_spec::{DesiredResource, ResourceKind, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::error::classify;
use crate::aws::once::rds_no_retry;
use crate::aws::rds::{live_stub, rds_tags};
use crate::aws::wait::{Poll, wait_until};
use crate::aws::{AwsProvider, field_ids, field_str, live, tags_to_apply, text};

/// The `db_subnet_group` kind.
#[derive(Debug)]
pub(crate) struct DbSubnetGroup;

impl AwsKind for DbSubnetGroup {
    const KIND: ResourceKind = ResourceKind::DbSubnetGroup;
    const SERVICE: Service = Service::Rds;
    const FORCES_REPLACEMENT: &'static [&'static str] = &[];
    const REFERENCES: &'static [(&'static str, ResourceKind)] =
        &[("subnets", ResourceKind::Subnet)];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = Some(("subnets", ResourceKind::Subnet));
    const IMPORTED: bool = true;

    fn diff(desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        // The description is a note written at creation (an adopted group keeps its own, and
        // RDS cannot change a parameter group's): never a difference.
        let mut changes = diff_fields(desired, live, Self::FORCES_REPLACEMENT);
        changes.retain(|change| change.field != "description");
        ResourceDiff {
            changes,
            notes: Vec::new(),
        }
    }

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        // RDS names are unique.
        ReplaceOrder::DestroyBeforeCreate
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let groups: Vec<_> = aws
            .rds
            .describe_db_subnet_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "DB subnet groups"))?;
        let mut read = KindRead::default();
        for group in &groups {
            let name = group.db_subnet_group_name().unwrap_or_default();
            let Some((address, tags)) = aws
                .rds_claim(
                    &mut read,
                    Self::KIND,
                    name,
                    group.db_subnet_group_arn(),
                    scope,
                )
                .await?
            else {
                continue;
            };
            read.resources.push(live_group(group, address, tags));
        }
        Ok(read)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        aws.create_db_subnet_group(desired, ids).await
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        _changes: &[FieldChange],
        ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.update_db_subnet_group(desired, live, ids).await
    }

    async fn arn(aws: &AwsProvider, live: &LiveResource) -> Result<Option<String>, ProviderError> {
        let what = live.address.to_string();
        Ok(aws
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&live.id)
            .send()
            .await
            .map_err(|e| classify(e, &what))?
            .db_subnet_groups()
            .first()
            .and_then(|g| g.db_subnet_group_arn().map(str::to_string)))
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.delete_db_subnet_group(live, progress).await
    }
}

impl DbSubnetGroup {
    /// The group called `name` (outside the environment's naming: adopted) when `scope` owns
    /// it; `None` when it is gone or someone else's.
    pub(crate) async fn read_named(
        aws: &AwsProvider,
        name: &str,
        scope: &Scope,
    ) -> Result<Option<LiveResource>, ProviderError> {
        let answer = aws
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await;
        let Some(found) = crate::aws::error::found(answer, name)? else {
            return Ok(None);
        };
        let Some(group) = found.db_subnet_groups().first() else {
            return Ok(None);
        };
        Ok(aws
            .rds_owned_by_tags(Self::KIND, name, group.db_subnet_group_arn(), scope)
            .await?
            .map(|(address, tags)| live_group(group, address, tags)))
    }
}

/// The live subnet group `group`, at `address`.
fn live_group(
    group: &aws_sdk_rds::types::DbSubnetGroup,
    address: envctl_spec::Address,
    tags: std::collections::BTreeMap<String, String>,
) -> LiveResource {
    let mut resource = live(
        address,
        group.db_subnet_group_name().unwrap_or_default().to_string(),
        tags,
        vec![
            (
                "subnets",
                Value::string_set(
                    group
                        .subnets()
                        .iter()
                        .filter_map(|s| s.subnet_identifier().map(str::to_string)),
                ),
            ),
            ("description", text(group.db_subnet_group_description())),
        ],
    );
    if let Some(vpc) = group.vpc_id() {
        resource.outputs.insert("vpc".to_string(), vpc.to_string());
    }
    resource
}

impl AwsProvider {
    async fn create_db_subnet_group(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        // Look before creating (the emulator overwrites an existing group): adopt it if it is
        // ours, refuse it otherwise.
        let existing = self
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&desired.cloud_name)
            .send()
            .await
            .map_err(|e| classify(e, &what));
        let existing_arn = match existing {
            Ok(out) => out
                .db_subnet_groups()
                .first()
                .and_then(|g| g.db_subnet_group_arn())
                .map(str::to_string),
            Err(ProviderError::NotFound { .. }) => None,
            Err(other) => return Err(other),
        };
        if let Some(arn) = existing_arn {
            let tags = self.rds_tags_of(&arn, &what).await?;
            Self::check_ours(desired, &tags, "DB subnet group")?;
            self.update_db_subnet_group(desired, &live_stub(desired), ids)
                .await?;
            return Ok(desired.cloud_name.clone());
        }
        let description = field_str(desired, "description")?;
        let subnets = field_ids(desired, "subnets", ids)?;
        let tags = rds_tags(&tags_to_apply(desired));
        self.create_once(
            &what,
            crate::aws::pace::RDS,
            || async {
                self.rds
                    .create_db_subnet_group()
                    .db_subnet_group_name(&desired.cloud_name)
                    .db_subnet_group_description(description)
                    .set_subnet_ids(Some(subnets.clone()))
                    .set_tags(Some(tags.clone()))
                    .customize()
                    .config_override(rds_no_retry())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, &what))
            },
            || async {
                let found = self
                    .rds
                    .describe_db_subnet_groups()
                    .db_subnet_group_name(&desired.cloud_name)
                    .send()
                    .await
                    .map_err(|e| classify(e, &what));
                let arn = match found {
                    Ok(out) => out
                        .db_subnet_groups()
                        .first()
                        .and_then(|g| g.db_subnet_group_arn())
                        .map(str::to_string),
                    Err(ProviderError::NotFound { .. }) => None,
                    Err(other) => return Err(other),
                };
                match arn {
                    Some(arn) => {
                        let tags = self.rds_tags_of(&arn, &what).await?;
                        Self::check_ours(desired, &tags, "DB subnet group").map(Some)
                    }
                    None => Ok(None),
                }
            },
        )
        .await?;
        Ok(desired.cloud_name.clone())
    }

    async fn update_db_subnet_group(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        ids: &CloudIds,
    ) -> Result<(), ProviderError> {
        self.rds
            .modify_db_subnet_group()
            .db_subnet_group_name(&live.id)
            .db_subnet_group_description(field_str(desired, "description")?)
            .set_subnet_ids(Some(field_ids(desired, "subnets", ids)?))
            .send()
            .await
            .map_err(|e| classify(e, &desired.address.to_string()))?;
        Ok(())
    }

    async fn delete_db_subnet_group(
        &self,
        live: &LiveResource,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        // A group stays in use while a cluster that used it is still deleting.
        let timeout = self.waits.of(ResourceKind::DbSubnetGroup);
        wait_until(
            &format!("{what} to be free of DB clusters"),
            timeout,
            self.waits.first_poll,
            progress,
            || async {
                let result = self
                    .rds
                    .delete_db_subnet_group()
                    .db_subnet_group_name(&live.id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, &what));
                match result {
                    Err(ProviderError::Rejected { code, .. })
                        if code == "InvalidDBSubnetGroupStateFault" =>
                    {
                        Ok(Poll::Waiting("in use".to_string()))
                    }
                    Err(ProviderError::NotFound { .. }) | Ok(()) => Ok(Poll::Ready),
                    Err(error) => Err(error),
                }
            },
        )
        .await
    }
}
