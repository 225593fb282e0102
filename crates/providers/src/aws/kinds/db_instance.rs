//! Aurora DB instances: derived from a `db_cluster` (`instances` of them), read with their
//! tags from the describe itself, created in their cluster, resized in place.
//!
//! Invariants: the identifier is unique, so a replacement removes the old instance first and
//! a create adopts an existing one only when its tags say it is this address's (waiting out
//! a copy still on its way out); a delete is done when RDS no longer knows the identifier.

use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    Scope,
};
use envctl_spec::{DesiredResource, ResourceKind};

use super::{AwsKind, KindRead, Service};
use crate::aws::batch::Fetch;
use crate::aws::error::classify;
use crate::aws::once::rds_no_retry;
use crate::aws::rds::{claim_rds, is_going, rds_tags, tag_map};
use crate::aws::wait::{Poll, Prefixed, wait_until};
use crate::aws::{AwsProvider, field_id, field_str, live, tags_to_apply, text};
use futures::FutureExt;

/// The `db_instance` kind.
#[derive(Debug)]
pub(crate) struct DbInstance;

impl AwsKind for DbInstance {
    const KIND: ResourceKind = ResourceKind::DbInstance;
    const SERVICE: Service = Service::Rds;
    const FORCES_REPLACEMENT: &'static [&'static str] = &["cluster", "engine"];
    const REFERENCES: &'static [(&'static str, ResourceKind)] =
        &[("cluster", ResourceKind::DbCluster)];
    const PLACEMENT: Option<(&'static str, ResourceKind)> =
        Some(("cluster", ResourceKind::DbCluster));
    const IMPORTED: bool = true;

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        // RDS identifiers are unique.
        ReplaceOrder::DestroyBeforeCreate
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let instances: Vec<_> = aws
            .rds
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "DB instances"))?;
        let mut read = KindRead::default();
        for instance in instances {
            let tags = tag_map(instance.tag_list());
            let name = instance.db_instance_identifier().unwrap_or_default();
            if is_going(instance.db_instance_status()) {
                continue;
            }
            let Some(address) = claim_rds(&mut read, Self::KIND, name, &tags, scope) else {
                continue;
            };
            read.resources.push(live(
                address,
                name.to_string(),
                tags,
                vec![
                    ("cluster", text(instance.db_cluster_identifier())),
                    ("engine", text(instance.engine())),
                    ("instance_class", text(instance.db_instance_class())),
                ],
            ));
        }
        Ok(read)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        aws.create_db_instance(desired, ids, progress).await
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        _ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.update_db_instance(desired, live, changes, progress)
            .await
    }

    async fn arn(aws: &AwsProvider, live: &LiveResource) -> Result<Option<String>, ProviderError> {
        let what = live.address.to_string();
        Ok(aws
            .db_instance_named(&live.id, &what)
            .await?
            .and_then(|i| i.db_instance_arn().map(str::to_string)))
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.delete_db_instance(live, progress).await
    }
}

impl AwsProvider {
    /// The DB instance with this identifier in whatever state; `None` once RDS no longer
    /// knows it.
    async fn db_instance_named(
        &self,
        identifier: &str,
        what: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbInstance>, ProviderError> {
        // Lookups of DB instances in flight at once share one describe (see `batch`), by
        // filter, so that one not visible yet is absent, not an error for all.
        let rds = self.rds.clone();
        let what = what.to_string();
        let fetch: Fetch<aws_sdk_rds::types::DbInstance> = Box::new(move |ids: Vec<String>| {
            async move {
                let instances: Vec<_> = rds
                    .describe_db_instances()
                    .filters(
                        aws_sdk_rds::types::Filter::builder()
                            .name("db-instance-id")
                            .set_values(Some(ids))
                            .build(),
                    )
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, &what))?;
                Ok(instances
                    .into_iter()
                    .filter_map(|i| Some((i.db_instance_identifier()?.to_lowercase(), i)))
                    .collect())
            }
            .boxed()
        });
        self.db_instances
            .get(&identifier.to_lowercase(), fetch)
            .await
    }

    /// Waits until RDS no longer knows the DB instance `identifier`.
    async fn wait_db_instance_gone(
        &self,
        identifier: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.wait_rds_gone(ResourceKind::DbInstance, what, progress, || async {
            let instance = self.db_instance_named(identifier, what).await?;
            Ok(instance.map(|i| i.db_instance_status().map(str::to_string)))
        })
        .await
    }

    async fn create_db_instance(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let identifier = desired.cloud_name.clone();
        let mut existing = self.db_instance_named(&identifier, &what).await?;
        if existing
            .as_ref()
            .is_some_and(|i| is_going(i.db_instance_status()))
        {
            let previous = Prefixed {
                inner: progress,
                prefix: "waiting for the previous copy:",
            };
            self.wait_db_instance_gone(&identifier, &what, &previous)
                .await?;
            existing = None;
        }
        if let Some(existing) = existing {
            Self::check_ours(desired, &tag_map(existing.tag_list()), "DB instance")?;
        } else {
            let cluster = field_id(desired, "cluster", ids)?;
            let engine = field_str(desired, "engine")?;
            let class = field_str(desired, "instance_class")?;
            let tags = rds_tags(&tags_to_apply(desired));
            self.create_once(
                &what,
                crate::aws::pace::RDS,
                || async {
                    self.rds
                        .create_db_instance()
                        .db_instance_identifier(&identifier)
                        .db_cluster_identifier(&cluster)
                        .engine(engine)
                        .db_instance_class(class)
                        .set_tags(Some(tags.clone()))
                        .customize()
                        .config_override(rds_no_retry())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify(e, &what))
                },
                || async {
                    match self.db_instance_named(&identifier, &what).await? {
                        Some(found) => {
                            Self::check_ours(desired, &tag_map(found.tag_list()), "DB instance")
                                .map(Some)
                        }
                        None => Ok(None),
                    }
                },
            )
            .await?;
        }
        self.wait_for_db_instance(&identifier, &what, progress)
            .await?;
        Ok(identifier)
    }

    async fn wait_for_db_instance(
        &self,
        identifier: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        wait_until(
            &format!("{what} to be available"),
            self.waits.of(ResourceKind::DbInstance),
            self.waits.first_poll,
            progress,
            || async {
                Ok(match self.db_instance_named(identifier, what).await? {
                    Some(i) => {
                        let status = i.db_instance_status().unwrap_or("unknown");
                        Poll::from(status == "available", status)
                    }
                    None => Poll::Waiting("not visible yet".to_string()),
                })
            },
        )
        .await
    }

    async fn update_db_instance(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        if changes.iter().any(|c| c.field == "instance_class") {
            self.rds
                .modify_db_instance()
                .db_instance_identifier(&live.id)
                .db_instance_class(field_str(desired, "instance_class")?)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| classify(e, &what))?;
            self.wait_for_db_instance(&live.id, &what, progress).await?;
        }
        Ok(())
    }

    async fn delete_db_instance(
        &self,
        live: &LiveResource,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        let already_going = self
            .db_instance_named(&live.id, &what)
            .await?
            .is_some_and(|i| is_going(i.db_instance_status()));
        if !already_going {
            self.rds
                .delete_db_instance()
                .db_instance_identifier(&live.id)
                .skip_final_snapshot(true)
                .send()
                .await
                .map_err(|e| classify(e, &what))?;
        }
        self.wait_db_instance_gone(&live.id, &what, progress).await
    }
}
