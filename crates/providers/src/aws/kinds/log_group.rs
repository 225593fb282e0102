//! CloudWatch Logs groups: read by the environment's name prefix (`/{project}/{env}/`, one
//! paginated describe) and their tags (one call per group found: the describe carries none),
//! created with their tags, retention and key changed in place, deleted.
//!
//! Invariants: the name is the id and is unique per account and region, so a create that
//! finds the name taken adopts the group only when its tags say it is this address's (a
//! retried create whose answer was lost lands there too) and otherwise refuses; a group under
//! the prefix that is not the environment's is a foreign name, never deleted; a group deleted
//! between the listing and the tag call is gone, not a failed read; a key removed from the
//! spec is disassociated, not left behind.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::LogGroup as LogGroupEntry;
use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    ResourceDiff, Scope, diff_fields,
};
use envctl_spec::{DesiredResource, ResourceKind, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::error::classify;
use crate::aws::{
    AwsProvider, claim_listed, gone_is_done, live, made_for, tags_to_apply, unless_unknown,
};

/// The field holding the retention, in days.
const RETENTION_DAYS: &str = "retention_days";
/// The field holding the KMS key ARN.
const KMS_KEY: &str = "kms_key";

/// The `log_group` kind.
#[derive(Debug)]
pub(crate) struct LogGroup;

/// The prefix of every log group name of `scope`'s environment.
fn path_prefix(scope: &Scope) -> String {
    format!("/{}/{}/", scope.project, scope.environment)
}

impl AwsKind for LogGroup {
    const KIND: ResourceKind = ResourceKind::LogGroup;
    const SERVICE: Service = Service::Logs;
    const FORCES_REPLACEMENT: &'static [&'static str] = &[];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = None;
    const IMPORTED: bool = true;

    fn diff(desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        let mut changes = diff_fields(desired, live, Self::FORCES_REPLACEMENT);
        if desired.field(KMS_KEY).is_none()
            && let Some(key) = live.fields.get(KMS_KEY)
        {
            changes.push(FieldChange {
                field: KMS_KEY.to_string(),
                live: Some(key.clone()),
                desired: None,
                forces_replacement: false,
            });
        }
        ResourceDiff {
            changes,
            notes: Vec::new(),
        }
    }

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        // Names are unique (and nothing forces a replacement anyway).
        ReplaceOrder::DestroyBeforeCreate
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let prefix = path_prefix(scope);
        let groups: Vec<_> = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&prefix)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "log groups"))?;
        let mut read = KindRead::default();
        let ours = claim_listed(
            &mut read,
            Self::KIND,
            scope,
            &prefix,
            &groups,
            group_name,
            |group| async move {
                match group.log_group_arn() {
                    Some(arn) => aws.log_group_tags(arn, group_name(group)).await,
                    None => Ok(None),
                }
            },
        )
        .await?;
        for (group, address, tags) in ours {
            let name = group_name(group);
            let mut fields = Vec::new();
            if let Some(days) = group.retention_in_days() {
                fields.push((RETENTION_DAYS, Value::Int(i64::from(days))));
            }
            if let Some(key) = group.kms_key_id() {
                fields.push((KMS_KEY, Value::Str(key.to_string())));
            }
            read.resources
                .push(live(address, name.to_string(), tags, fields));
        }
        Ok(read)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        _ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let name = &desired.cloud_name;
        let created = aws
            .logs
            .create_log_group()
            .log_group_name(name)
            .set_kms_key_id(
                desired
                    .field(KMS_KEY)
                    .and_then(Value::as_str)
                    .map(str::to_string),
            )
            .set_tags(Some(tags_to_apply(desired).into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify(e, &what));
        match created {
            Ok(_) => {}
            // A retried create whose first answer was lost, or an interrupted earlier run:
            // adopt the group if its tags say it is this address's.
            Err(ProviderError::AlreadyExists { .. }) => aws.adopt_log_group(desired).await?,
            Err(other) => return Err(other),
        }
        aws.put_retention(desired, name).await?;
        Ok(name.clone())
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        _ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        for change in changes {
            match change.field.as_str() {
                RETENTION_DAYS => aws.put_retention(desired, &live.id).await?,
                KMS_KEY => match change.desired.as_ref().and_then(Value::as_str) {
                    Some(key) => {
                        aws.logs
                            .associate_kms_key()
                            .log_group_name(&live.id)
                            .kms_key_id(key)
                            .send()
                            .await
                            .map_err(|e| classify(e, &what))?;
                    }
                    None => {
                        aws.logs
                            .disassociate_kms_key()
                            .log_group_name(&live.id)
                            .send()
                            .await
                            .map_err(|e| classify(e, &what))?;
                    }
                },
                _ => {}
            }
        }
        Ok(())
    }

    async fn arn(aws: &AwsProvider, live: &LiveResource) -> Result<Option<String>, ProviderError> {
        aws.log_group_arn(&live.id, &live.address.to_string()).await
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        gone_is_done(
            aws.logs
                .delete_log_group()
                .log_group_name(&live.id)
                .send()
                .await
                .map_err(|e| classify(e, &what)),
        )
    }
}

/// A listed group's name.
fn group_name(group: &LogGroupEntry) -> &str {
    group.log_group_name().unwrap_or_default()
}

impl AwsProvider {
    /// The tags of the group at `arn`; `None` once it is gone.
    async fn log_group_tags(
        &self,
        arn: &str,
        what: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        // `logGroupArn` has no `:*` suffix, which is what tagging by ARN wants.
        let answer = self
            .logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| classify(e, what));
        Ok(unless_unknown(answer)?.map(|out| {
            out.tags()
                .map(|tags| tags.clone().into_iter().collect())
                .unwrap_or_default()
        }))
    }

    /// The ARN of the group called `name` (`None` once it is gone).
    async fn log_group_arn(&self, name: &str, what: &str) -> Result<Option<String>, ProviderError> {
        let out = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .send()
            .await
            .map_err(|e| classify(e, what))?;
        Ok(out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
            .and_then(|g| g.log_group_arn().map(str::to_string)))
    }

    /// Takes over the group an earlier attempt created under the desired name, if its tags
    /// say it is this address's; refuses it otherwise.
    async fn adopt_log_group(&self, desired: &DesiredResource) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let name = &desired.cloud_name;
        let not_ours = || ProviderError::AlreadyExists {
            what: format!("log group `{name}` (not created by envctl for {what})"),
        };
        let arn = self
            .log_group_arn(name, &what)
            .await?
            .ok_or_else(not_ours)?;
        let tags = self.log_group_tags(&arn, &what).await?.unwrap_or_default();
        if !made_for(&tags, desired) {
            return Err(not_ours());
        }
        if let Some(key) = desired.field(KMS_KEY).and_then(Value::as_str) {
            self.logs
                .associate_kms_key()
                .log_group_name(name)
                .kms_key_id(key)
                .send()
                .await
                .map_err(|e| classify(e, &what))?;
        }
        Ok(())
    }

    /// Sets the group's retention to the desired number of days.
    async fn put_retention(
        &self,
        desired: &DesiredResource,
        name: &str,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let Some(days) = desired.field(RETENTION_DAYS).and_then(Value::as_int) else {
            return Ok(());
        };
        let days = i32::try_from(days).map_err(|_| ProviderError::Rejected {
            code: "InvalidParameterException".into(),
            message: format!("{what}: {days} days is not a retention CloudWatch Logs accepts"),
            request_id: None,
        })?;
        self.logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        Ok(())
    }

    /// Writes the desired tags and the applied digest on the group at `arn`.
    pub(super) async fn tag_log_group(
        &self,
        desired: &DesiredResource,
        arn: Option<String>,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let arn = arn.ok_or_else(|| ProviderError::NotFound { what: what.clone() })?;
        self.logs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags_to_apply(desired).into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        Ok(())
    }
}
