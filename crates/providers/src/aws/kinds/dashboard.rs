//! CloudWatch dashboards: read by the environment's name prefix (`{project}-{env}-`, one
//! paginated `ListDashboards`) and their bodies (one `GetDashboard` each), written whole with
//! `PutDashboard`, deleted.
//!
//! Invariants: dashboards carry no tags in AWS, so ownership is the name: every dashboard
//! named `{project}-{env}-NAME` is the environment's `dashboard.NAME` (names of another
//! environment of the spec whose name extends this one's, `staging-eu` beside `staging`, are
//! left to it), and a dashboard under that naming that the spec does not declare is an
//! orphan like any other. A body is compared in the spec's canonical form: once every kind
//! is read, a live body is parsed and each array that is exactly the ids of an owned
//! `instance.NAME` (in index order) becomes `"${ids:instance.NAME}"`, each string that is
//! exactly an owned cluster's identifier `"${id:db_cluster.NAME}"`, and what they name goes
//! in `instances` and `db_clusters`; a body that is not JSON stays as it is (and differs).
//! Writing does the reverse with the ids the apply knows.

use std::collections::BTreeMap;

use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    ResourceDiff, Scope, TAGS_FIELD, diff_fields,
};
use envctl_spec::{Address, DesiredResource, ResourceKind, Value};
use serde_json::Value as Json;

use super::{AwsKind, KindRead, Service};
use crate::aws::error::classify;
use crate::aws::{AwsProvider, field_ids, field_str, gone_is_done, live, unless_unknown};

const BODY: &str = "body";
const INSTANCES: &str = "instances";
const DB_CLUSTERS: &str = "db_clusters";

/// The `dashboard` kind.
#[derive(Debug)]
pub(crate) struct Dashboard;

impl AwsKind for Dashboard {
    const KIND: ResourceKind = ResourceKind::Dashboard;
    const SERVICE: Service = Service::CloudWatch;
    const FORCES_REPLACEMENT: &'static [&'static str] = &[];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[
        (INSTANCES, ResourceKind::Instance),
        (DB_CLUSTERS, ResourceKind::DbCluster),
    ];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = None;

    fn diff(desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        // Dashboards carry no tags: the spec's tags are never missing from one.
        let mut changes = diff_fields(desired, live, Self::FORCES_REPLACEMENT);
        changes.retain(|change| change.field != TAGS_FIELD);
        // A body differs where its JSON does: one change per path (`body.widgets[0].x`),
        // rather than two walls of text.
        let parsed = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .and_then(|text| serde_json::from_str::<Json>(text).ok())
        };
        if let Some(at) = changes.iter().position(|c| c.field == BODY)
            && let (Some(spec), Some(cloud)) =
                (parsed(desired.field(BODY)), parsed(live.fields.get(BODY)))
        {
            let mut paths = Vec::new();
            json_differences(BODY.to_string(), Some(&cloud), Some(&spec), &mut paths);
            if !paths.is_empty() {
                changes.splice(at..=at, paths);
            }
        }
        ResourceDiff {
            changes,
            notes: Vec::new(),
        }
    }

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        ReplaceOrder::DestroyBeforeCreate
    }

    fn repointable_fields(target: ResourceKind) -> &'static [&'static str] {
        // A body is rewritten whole: it moves to a new copy of what it shows in place.
        match target {
            ResourceKind::Instance => &[INSTANCES],
            ResourceKind::DbCluster => &[DB_CLUSTERS],
            _ => &[],
        }
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let prefix = format!("{}-{}-", scope.project, scope.environment);
        // Another environment's prefix that starts with this one's (`webapp-staging-eu-`).
        let others: Vec<String> = scope
            .known_environments
            .iter()
            .filter(|e| **e != scope.environment)
            .map(|e| format!("{}-{e}-", scope.project))
            .filter(|other| other.starts_with(&prefix))
            .collect();
        let pages: Vec<_> = aws
            .cloudwatch
            .list_dashboards()
            .dashboard_name_prefix(&prefix)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "dashboards"))?;
        let names: Vec<String> = pages
            .iter()
            .flat_map(|page| page.dashboard_entries().iter())
            .filter_map(|entry| entry.dashboard_name())
            .filter(|name| !others.iter().any(|other| name.starts_with(other.as_str())))
            .map(str::to_string)
            .collect();
        let bodies =
            futures::future::try_join_all(names.iter().map(|name| aws.dashboard_body(name)))
                .await?;
        let mut read = KindRead::default();
        for (name, body) in names.iter().zip(bodies) {
            // Deleted between the listing and the read: gone.
            let Some(body) = body else {
                continue;
            };
            let Some(own) = name.strip_prefix(&prefix) else {
                continue;
            };
            let address = Address::new(ResourceKind::Dashboard, own);
            read.resources.push(live(
                address,
                name.clone(),
                BTreeMap::new(),
                vec![(BODY, Value::Str(body))],
            ));
        }
        Ok(read)
    }

    fn settle(live: &mut LiveResource, owned: &[(Address, String)]) {
        let Some(Value::Str(body)) = live.fields.get(BODY) else {
            return;
        };
        let Ok(mut json) = serde_json::from_str::<Json>(body) else {
            live.fields
                .insert(INSTANCES.into(), Value::List(Vec::new()));
            live.fields
                .insert(DB_CLUSTERS.into(), Value::List(Vec::new()));
            return;
        };
        let mut groups: BTreeMap<&str, Vec<(u32, &Address, &str)>> = BTreeMap::new();
        let mut clusters: Vec<(&Address, &str)> = Vec::new();
        for (address, id) in owned {
            match (address.kind, address.index) {
                (ResourceKind::Instance, Some(index)) => groups
                    .entry(address.name.as_str())
                    .or_default()
                    .push((index, address, id)),
                (ResourceKind::DbCluster, _) => clusters.push((address, id)),
                _ => {}
            }
        }
        let groups: Vec<(&str, Vec<&Address>, Vec<&str>)> = groups
            .into_iter()
            .map(|(name, mut members)| {
                members.sort_by_key(|(index, _, _)| *index);
                let addresses = members.iter().map(|(_, a, _)| *a).collect();
                let ids = members.iter().map(|(_, _, id)| *id).collect();
                (name, addresses, ids)
            })
            .collect();
        let mut instances = Vec::new();
        let mut named_clusters = Vec::new();
        template(
            &mut json,
            &groups,
            &clusters,
            &mut instances,
            &mut named_clusters,
        );
        live.fields
            .insert(BODY.into(), Value::Str(json.to_string()));
        live.fields.insert(INSTANCES.into(), Value::set(instances));
        live.fields
            .insert(DB_CLUSTERS.into(), Value::set(named_clusters));
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        // `PutDashboard` creates or overwrites: a retried create writes the same body again.
        aws.put_dashboard(desired, ids).await?;
        Ok(desired.cloud_name.clone())
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
            aws.put_dashboard(desired, ids).await?;
        }
        Ok(())
    }

    async fn tag(
        _aws: &AwsProvider,
        _desired: &DesiredResource,
        _live: &LiveResource,
    ) -> Result<(), ProviderError> {
        // Dashboards carry no tags: the name is the ownership.
        Ok(())
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
                .delete_dashboards()
                .dashboard_names(&live.id)
                .send()
                .await
                .map_err(|e| classify(e, &what)),
        )
    }
}

/// At most this many paths of a body are told apart; the rest are one change.
const MAX_BODY_PATHS: usize = 20;

/// One change per JSON path where `live` and `desired` differ, under `path`.
fn json_differences(
    path: String,
    live: Option<&Json>,
    desired: Option<&Json>,
    out: &mut Vec<FieldChange>,
) {
    if live == desired {
        return;
    }
    if out.len() >= MAX_BODY_PATHS {
        if out.len() == MAX_BODY_PATHS {
            out.push(FieldChange {
                field: format!("{BODY} (more)"),
                live: None,
                desired: Some(Value::Str("further differences".into())),
                forces_replacement: false,
            });
        }
        return;
    }
    match (live, desired) {
        (Some(Json::Object(a)), Some(Json::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                json_differences(format!("{path}.{key}"), a.get(key), b.get(key), out);
            }
        }
        (Some(Json::Array(a)), Some(Json::Array(b))) => {
            for index in 0..a.len().max(b.len()) {
                json_differences(format!("{path}[{index}]"), a.get(index), b.get(index), out);
            }
        }
        _ => out.push(FieldChange {
            field: path,
            live: live.map(json_value),
            desired: desired.map(json_value),
            forces_replacement: false,
        }),
    }
}

/// A JSON leaf as a field value (objects and arrays as their compact text).
fn json_value(json: &Json) -> Value {
    match json {
        Json::String(text) => Value::Str(text.clone()),
        Json::Bool(flag) => Value::Bool(*flag),
        Json::Number(number) => number
            .as_f64()
            .and_then(Value::number)
            .unwrap_or_else(|| Value::Str(number.to_string())),
        other => Value::Str(other.to_string()),
    }
}

/// Writes `json` in the spec's canonical form (see the module notes), collecting what its
/// placeholders name.
fn template(
    json: &mut Json,
    groups: &[(&str, Vec<&Address>, Vec<&str>)],
    clusters: &[(&Address, &str)],
    instances: &mut Vec<Value>,
    named_clusters: &mut Vec<Value>,
) {
    match json {
        Json::Array(items) => {
            let texts: Option<Vec<&str>> = items.iter().map(Json::as_str).collect();
            let group = texts.and_then(|texts| {
                groups
                    .iter()
                    .find(|(_, _, ids)| !ids.is_empty() && *ids == texts)
            });
            match group {
                Some((name, addresses, _)) => {
                    instances.extend(addresses.iter().map(|a| Value::Ref((*a).clone())));
                    *json = Json::String(format!("${{ids:instance.{name}}}"));
                }
                None => {
                    for item in items {
                        template(item, groups, clusters, instances, named_clusters);
                    }
                }
            }
        }
        Json::String(text) => {
            if let Some((address, _)) = clusters.iter().find(|(_, id)| id == text) {
                named_clusters.push(Value::Ref((*address).clone()));
                *text = format!("${{id:db_cluster.{}}}", address.name);
            }
        }
        Json::Object(map) => {
            for (_, item) in map.iter_mut() {
                template(item, groups, clusters, instances, named_clusters);
            }
        }
        _ => {}
    }
}

/// The desired body with the ids filled in: each `"${ids:instance.NAME}"` the array of the
/// instances' ids, each `${id:db_cluster.NAME}` the cluster's identifier.
fn render(desired: &DesiredResource, ids: &CloudIds) -> Result<String, ProviderError> {
    let body = field_str(desired, BODY)?;
    let mut json: Json = serde_json::from_str(body).map_err(|error| ProviderError::Rejected {
        code: "InvalidParameterInput".into(),
        message: format!("{}: the body is not JSON: {error}", desired.address),
        request_id: None,
    })?;
    let mut instances: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    if let Some(Value::List(items)) = desired.field(INSTANCES) {
        for (item, id) in items.iter().zip(field_ids(desired, INSTANCES, ids)?) {
            if let Some(address) = item.as_ref() {
                instances
                    .entry(address.name.clone())
                    .or_default()
                    .push((address.index.unwrap_or_default(), id));
            }
        }
    }
    let mut clusters: BTreeMap<String, String> = BTreeMap::new();
    if let Some(Value::List(items)) = desired.field(DB_CLUSTERS) {
        for (item, id) in items.iter().zip(field_ids(desired, DB_CLUSTERS, ids)?) {
            if let Some(address) = item.as_ref() {
                clusters.insert(address.name.clone(), id);
            }
        }
    }
    fill(&mut json, &instances, &clusters);
    Ok(json.to_string())
}

fn fill(
    json: &mut Json,
    instances: &BTreeMap<String, Vec<(u32, String)>>,
    clusters: &BTreeMap<String, String>,
) {
    match json {
        Json::String(text) => {
            if let Some(name) = text
                .strip_prefix("${ids:instance.")
                .and_then(|rest| rest.strip_suffix('}'))
            {
                let mut members = instances.get(name).cloned().unwrap_or_default();
                members.sort();
                *json = Json::Array(
                    members
                        .into_iter()
                        .map(|(_, id)| Json::String(id))
                        .collect(),
                );
                return;
            }
            for (name, id) in clusters {
                let placeholder = format!("${{id:db_cluster.{name}}}");
                if text.contains(&placeholder) {
                    *text = text.replace(&placeholder, id);
                }
            }
        }
        Json::Array(items) => {
            for item in items {
                fill(item, instances, clusters);
            }
        }
        Json::Object(map) => {
            for (_, item) in map.iter_mut() {
                fill(item, instances, clusters);
            }
        }
        _ => {}
    }
}

impl AwsProvider {
    /// The body of dashboard `name`; `None` once it is gone.
    async fn dashboard_body(&self, name: &str) -> Result<Option<String>, ProviderError> {
        let answer = self
            .cloudwatch
            .get_dashboard()
            .dashboard_name(name)
            .send()
            .await
            .map_err(|e| classify(e, name));
        Ok(unless_unknown(answer)?.map(|out| out.dashboard_body().unwrap_or_default().to_string()))
    }

    /// Writes the desired body, ids filled in, under the dashboard's name.
    async fn put_dashboard(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let body = render(desired, ids)?;
        let out = self
            .cloudwatch
            .put_dashboard()
            .dashboard_name(&desired.cloud_name)
            .dashboard_body(body)
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        // CloudWatch keeps a body it has doubts about and says so: those doubts are errors
        // here, so that a dashboard is never left half right without anyone being told.
        let doubts: Vec<String> = out
            .dashboard_validation_messages()
            .iter()
            .map(|m| {
                format!(
                    "{}: {}",
                    m.data_path().unwrap_or("body"),
                    m.message().unwrap_or_default()
                )
            })
            .collect();
        if !doubts.is_empty() {
            return Err(ProviderError::Rejected {
                code: "InvalidParameterInput".into(),
                message: format!("{what}: CloudWatch doubts the body: {}", doubts.join("; ")),
                request_id: None,
            });
        }
        Ok(())
    }
}
