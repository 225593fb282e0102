//! CloudWatch metric alarms: read by the environment's name prefix (`{project}-{env}-`, one
//! paginated `DescribeAlarms`) and their tags (the describe carries none: one paginated
//! `tag:GetResources` for the environment's alarms, whatever their number, and a
//! `ListTagsForResource` only for an alarm that listing does not name: a foreign alarm under
//! the prefix, or one so new the tagging index has not caught up), created with their tags,
//! rewritten whole in place, deleted.
//!
//! Invariants: the name is the id and is unique per account and region; `PutMetricAlarm`
//! creates or overwrites whatever has the name, so a create first looks the name up and
//! takes an alarm over only when its tags say it is this address's (a retried create whose
//! answer was lost, an interrupted run) and otherwise refuses, never overwriting someone
//! else's alarm; an update writes the whole desired definition (the call replaces every
//! field it is not given); an alarm under the prefix that is not the environment's is a
//! foreign name, never deleted or overwritten. What an alarm watches is read from its one
//! dimension (`InstanceId`, `DBClusterIdentifier`) into the `instance` or `db_cluster`
//! reference; comparisons are shown as the spec writes them (`>`), and an operator the spec
//! cannot write stays as CloudWatch names it, so it shows as a difference.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag,
};
use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    Scope,
};
use envctl_spec::{DesiredResource, ResourceKind, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::batch::Fetch;
use crate::aws::error::classify;
use crate::aws::{
    AwsProvider, claim_listed, field_id, field_str, gone_is_done, live, made_for, tags_to_apply,
    unless_unknown,
};
use futures::FutureExt;

const NAMESPACE: &str = "namespace";
const METRIC: &str = "metric";
const STATISTIC: &str = "statistic";
const COMPARISON: &str = "comparison";
const THRESHOLD: &str = "threshold";
const PERIOD: &str = "period";
const EVALUATION_PERIODS: &str = "evaluation_periods";
const ACTIONS: &str = "actions";
/// The reference to the instance watched (dimension `InstanceId`).
const INSTANCE: &str = "instance";
/// The reference to the cluster watched (dimension `DBClusterIdentifier`).
const DB_CLUSTER: &str = "db_cluster";

/// The dimension each reference field is written as.
const DIMENSIONS: [(&str, &str); 2] = [
    (INSTANCE, "InstanceId"),
    (DB_CLUSTER, "DBClusterIdentifier"),
];

/// The spec's comparisons and CloudWatch's operators for them.
const COMPARISONS: [(&str, ComparisonOperator); 4] = [
    (">", ComparisonOperator::GreaterThanThreshold),
    (">=", ComparisonOperator::GreaterThanOrEqualToThreshold),
    ("<", ComparisonOperator::LessThanThreshold),
    ("<=", ComparisonOperator::LessThanOrEqualToThreshold),
];

/// The `alarm` kind.
#[derive(Debug)]
pub(crate) struct Alarm;

impl AwsKind for Alarm {
    const KIND: ResourceKind = ResourceKind::Alarm;
    const SERVICE: Service = Service::CloudWatch;
    const FORCES_REPLACEMENT: &'static [&'static str] = &[];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[
        (INSTANCE, ResourceKind::Instance),
        (DB_CLUSTER, ResourceKind::DbCluster),
    ];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = None;

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        // Names are unique (and nothing forces a replacement anyway).
        ReplaceOrder::DestroyBeforeCreate
    }

    fn repointable_fields(target: ResourceKind) -> &'static [&'static str] {
        // An alarm is rewritten whole: it moves to a new copy of what it watches in place.
        match target {
            ResourceKind::Instance => &[INSTANCE],
            ResourceKind::DbCluster => &[DB_CLUSTER],
            _ => &[],
        }
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let prefix = format!("{}-{}-", scope.project, scope.environment);
        let pages: Vec<_> = aws
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            .alarm_types(AlarmType::MetricAlarm)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "alarms"))?;
        let alarms: Vec<MetricAlarm> = pages
            .iter()
            .flat_map(|page| page.metric_alarms().iter().cloned())
            .collect();
        let indexed = if alarms.is_empty() {
            BTreeMap::new()
        } else {
            aws.indexed_alarm_tags(scope).await?
        };
        let indexed = &indexed;
        let mut read = KindRead::default();
        let ours = claim_listed(
            &mut read,
            Self::KIND,
            scope,
            &prefix,
            &alarms,
            alarm_name,
            |alarm| async move {
                match alarm.alarm_arn() {
                    Some(arn) => match indexed.get(arn) {
                        Some(tags) => Ok(Some(tags.clone())),
                        None => aws.alarm_tags(arn, alarm_name(alarm)).await,
                    },
                    None => Ok(None),
                }
            },
        )
        .await?;
        for (alarm, address, tags) in ours {
            read.resources.push(live(
                address,
                alarm_name(alarm).to_string(),
                tags,
                fields_of(alarm),
            ));
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
        let name = &desired.cloud_name;
        // `PutMetricAlarm` overwrites whatever has the name: look first.
        if let Some(arn) = aws.alarm_arn(name, &what).await? {
            let tags = aws.alarm_tags(&arn, &what).await?.unwrap_or_default();
            if !made_for(&tags, desired) {
                return Err(ProviderError::AlreadyExists {
                    what: format!("alarm `{name}` (not created by envctl for {what})"),
                });
            }
        }
        aws.put_alarm(desired, ids, true).await?;
        Ok(name.clone())
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        _live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        if !changes.is_empty() {
            aws.put_alarm(desired, ids, false).await?;
        }
        Ok(())
    }

    async fn arn(aws: &AwsProvider, live: &LiveResource) -> Result<Option<String>, ProviderError> {
        aws.alarm_arn(&live.id, &live.address.to_string()).await
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        gone_is_done(
            aws.cloudwatch
                .delete_alarms()
                .alarm_names(&live.id)
                .send()
                .await
                .map_err(|e| classify(e, &what)),
        )
    }
}

/// The desired tags and the applied digest, as CloudWatch takes them.
fn alarm_tags_of(desired: &DesiredResource) -> Vec<Tag> {
    tags_to_apply(desired)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A listed alarm's name.
fn alarm_name(alarm: &MetricAlarm) -> &str {
    alarm.alarm_name().unwrap_or_default()
}

/// The fields of a live alarm, its dimension still a cloud id.
fn fields_of(alarm: &MetricAlarm) -> Vec<(&'static str, Value)> {
    let text = |value: Option<&str>| Value::Str(value.unwrap_or_default().to_string());
    let mut fields = vec![
        (NAMESPACE, text(alarm.namespace())),
        (METRIC, text(alarm.metric_name())),
        (STATISTIC, text(alarm.statistic().map(Statistic::as_str))),
        (
            COMPARISON,
            text(alarm.comparison_operator().map(|operator| {
                COMPARISONS
                    .iter()
                    .find(|(_, known)| known == operator)
                    .map_or(operator.as_str(), |(symbol, _)| symbol)
            })),
        ),
        (
            PERIOD,
            Value::Int(i64::from(alarm.period().unwrap_or_default())),
        ),
        (
            EVALUATION_PERIODS,
            Value::Int(i64::from(alarm.evaluation_periods().unwrap_or_default())),
        ),
    ];
    if let Some(threshold) = alarm.threshold().and_then(Value::number) {
        fields.push((THRESHOLD, threshold));
    }
    if !alarm.alarm_actions().is_empty() {
        fields.push((
            ACTIONS,
            Value::string_set(alarm.alarm_actions().iter().cloned()),
        ));
    }
    for dimension in alarm.dimensions() {
        if let Some((field, _)) = DIMENSIONS
            .iter()
            .find(|(_, name)| dimension.name() == Some(*name))
        {
            fields.push((field, text(dimension.value())));
        }
    }
    fields
}

impl AwsProvider {
    /// The ARN of alarm `name`; `None` when there is none. Lookups of alarms being made at
    /// once share their describes (see `batch`): one per 100 names, the most one takes.
    async fn alarm_arn(&self, name: &str, what: &str) -> Result<Option<String>, ProviderError> {
        let cloudwatch = self.cloudwatch.clone();
        let what = what.to_string();
        let fetch: Fetch<String> = Box::new(move |names: Vec<String>| {
            async move {
                let mut arns = BTreeMap::new();
                for chunk in names.chunks(100) {
                    let pages: Vec<_> = cloudwatch
                        .describe_alarms()
                        .set_alarm_names(Some(chunk.to_vec()))
                        .alarm_types(AlarmType::MetricAlarm)
                        .into_paginator()
                        .send()
                        .try_collect()
                        .await
                        .map_err(|e| classify(e, &what))?;
                    for alarm in pages.iter().flat_map(|p| p.metric_alarms()) {
                        if let (Some(name), Some(arn)) = (alarm.alarm_name(), alarm.alarm_arn()) {
                            arns.insert(name.to_string(), arn.to_string());
                        }
                    }
                }
                Ok(arns)
            }
            .boxed()
        });
        self.alarm_arns.get(name, fetch).await
    }

    /// The tags of the environment's alarms by ARN, from the Resource Groups Tagging API (one
    /// paginated listing, filtered by the project and environment tags; a page holds at most
    /// 500 tags, so one call per 60 alarms or so). Empty when the
    /// credentials may not use that API (`tag:GetResources`): every alarm's tags are then read
    /// one by one. The index can lag behind a tag change by a few seconds; an alarm it does not
    /// name is read by [`AwsProvider::alarm_tags`].
    async fn indexed_alarm_tags(
        &self,
        scope: &Scope,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, ProviderError> {
        let filter = |key: &str, value: &str| {
            aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                .key(key)
                .values(value)
                .build()
        };
        let pages: Result<Vec<_>, _> = self
            .tagging
            .get_resources()
            .resource_type_filters("cloudwatch:alarm")
            // The most a page takes (100 by default): an alarm carries 8 tags or so, so a page
            // holds about 60 alarms instead of 12.
            .tags_per_page(500)
            .tag_filters(filter(envctl_spec::TAG_PROJECT, &scope.project))
            .tag_filters(filter(envctl_spec::TAG_ENVIRONMENT, &scope.environment))
            .into_paginator()
            .send()
            .try_collect()
            .await;
        let pages = match pages.map_err(|e| classify(e, "the tags of the alarms")) {
            Ok(pages) => pages,
            Err(ProviderError::Rejected { code, .. }) if code.contains("AccessDenied") => {
                return Ok(BTreeMap::new());
            }
            Err(other) => return Err(other),
        };
        Ok(pages
            .iter()
            .flat_map(|page| page.resource_tag_mapping_list())
            .filter_map(|mapping| {
                let tags = mapping
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect();
                Some((mapping.resource_arn()?.to_string(), tags))
            })
            .collect())
    }

    /// The tags of the alarm at `arn`; `None` once it is gone.
    async fn alarm_tags(
        &self,
        arn: &str,
        what: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let answer = self
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| classify(e, what));
        Ok(unless_unknown(answer)?.map(|out| {
            out.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect()
        }))
    }

    /// Writes the whole desired alarm under its name, with its tags when `with_tags` (the
    /// call ignores tags on an alarm that exists: [`AwsProvider::tag_alarm`] writes those).
    async fn put_alarm(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
        with_tags: bool,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let rejected = |message: String| ProviderError::Rejected {
            code: "InvalidParameterValue".into(),
            message: format!("{what}: {message}"),
            request_id: None,
        };
        let comparison = field_str(desired, COMPARISON)?;
        let operator = COMPARISONS
            .iter()
            .find(|(symbol, _)| *symbol == comparison)
            .map(|(_, operator)| operator.clone())
            .ok_or_else(|| rejected(format!("`{comparison}` is not a comparison")))?;
        let statistic = Statistic::from(field_str(desired, STATISTIC)?);
        let threshold = desired
            .field(THRESHOLD)
            .and_then(Value::as_f64)
            .ok_or_else(|| rejected("no `threshold`".into()))?;
        let int = |field: &str| {
            desired
                .field(field)
                .and_then(Value::as_int)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| rejected(format!("no `{field}`")))
        };
        let mut dimensions = Vec::new();
        for (field, name) in DIMENSIONS {
            if desired.field(field).is_some() {
                dimensions.push(
                    Dimension::builder()
                        .name(name)
                        .value(field_id(desired, field, ids)?)
                        .build(),
                );
            }
        }
        let actions: Vec<String> = match desired.field(ACTIONS) {
            Some(Value::List(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(&desired.cloud_name)
            .namespace(field_str(desired, NAMESPACE)?)
            .metric_name(field_str(desired, METRIC)?)
            .statistic(statistic)
            .comparison_operator(operator)
            .threshold(threshold)
            .period(int(PERIOD)?)
            .evaluation_periods(int(EVALUATION_PERIODS)?)
            .set_dimensions(Some(dimensions))
            .set_alarm_actions(Some(actions))
            .set_tags(with_tags.then(|| alarm_tags_of(desired)))
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        Ok(())
    }

    /// Writes the desired tags and the applied digest on the alarm at `arn`.
    pub(super) async fn tag_alarm(
        &self,
        desired: &DesiredResource,
        arn: Option<String>,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let arn = arn.ok_or_else(|| ProviderError::NotFound { what: what.clone() })?;
        self.cloudwatch
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(alarm_tags_of(desired)))
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        Ok(())
    }
}
