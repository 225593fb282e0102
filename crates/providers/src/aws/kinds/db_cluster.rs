//! Aurora DB clusters: read with their tags from the describe itself, created with a
//! password RDS generates and keeps, changed in place, deleted with a final snapshot.
//!
//! Invariants: the master password is never seen by envctl (`ManageMasterUserPassword`);
//! the identifier is unique, so a create first checks whether it exists (the emulator
//! silently overwrites a cluster created twice), adopts it only when its tags say it is this
//! address's, and waits out a copy still on its way out; deletion protection is lifted only
//! when the delete options say so and switched back on when the delete then fails; a delete
//! is done when RDS no longer knows the identifier (a cluster reads `deleting` for minutes and
//! keeps its subnet group and security groups in use meanwhile); a live engine version newer
//! than the spec's (AWS upgrades minor versions itself) is never planned as a downgrade.

use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Note, Progress, ProviderError,
    ReplaceOrder, ResourceDiff, Scope, diff_fields,
};
use envctl_spec::{DesiredResource, ResourceKind, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::batch::Fetch;
use crate::aws::error::classify;
use crate::aws::once::rds_no_retry;
use crate::aws::rds::{claim_rds, is_going, rds_tags, tag_map};
use crate::aws::wait::{Poll, Prefixed, wait_until};
use crate::aws::{AwsProvider, field_id, field_ids, field_str, live, tags_to_apply, text};
use futures::FutureExt;

/// The `db_cluster` kind.
#[derive(Debug)]
pub(crate) struct DbCluster;

impl AwsKind for DbCluster {
    const KIND: ResourceKind = ResourceKind::DbCluster;
    const SERVICE: Service = Service::Rds;
    const FORCES_REPLACEMENT: &'static [&'static str] = &[
        "engine",
        "storage_encrypted",
        "master_username",
        "subnet_group",
    ];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[
        ("subnet_group", ResourceKind::DbSubnetGroup),
        ("security_groups", ResourceKind::SecurityGroup),
        ("parameter_group", ResourceKind::DbClusterParameterGroup),
    ];
    const PLACEMENT: Option<(&'static str, ResourceKind)> =
        Some(("subnet_group", ResourceKind::DbSubnetGroup));
    const IMPORTED: bool = true;

    fn diff(desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        let mut changes = diff_fields(desired, live, Self::FORCES_REPLACEMENT);
        let mut notes = Vec::new();
        // AWS upgrades minor engine versions by itself: never plan a downgrade.
        changes.retain(|change| {
            let (Some(Value::Str(live_version)), Some(Value::Str(spec_version))) =
                (&change.live, &change.desired)
            else {
                return true;
            };
            if change.field != "engine_version" || !version_is_newer(live_version, spec_version) {
                return true;
            }
            notes.push(Note {
                address: desired.address.clone(),
                message: format!(
                    "the live engine version {live_version} is newer than the spec's {spec_version} (AWS upgraded it); envctl never downgrades"
                ),
                hint: Some(format!(
                    "set `engine_version = \"{live_version}\"` in the spec to record the upgrade"
                )),
            });
            false
        });
        ResourceDiff { changes, notes }
    }

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        // RDS identifiers are unique.
        ReplaceOrder::DestroyBeforeCreate
    }

    fn repointable_fields(target: ResourceKind) -> &'static [&'static str] {
        // ModifyDBCluster moves a cluster to other security groups and to another parameter
        // group in place.
        match target {
            ResourceKind::SecurityGroup => &["security_groups"],
            ResourceKind::DbClusterParameterGroup => &["parameter_group"],
            _ => &[],
        }
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let clusters: Vec<_> = aws
            .rds
            .describe_db_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "DB clusters"))?;
        let mut read = KindRead::default();
        for cluster in clusters {
            let tags = tag_map(cluster.tag_list());
            let name = cluster.db_cluster_identifier().unwrap_or_default();
            if is_going(cluster.status()) {
                continue;
            }
            let Some(address) = claim_rds(&mut read, Self::KIND, name, &tags, scope) else {
                continue;
            };
            let mut fields = vec![
                ("engine", text(cluster.engine())),
                ("engine_version", text(cluster.engine_version())),
                ("subnet_group", text(cluster.db_subnet_group())),
                (
                    "parameter_group",
                    text(cluster.db_cluster_parameter_group()),
                ),
                (
                    "security_groups",
                    Value::string_set(
                        cluster
                            .vpc_security_groups()
                            .iter()
                            .filter_map(|g| g.vpc_security_group_id().map(str::to_string)),
                    ),
                ),
                (
                    "backup_retention_days",
                    Value::Int(i64::from(
                        cluster.backup_retention_period().unwrap_or_default(),
                    )),
                ),
                (
                    "deletion_protection",
                    Value::Bool(cluster.deletion_protection().unwrap_or(false)),
                ),
                (
                    "storage_encrypted",
                    Value::Bool(cluster.storage_encrypted().unwrap_or(false)),
                ),
                ("master_username", text(cluster.master_username())),
            ];
            if let Some(window) = cluster.preferred_backup_window() {
                fields.push(("backup_window", Value::Str(window.to_string())));
            }
            let mut resource = live(address, name.to_string(), tags, fields);
            for (output, value) in [
                ("endpoint", cluster.endpoint().map(str::to_string)),
                (
                    "reader_endpoint",
                    cluster.reader_endpoint().map(str::to_string),
                ),
                ("port", cluster.port().map(|p| p.to_string())),
                ("arn", cluster.db_cluster_arn().map(str::to_string)),
            ] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    resource.outputs.insert(output.to_string(), value);
                }
            }
            read.resources.push(resource);
        }
        Ok(read)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        aws.create_db_cluster(desired, ids, progress).await
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.update_db_cluster(desired, live, changes, ids, progress)
            .await
    }

    async fn arn(aws: &AwsProvider, live: &LiveResource) -> Result<Option<String>, ProviderError> {
        let what = live.address.to_string();
        Ok(aws
            .cluster_named(&live.id, &what)
            .await?
            .and_then(|c| c.db_cluster_arn().map(str::to_string)))
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.delete_db_cluster(live, options, progress).await
    }
}

/// True when version `a` is newer than `b`, comparing dot-separated parts numerically where
/// both parts are numbers (`15.10` is newer than `15.9`).
fn version_is_newer(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<(u64, String)> {
        v.split('.')
            .map(|p| (p.parse::<u64>().unwrap_or(0), p.to_string()))
            .collect()
    };
    parts(a) > parts(b)
}

impl AwsProvider {
    /// The cluster with this identifier in whatever state, `deleting` included; `None` only
    /// once RDS no longer knows it.
    async fn cluster_named(
        &self,
        identifier: &str,
        what: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbCluster>, ProviderError> {
        // Lookups of clusters in flight at once share one describe (see `batch`), by filter,
        // so that one not visible yet is absent, not an error for all.
        let rds = self.rds.clone();
        let what = what.to_string();
        let fetch: Fetch<aws_sdk_rds::types::DbCluster> = Box::new(move |ids: Vec<String>| {
            async move {
                let clusters: Vec<_> = rds
                    .describe_db_clusters()
                    .filters(
                        aws_sdk_rds::types::Filter::builder()
                            .name("db-cluster-id")
                            .set_values(Some(ids))
                            .build(),
                    )
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, &what))?;
                Ok(clusters
                    .into_iter()
                    .filter_map(|c| Some((c.db_cluster_identifier()?.to_lowercase(), c)))
                    .collect())
            }
            .boxed()
        });
        self.clusters.get(&identifier.to_lowercase(), fetch).await
    }

    /// Waits until RDS no longer knows the cluster `identifier`.
    async fn wait_cluster_gone(
        &self,
        identifier: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.wait_rds_gone(ResourceKind::DbCluster, what, progress, || async {
            let cluster = self.cluster_named(identifier, what).await?;
            Ok(cluster.map(|c| c.status().map(str::to_string)))
        })
        .await
    }

    async fn create_db_cluster(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let identifier = desired.cloud_name.clone();
        // Look before creating: an existing cluster is adopted if ours, refused otherwise; one
        // still on its way out (an earlier destroy or replacement) is waited for.
        let mut existing = self.cluster_named(&identifier, &what).await?;
        if existing.as_ref().is_some_and(|c| is_going(c.status())) {
            let previous = Prefixed {
                inner: progress,
                prefix: "waiting for the previous copy:",
            };
            self.wait_cluster_gone(&identifier, &what, &previous)
                .await?;
            existing = None;
        }
        if let Some(existing) = existing {
            Self::check_ours(desired, &tag_map(existing.tag_list()), "DB cluster")?;
        } else {
            let int = |field: &str| desired.field(field).and_then(Value::as_int);
            let flag = |field: &str| desired.field(field).and_then(Value::as_bool);
            let engine = field_str(desired, "engine")?;
            let version = field_str(desired, "engine_version")?;
            let subnet_group = field_id(desired, "subnet_group", ids)?;
            let parameter_group = match desired.field("parameter_group") {
                Some(_) => Some(field_id(desired, "parameter_group", ids)?),
                None => None,
            };
            let groups = field_ids(desired, "security_groups", ids)?;
            let username = field_str(desired, "master_username")?;
            let tags = rds_tags(&tags_to_apply(desired));
            self.create_once(
                &what,
                crate::aws::pace::RDS,
                || async {
                    self.rds
                        .create_db_cluster()
                        .db_cluster_identifier(&identifier)
                        .engine(engine)
                        .engine_version(version)
                        .db_subnet_group_name(&subnet_group)
                        .set_db_cluster_parameter_group_name(parameter_group.clone())
                        .set_vpc_security_group_ids(Some(groups.clone()))
                        .set_backup_retention_period(
                            int("backup_retention_days").and_then(|d| i32::try_from(d).ok()),
                        )
                        .set_preferred_backup_window(
                            desired
                                .field("backup_window")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                        )
                        .set_deletion_protection(flag("deletion_protection"))
                        .set_storage_encrypted(flag("storage_encrypted"))
                        .master_username(username)
                        .manage_master_user_password(true)
                        .set_tags(Some(tags.clone()))
                        .customize()
                        .config_override(rds_no_retry())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify(e, &what))
                },
                // A lost answer: the cluster may exist; adopted only when it is ours.
                || async {
                    match self.cluster_named(&identifier, &what).await? {
                        Some(found) => {
                            Self::check_ours(desired, &tag_map(found.tag_list()), "DB cluster")
                                .map(Some)
                        }
                        None => Ok(None),
                    }
                },
            )
            .await?;
        }
        self.wait_for_cluster(&identifier, &what, progress).await?;
        Ok(identifier)
    }

    async fn wait_for_cluster(
        &self,
        identifier: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        wait_until(
            &format!("{what} to be available"),
            self.waits.of(ResourceKind::DbCluster),
            self.waits.first_poll,
            progress,
            || async {
                Ok(match self.cluster_named(identifier, what).await? {
                    Some(c) => {
                        let status = c.status().unwrap_or("unknown");
                        Poll::from(status == "available", status)
                    }
                    None => Poll::Waiting("not visible yet".to_string()),
                })
            },
        )
        .await
    }

    async fn update_db_cluster(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let mut request = self
            .rds
            .modify_db_cluster()
            .db_cluster_identifier(&live.id)
            .apply_immediately(true);
        let mut any = false;
        for change in changes {
            let Some(value) = &change.desired else {
                continue;
            };
            request = match change.field.as_str() {
                "engine_version" => {
                    let Some(version) = value.as_str() else {
                        continue;
                    };
                    let major =
                        |v: Option<&str>| v.and_then(|v| v.split('.').next()).map(str::to_string);
                    let upgrade =
                        major(Some(version)) != major(change.live.as_ref().and_then(Value::as_str));
                    request
                        .engine_version(version)
                        .set_allow_major_version_upgrade(upgrade.then_some(true))
                }
                "backup_retention_days" => request.set_backup_retention_period(
                    value.as_int().and_then(|d| i32::try_from(d).ok()),
                ),
                "backup_window" => {
                    request.set_preferred_backup_window(value.as_str().map(str::to_string))
                }
                "deletion_protection" => request.set_deletion_protection(value.as_bool()),
                "security_groups" => request.set_vpc_security_group_ids(Some(field_ids(
                    desired,
                    "security_groups",
                    ids,
                )?)),
                "parameter_group" => request.db_cluster_parameter_group_name(field_id(
                    desired,
                    "parameter_group",
                    ids,
                )?),
                _ => continue,
            };
            any = true;
        }
        if any {
            request.send().await.map_err(|e| classify(e, &what))?;
            self.wait_for_cluster(&live.id, &what, progress).await?;
        }
        Ok(())
    }

    async fn delete_db_cluster(
        &self,
        live: &LiveResource,
        options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        let current = self.cluster_named(&live.id, &what).await?;
        let Some(current) = current else {
            return Ok(());
        };
        if is_going(current.status()) {
            return self.wait_cluster_gone(&live.id, &what, progress).await;
        }
        let protected = current.deletion_protection().unwrap_or(false);
        if protected {
            if !options.lift_deletion_protection {
                return Err(ProviderError::Rejected {
                    code: "DeletionProtection".into(),
                    message: format!(
                        "{what} has deletion protection on; only `envctl destroy` lifts it"
                    ),
                    request_id: None,
                });
            }
            self.set_deletion_protection(&live.id, false, &what).await?;
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let deleted = self
            .rds
            .delete_db_cluster()
            .db_cluster_identifier(&live.id)
            .final_db_snapshot_identifier(format!("{}-final-{stamp}", live.id))
            .send()
            .await
            .map_err(|e| classify(e, &what));
        if let Err(error) = deleted {
            if !protected {
                return Err(error);
            }
            // Never leave a cluster unprotected because its delete failed.
            return Err(
                match self.set_deletion_protection(&live.id, true, &what).await {
                    Ok(()) => ProviderError::Rejected {
                        code: "DeleteFailed".into(),
                        message: format!("{error}; its deletion protection was switched back on"),
                        request_id: None,
                    },
                    Err(restore) => ProviderError::Rejected {
                        code: "DeleteFailed".into(),
                        message: format!(
                            "{error}; switching its deletion protection back on failed too ({restore}): it is unprotected"
                        ),
                        request_id: None,
                    },
                },
            );
        }
        self.wait_cluster_gone(&live.id, &what, progress).await
    }

    async fn set_deletion_protection(
        &self,
        identifier: &str,
        on: bool,
        what: &str,
    ) -> Result<(), ProviderError> {
        self.rds
            .modify_db_cluster()
            .db_cluster_identifier(identifier)
            .deletion_protection(on)
            .apply_immediately(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_is_newer("15.10", "15.9"));
        assert!(version_is_newer("16.1", "15.4"));
        assert!(!version_is_newer("15.4", "15.4"));
        assert!(!version_is_newer("15.3", "15.4"));
    }
}
