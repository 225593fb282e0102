//! DB cluster parameter groups: derived from a `db_cluster` that sets `parameters` (TLS
//! enforced, say); read by their names (the describe carries no tags, so only groups named
//! like this environment's are asked for theirs and for their settings), created in the
//! engine's family, their settings changed in place, deleted once no cluster uses them.
//!
//! Invariants: only settings the spec names are compared and changed (the read asks for the
//! user-set ones), a setting removed from the spec is reset to the engine's default, never
//! left behind; a setting is applied immediately, or at the next reboot when RDS refuses that
//! for a static one; a family change (an engine major upgrade) brings a new group up first,
//! under a fresh deterministic name while the old one still holds the plain name, so the
//! cluster moves to it in place before the old one is deleted; an existing group is adopted
//! only when its tags say it is this address's; its description is written at creation and
//! never compared (RDS cannot change it; an adopted group keeps its own).

use std::collections::BTreeMap;

use aws_sdk_rds::types::{ApplyMethod, Parameter};
use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    ResourceDiff, Scope, diff_fields,
};
use envctl_spec::{DesiredResource, ResourceKind, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::error::classify;
use crate::aws::once::rds_no_retry;
use crate::aws::rds::rds_tags;
use crate::aws::unless_unknown;
use crate::aws::wait::{Poll, wait_until};
use crate::aws::{AwsProvider, field_str, live, tags_to_apply, text};

/// The field holding the engine family.
const FAMILY: &str = "family";
/// The field holding the settings, as `name=value` texts.
const PARAMETERS: &str = "parameters";
/// RDS takes at most this many settings per ModifyDBClusterParameterGroup call.
const PER_CALL: usize = 20;

/// The `db_cluster_parameter_group` kind.
#[derive(Debug)]
pub(crate) struct DbClusterParameterGroup;

impl AwsKind for DbClusterParameterGroup {
    const KIND: ResourceKind = ResourceKind::DbClusterParameterGroup;
    const SERVICE: Service = Service::Rds;
    const FORCES_REPLACEMENT: &'static [&'static str] = &[FAMILY];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = None;
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
        // The cluster can only leave a group for another that exists: see `create`.
        ReplaceOrder::CreateBeforeDestroy
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let groups: Vec<_> = aws
            .rds
            .describe_db_cluster_parameter_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "DB cluster parameter groups"))?;
        let mut read = KindRead::default();
        for group in &groups {
            if scope.network.is_some()
                && group
                    .db_cluster_parameter_group_name()
                    .is_some_and(|n| n.starts_with("default."))
            {
                continue;
            }
            if let Some(resource) = Self::read_group(aws, &mut read, group, scope).await? {
                read.resources.push(resource);
            }
        }
        Ok(read)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        // The copy being replaced (another family) may still hold the plain name while its
        // cluster uses it: the new copy then takes a fresh, deterministic name.
        let mut name = desired.cloud_name.clone();
        if ids.get(&desired.address) == Some(&name) {
            let digest = envctl_engine::applied_digest(&desired.fields);
            name = format!("{name}-{}", &digest[digest.len().saturating_sub(8)..]);
        }
        let family = field_str(desired, FAMILY)?;
        let description = field_str(desired, "description")?;
        // A group already under the name (an interrupted run, or a create whose answer was
        // lost) is adopted when it is ours and refused otherwise.
        let adopt = || async {
            match aws.group_arn(&name, &what).await? {
                Some(arn) => {
                    let tags = aws.rds_tags_of(&arn, &what).await?;
                    AwsProvider::check_ours(desired, &tags, "DB cluster parameter group").map(Some)
                }
                None => Ok(None),
            }
        };
        let live_settings = if adopt().await?.is_some() {
            aws.user_settings(&name, &what).await?.unwrap_or_default()
        } else {
            let tags = rds_tags(&tags_to_apply(desired));
            aws.create_once(
                &what,
                crate::aws::pace::RDS,
                || async {
                    aws.rds
                        .create_db_cluster_parameter_group()
                        .db_cluster_parameter_group_name(&name)
                        .db_parameter_group_family(family)
                        .description(description)
                        .set_tags(Some(tags.clone()))
                        .customize()
                        .config_override(rds_no_retry())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify(e, &what))
                },
                adopt,
            )
            .await?;
            BTreeMap::new()
        };
        aws.sync_settings(
            &name,
            &settings_of(desired.field(PARAMETERS)),
            &live_settings,
            &what,
        )
        .await?;
        Ok(name)
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        _ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let Some(change) = changes.iter().find(|c| c.field == PARAMETERS) else {
            return Ok(());
        };
        aws.sync_settings(
            &live.id,
            &settings_of(change.desired.as_ref()),
            &settings_of(change.live.as_ref()),
            &desired.address.to_string(),
        )
        .await
    }

    async fn arn(aws: &AwsProvider, live: &LiveResource) -> Result<Option<String>, ProviderError> {
        aws.group_arn(&live.id, &live.address.to_string()).await
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        // A group stays in use while a cluster that used it has not moved off it or is
        // still deleting (a group gone already is done).
        wait_until(
            &format!("{what} to be free of DB clusters"),
            aws.waits.of(Self::KIND),
            aws.waits.first_poll,
            progress,
            || async {
                let result = aws
                    .rds
                    .delete_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(&live.id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, &what));
                match result {
                    Err(ProviderError::Rejected { code, .. })
                        if code == "InvalidDBParameterGroupState" =>
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

/// Settings by name from a `name=value` set.
fn settings_of(value: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::List(items)) = value else {
        return BTreeMap::new();
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|item| item.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Whether RDS refused to apply a static setting immediately.
fn needs_reboot(error: &ProviderError) -> bool {
    matches!(error, ProviderError::Rejected { code, message, .. }
        if (code == "InvalidParameterCombination" || code == "InvalidParameterValue")
            && message.to_lowercase().contains("immediate"))
}

impl DbClusterParameterGroup {
    /// The group listed as `group` when `scope` owns it.
    async fn read_group(
        aws: &AwsProvider,
        read: &mut KindRead,
        group: &aws_sdk_rds::types::DbClusterParameterGroup,
        scope: &Scope,
    ) -> Result<Option<LiveResource>, ProviderError> {
        let name = group.db_cluster_parameter_group_name().unwrap_or_default();
        let Some((address, tags)) = aws
            .rds_claim(
                read,
                Self::KIND,
                name,
                group.db_cluster_parameter_group_arn(),
                scope,
            )
            .await?
        else {
            return Ok(None);
        };
        Self::with_settings(aws, group, address, tags).await
    }

    /// The group called `name` (outside the environment's naming: adopted) when `scope` owns
    /// it; `None` when it is gone or someone else's.
    pub(crate) async fn read_named(
        aws: &AwsProvider,
        name: &str,
        scope: &Scope,
    ) -> Result<Option<LiveResource>, ProviderError> {
        let answer = aws
            .rds
            .describe_db_cluster_parameter_groups()
            .db_cluster_parameter_group_name(name)
            .send()
            .await;
        let Some(found) = crate::aws::error::found(answer, name)? else {
            return Ok(None);
        };
        let Some(group) = found.db_cluster_parameter_groups().first() else {
            return Ok(None);
        };
        let Some((address, tags)) = aws
            .rds_owned_by_tags(
                Self::KIND,
                name,
                group.db_cluster_parameter_group_arn(),
                scope,
            )
            .await?
        else {
            return Ok(None);
        };
        Self::with_settings(aws, group, address, tags).await
    }

    /// The live group, with its user-set settings (`None`: gone since it was listed).
    async fn with_settings(
        aws: &AwsProvider,
        group: &aws_sdk_rds::types::DbClusterParameterGroup,
        address: envctl_spec::Address,
        tags: std::collections::BTreeMap<String, String>,
    ) -> Result<Option<LiveResource>, ProviderError> {
        let name = group.db_cluster_parameter_group_name().unwrap_or_default();
        let Some(settings) = aws.user_settings(name, name).await? else {
            return Ok(None);
        };
        Ok(Some(live(
            address,
            name.to_string(),
            tags,
            vec![
                (FAMILY, text(group.db_parameter_group_family())),
                ("description", text(group.description())),
                (
                    PARAMETERS,
                    Value::string_set(settings.iter().map(|(k, v)| format!("{k}={v}"))),
                ),
            ],
        )))
    }
}

impl AwsProvider {
    /// The ARN of the group called `name`, `None` when RDS does not know it.
    async fn group_arn(&self, name: &str, what: &str) -> Result<Option<String>, ProviderError> {
        let out = self
            .rds
            .describe_db_cluster_parameter_groups()
            .db_cluster_parameter_group_name(name)
            .send()
            .await
            .map_err(|e| classify(e, what));
        Ok(unless_unknown(out)?.and_then(|out| {
            out.db_cluster_parameter_groups()
                .first()
                .and_then(|g| g.db_cluster_parameter_group_arn().map(str::to_string))
        }))
    }

    /// The settings set on group `name` (not the engine's defaults); `None` once it is gone.
    async fn user_settings(
        &self,
        name: &str,
        what: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let pages = self
            .rds
            .describe_db_cluster_parameters()
            .db_cluster_parameter_group_name(name)
            .source("user")
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, what));
        let Some(pages) = unless_unknown(pages)? else {
            return Ok(None);
        };
        Ok(Some(
            pages
                .iter()
                .flat_map(|page| page.parameters())
                .filter_map(|p| {
                    Some((
                        p.parameter_name()?.to_string(),
                        p.parameter_value()?.to_string(),
                    ))
                })
                .collect(),
        ))
    }

    /// Sets what `desired` has and `live` has otherwise, then resets what only `live` has.
    async fn sync_settings(
        &self,
        name: &str,
        desired: &BTreeMap<String, String>,
        live: &BTreeMap<String, String>,
        what: &str,
    ) -> Result<(), ProviderError> {
        let to_set: Vec<(&String, &String)> = desired
            .iter()
            .filter(|(key, value)| live.get(*key) != Some(*value))
            .collect();
        for chunk in to_set.chunks(PER_CALL) {
            let immediate = |method: ApplyMethod| -> Vec<Parameter> {
                chunk
                    .iter()
                    .map(|(key, value)| {
                        Parameter::builder()
                            .parameter_name(*key)
                            .parameter_value(*value)
                            .apply_method(method.clone())
                            .build()
                    })
                    .collect()
            };
            match self
                .modify_settings(name, immediate(ApplyMethod::Immediate), what)
                .await
            {
                Ok(()) => {}
                // A static setting in the batch: each then goes at once where it may, at the
                // next reboot where it must.
                Err(error) if needs_reboot(&error) => {
                    for (key, value) in chunk {
                        let one = |method: ApplyMethod| {
                            vec![
                                Parameter::builder()
                                    .parameter_name(*key)
                                    .parameter_value(*value)
                                    .apply_method(method)
                                    .build(),
                            ]
                        };
                        match self
                            .modify_settings(name, one(ApplyMethod::Immediate), what)
                            .await
                        {
                            Ok(()) => {}
                            Err(error) if needs_reboot(&error) => {
                                self.modify_settings(name, one(ApplyMethod::PendingReboot), what)
                                    .await?;
                            }
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(other) => return Err(other),
            }
        }
        let to_reset: Vec<&String> = live
            .keys()
            .filter(|key| !desired.contains_key(*key))
            .collect();
        for chunk in to_reset.chunks(PER_CALL) {
            let parameters: Vec<Parameter> = chunk
                .iter()
                .map(|key| {
                    Parameter::builder()
                        .parameter_name(*key)
                        .apply_method(ApplyMethod::PendingReboot)
                        .build()
                })
                .collect();
            self.rds
                .reset_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(parameters))
                .send()
                .await
                .map_err(|e| classify(e, what))?;
        }
        Ok(())
    }

    async fn modify_settings(
        &self,
        name: &str,
        parameters: Vec<Parameter>,
        what: &str,
    ) -> Result<(), ProviderError> {
        self.rds
            .modify_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .set_parameters(Some(parameters))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, what))
    }
}
