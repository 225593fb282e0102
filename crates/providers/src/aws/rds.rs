//! RDS kinds: DB subnet groups, Aurora clusters and their DB instances.
//!
//! Owns reading them (one paginated describe per kind; clusters and instances carry their tags
//! in the describe, subnet groups do not, so only the groups named like this environment's are
//! asked for their tags) and their create, update and delete calls. Invariants: a create first
//! checks whether the identifier exists (the emulator silently overwrites a cluster created
//! twice) and adopts it only when its ownership tags say it is ours; the master password is
//! never seen by envctl (`ManageMasterUserPassword`: RDS generates and keeps it); deletion
//! protection is lifted only when the delete options say so, and switched back on when the
//! delete then fails; a deleted cluster leaves a final snapshot; a delete is done when RDS
//! no longer knows the identifier (a cluster reads `deleting` for minutes and keeps its
//! subnet group and security groups in use meanwhile), and a create whose identifier is still
//! held by a copy on its way out waits for it to go.

use std::collections::BTreeMap;

use aws_sdk_rds::types::Tag;
use envctl_engine::{
    CloudIds, Conflict, DeleteOptions, FieldChange, ForeignName, LiveResource, Progress,
    ProviderError, Scope,
};
use envctl_spec::{DesiredResource, ResourceKind, TAG_ENVIRONMENT, TAG_PROJECT, Value};

use super::error::classify;
use super::once::rds_no_retry;
use super::wait::{Poll, Prefixed, wait_until};
use super::{
    AwsProvider, Claim, address_from_tags, claim, conflict, field_id, field_ids, field_str, live,
    tags_to_apply, text,
};

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn owned_by(tags: &BTreeMap<String, String>, scope: &Scope) -> bool {
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
    }
}

/// States in which a resource is on its way out and no longer counts.
fn is_going(status: Option<&str>) -> bool {
    matches!(status, Some("deleting" | "deleted"))
}

impl AwsProvider {
    /// Reads every owned DB subnet group, cluster and DB instance, and the identifiers of this
    /// environment's naming that belong to someone else.
    pub(super) async fn read_rds(
        &self,
        scope: &Scope,
    ) -> Result<(Vec<LiveResource>, Vec<ForeignName>, Vec<Conflict>), ProviderError> {
        let (groups, clusters, instances) = tokio::try_join!(
            async {
                self.rds
                    .describe_db_subnet_groups()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "DB subnet groups"))
            },
            async {
                self.rds
                    .describe_db_clusters()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "DB clusters"))
            },
            async {
                self.rds
                    .describe_db_instances()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "DB instances"))
            },
        )?;

        let mut resources = Vec::new();
        let mut foreign = Vec::new();
        let mut conflicts = Vec::new();
        let mut unclear = |kind, id: &str, tags: &BTreeMap<String, String>| {
            if let Claim::Unclear(reason) = claim(tags, kind, scope) {
                conflicts.push(conflict(kind, id, tags.clone(), reason));
            }
        };
        let prefix = format!("{}-{}-", scope.project, scope.environment);
        let mut note_foreign = |kind, name: &str, tags: &BTreeMap<String, String>| {
            if name.starts_with(&prefix) {
                foreign.push(ForeignName {
                    kind,
                    name: name.to_string(),
                    id: name.to_string(),
                    owner: tags.get(TAG_PROJECT).map(|p| {
                        format!(
                            "{p}/{}",
                            tags.get(TAG_ENVIRONMENT).map_or("?", String::as_str)
                        )
                    }),
                });
            }
        };
        for group in groups {
            let name = group.db_subnet_group_name().unwrap_or_default();
            if !name.starts_with(&prefix) {
                continue;
            }
            let Some(arn) = group.db_subnet_group_arn() else {
                continue;
            };
            // A group deleted between the listing and this call is gone, not a failed read.
            let tags = match self.rds_tags_of(arn, name).await {
                Ok(tags) => tags,
                Err(ProviderError::NotFound { .. }) => continue,
                Err(other) => return Err(other),
            };
            if !owned_by(&tags, scope) {
                note_foreign(ResourceKind::DbSubnetGroup, name, &tags);
                unclear(ResourceKind::DbSubnetGroup, name, &tags);
                continue;
            }
            let Some(address) = address_from_tags(&tags, ResourceKind::DbSubnetGroup) else {
                continue;
            };
            resources.push(live(
                address,
                name.to_string(),
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
            ));
        }
        for cluster in clusters {
            let tags = tag_map(cluster.tag_list());
            if !owned_by(&tags, scope) {
                let name = cluster.db_cluster_identifier().unwrap_or_default();
                note_foreign(ResourceKind::DbCluster, name, &tags);
                unclear(ResourceKind::DbCluster, name, &tags);
                continue;
            }
            if is_going(cluster.status()) {
                continue;
            }
            let Some(address) = address_from_tags(&tags, ResourceKind::DbCluster) else {
                continue;
            };
            let mut fields = vec![
                ("engine", text(cluster.engine())),
                ("engine_version", text(cluster.engine_version())),
                ("subnet_group", text(cluster.db_subnet_group())),
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
            resources.push(live(
                address,
                cluster
                    .db_cluster_identifier()
                    .unwrap_or_default()
                    .to_string(),
                tags,
                fields,
            ));
        }
        for instance in instances {
            let tags = tag_map(instance.tag_list());
            if !owned_by(&tags, scope) {
                let name = instance.db_instance_identifier().unwrap_or_default();
                note_foreign(ResourceKind::DbInstance, name, &tags);
                unclear(ResourceKind::DbInstance, name, &tags);
                continue;
            }
            if is_going(instance.db_instance_status()) {
                continue;
            }
            let Some(address) = address_from_tags(&tags, ResourceKind::DbInstance) else {
                continue;
            };
            resources.push(live(
                address,
                instance
                    .db_instance_identifier()
                    .unwrap_or_default()
                    .to_string(),
                tags,
                vec![
                    ("cluster", text(instance.db_cluster_identifier())),
                    ("engine", text(instance.engine())),
                    ("instance_class", text(instance.db_instance_class())),
                ],
            ));
        }
        Ok((resources, foreign, conflicts))
    }

    async fn rds_tags_of(
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
    fn check_ours(
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

    pub(super) async fn create_db_subnet_group(
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

    pub(super) async fn update_db_subnet_group(
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

    /// The cluster with this identifier in whatever state, `deleting` included; `None` only
    /// once RDS no longer knows it.
    async fn cluster_named(
        &self,
        identifier: &str,
        what: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbCluster>, ProviderError> {
        let out = self
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(identifier)
            .send()
            .await
            .map_err(|e| classify(e, what));
        match out {
            Ok(out) => Ok(out.db_clusters().first().cloned()),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The DB instance with this identifier in whatever state; `None` once RDS no longer
    /// knows it.
    async fn db_instance_named(
        &self,
        identifier: &str,
        what: &str,
    ) -> Result<Option<aws_sdk_rds::types::DbInstance>, ProviderError> {
        let out = self
            .rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
            .map_err(|e| classify(e, what));
        match out {
            Ok(out) => Ok(out.db_instances().first().cloned()),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Waits until RDS no longer knows the cluster `identifier`.
    async fn wait_cluster_gone(
        &self,
        identifier: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let timeout = self.waits.of(ResourceKind::DbCluster);
        wait_until(
            &format!("{what} to be deleted"),
            timeout,
            self.waits.first_poll,
            progress,
            || async {
                Ok(match self.cluster_named(identifier, what).await? {
                    None => Poll::Ready,
                    Some(c) => Poll::Waiting(c.status().unwrap_or("deleting").to_string()),
                })
            },
        )
        .await
    }

    /// Waits until RDS no longer knows the DB instance `identifier`.
    async fn wait_db_instance_gone(
        &self,
        identifier: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let timeout = self.waits.of(ResourceKind::DbInstance);
        wait_until(
            &format!("{what} to be deleted"),
            timeout,
            self.waits.first_poll,
            progress,
            || async {
                Ok(match self.db_instance_named(identifier, what).await? {
                    None => Poll::Ready,
                    Some(i) => {
                        Poll::Waiting(i.db_instance_status().unwrap_or("deleting").to_string())
                    }
                })
            },
        )
        .await
    }

    pub(super) async fn create_db_cluster(
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
            let groups = field_ids(desired, "security_groups", ids)?;
            let username = field_str(desired, "master_username")?;
            let tags = rds_tags(&tags_to_apply(desired));
            self.create_once(
                &what,
                || async {
                    self.rds
                        .create_db_cluster()
                        .db_cluster_identifier(&identifier)
                        .engine(engine)
                        .engine_version(version)
                        .db_subnet_group_name(&subnet_group)
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

    pub(super) async fn update_db_cluster(
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

    pub(super) async fn create_db_instance(
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

    pub(super) async fn update_db_instance(
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

    /// Sets every desired tag and the applied digest on an RDS resource.
    pub(super) async fn tag_rds(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let arn = match live.kind {
            ResourceKind::DbCluster => self
                .cluster_named(&live.id, &what)
                .await?
                .and_then(|c| c.db_cluster_arn().map(str::to_string)),
            ResourceKind::DbInstance => self
                .db_instance_named(&live.id, &what)
                .await?
                .and_then(|i| i.db_instance_arn().map(str::to_string)),
            _ => self
                .rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(&live.id)
                .send()
                .await
                .map_err(|e| classify(e, &what))?
                .db_subnet_groups()
                .first()
                .and_then(|g| g.db_subnet_group_arn().map(str::to_string)),
        };
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

    pub(super) async fn delete_db_instance(
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

    pub(super) async fn delete_db_cluster(
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

    pub(super) async fn delete_db_subnet_group(
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

/// A live resource standing for one just adopted, whose id is its cloud name.
fn live_stub(desired: &DesiredResource) -> LiveResource {
    LiveResource {
        address: desired.address.clone(),
        kind: desired.kind,
        id: desired.cloud_name.clone(),
        tags: BTreeMap::new(),
        depends_on: Vec::new(),
        fields: BTreeMap::new(),
    }
}
