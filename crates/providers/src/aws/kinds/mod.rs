//! One module per resource kind, one trait they all implement, one table that dispatches.
//!
//! Owns [`AwsKind`] (what the provider needs of a kind: how it is read by its ownership tags,
//! created, updated, tagged and deleted; which fields force a replacement and in which order
//! a replacement goes; which fields reference other kinds and which one places a resource in
//! its environment; which service's API it lives in) and [`dispatch!`], the table mapping a
//! [`ResourceKind`] to its module. Invariants: the table is one exhaustive `match`, so adding a
//! kind to `ResourceKind` fails to compile until its module is listed here, and nothing else in
//! the provider matches over kinds; each kind's read makes one paginated describe of its own
//! (plus, for a few, one follow-up call for all resources at once), and the provider runs all
//! kinds' reads concurrently.

pub(super) mod alarm;
pub(super) mod dashboard;
pub(super) mod db_cluster;
pub(super) mod db_cluster_parameter_group;
pub(super) mod db_instance;
pub(super) mod db_subnet_group;
pub(super) mod instance;
pub(super) mod log_group;
pub(super) mod parameter;
pub(super) mod security_group;
pub(super) mod subnet;
pub(super) mod vpc;

use std::future::Future;

use envctl_engine::{
    CloudIds, Conflict, DeleteOptions, FieldChange, ForeignName, LiveResource, Progress,
    ProviderError, ReplaceOrder, ResourceDiff, Scope, diff_fields,
};
use envctl_spec::{Address, DesiredResource, ResourceKind};

use super::AwsProvider;

/// The AWS API a kind's resources live in: it decides how they are tagged and how long the
/// provider waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Ec2,
    Rds,
    /// CloudWatch Logs.
    Logs,
    /// Systems Manager (Parameter Store).
    Ssm,
    /// CloudWatch (alarms, dashboards).
    CloudWatch,
}

/// What one kind's read found for one environment.
#[derive(Debug, Default)]
pub(crate) struct KindRead {
    /// Resources whose tags say they are the environment's (placement is proven later).
    pub resources: Vec<LiveResource>,
    /// Resources tagged for the project whose owner cannot be told.
    pub conflicts: Vec<Conflict>,
    /// Unique names of this environment's naming held by someone else.
    pub foreign_names: Vec<ForeignName>,
}

/// Everything the AWS provider does with resources of one kind.
///
/// Methods take the provider (its clients, waits and retry settings) rather than `self`: a
/// kind is a type, not a value.
pub(super) trait AwsKind {
    /// The kind this module implements.
    const KIND: ResourceKind;
    /// The service whose API holds its resources.
    const SERVICE: Service;
    /// Fields whose change AWS cannot make in place.
    const FORCES_REPLACEMENT: &'static [&'static str];
    /// Fields holding references to other resources, with the kind each points at. Read as
    /// cloud ids, they are resolved to addresses after all kinds are read.
    const REFERENCES: &'static [(&'static str, ResourceKind)];
    /// The reference that places a resource in its environment (a subnet in its VPC): a
    /// resource tagged for the environment whose placement does not resolve to one of the
    /// environment's resources is a conflict, not the environment's.
    const PLACEMENT: Option<(&'static str, ResourceKind)>;
    /// Whether an import reads it ([`Scope::network`]): its resources live inside a VPC, or
    /// belong to something that does, or are named under the environment's path.
    const IMPORTED: bool = false;

    /// How the live resource departs from the desired one.
    fn diff(desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        ResourceDiff {
            changes: diff_fields(desired, live, Self::FORCES_REPLACEMENT),
            notes: Vec::new(),
        }
    }

    /// Whether a replacement creates the new copy before destroying the old one.
    fn replace_order(desired: &DesiredResource, live: &LiveResource) -> ReplaceOrder;

    /// The fields of a resource of this kind that reference a resource of `target` and that
    /// AWS can move to another one in place (none unless the kind says so).
    fn repointable_fields(_target: ResourceKind) -> &'static [&'static str] {
        &[]
    }

    /// Reads the environment's resources of this kind (see [`KindRead`]).
    fn read(
        aws: &AwsProvider,
        scope: &Scope,
    ) -> impl Future<Output = Result<KindRead, ProviderError>> + Send;

    /// Finishes reading one live resource once every kind is read and references are
    /// resolved, given the address and cloud id of every owned resource (a dashboard writes
    /// the ids in its body back as placeholders). Most kinds have nothing to do.
    fn settle(_live: &mut LiveResource, _owned: &[(Address, String)]) {}

    /// Reads the resources of this kind inside `vpc_ids` that carry no envctl tags (what the
    /// environment's network holds that nobody declared). Kinds that do not live in a VPC
    /// have none.
    fn read_unmanaged(
        _aws: &AwsProvider,
        _vpc_ids: &[String],
    ) -> impl Future<Output = Result<Vec<LiveResource>, ProviderError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Creates the resource, tagged in the create call itself, and returns its cloud id.
    fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;

    /// Makes `changes` in place (tags excluded: [`AwsKind::tag`] follows). Kinds whose
    /// every field forces a replacement have nothing to do.
    fn update(
        _aws: &AwsProvider,
        _desired: &DesiredResource,
        _live: &LiveResource,
        _changes: &[FieldChange],
        _ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        async { Ok(()) }
    }

    /// The ARN of a resource its service tags by ARN (RDS, CloudWatch Logs); `None` once the
    /// service no longer knows it. Kinds tagged by id or name are never asked.
    fn arn(
        _aws: &AwsProvider,
        _live: &LiveResource,
    ) -> impl Future<Output = Result<Option<String>, ProviderError>> + Send {
        async { Ok(None) }
    }

    /// Writes the desired tags and the applied digest on the resource, through its
    /// service's tagging call.
    fn tag(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        async move {
            match Self::SERVICE {
                Service::Ec2 => aws.tag_ec2(desired, &live.id).await,
                Service::Rds => aws.tag_rds(desired, Self::arn(aws, live).await?).await,
                Service::Logs => {
                    aws.tag_log_group(desired, Self::arn(aws, live).await?)
                        .await
                }
                Service::Ssm => aws.tag_parameter(desired, &live.id).await,
                Service::CloudWatch => aws.tag_alarm(desired, Self::arn(aws, live).await?).await,
            }
        }
    }

    /// Deletes the resource and waits until AWS no longer has it.
    fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        options: DeleteOptions,
        progress: &dyn Progress,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// Runs `$body` with `$k` naming the [`AwsKind`] implementation of `$kind`: the one table of
/// kinds. Add a kind's module here and nowhere else.
macro_rules! dispatch {
    ($kind:expr, $k:ident => $body:expr) => {{
        use envctl_spec::ResourceKind as Kind;
        use $crate::aws::kinds;
        match $kind {
            Kind::Vpc => {
                type $k = kinds::vpc::Vpc;
                $body
            }
            Kind::Subnet => {
                type $k = kinds::subnet::Subnet;
                $body
            }
            Kind::SecurityGroup => {
                type $k = kinds::security_group::SecurityGroup;
                $body
            }
            Kind::Instance => {
                type $k = kinds::instance::Instance;
                $body
            }
            Kind::DbSubnetGroup => {
                type $k = kinds::db_subnet_group::DbSubnetGroup;
                $body
            }
            Kind::DbClusterParameterGroup => {
                type $k = kinds::db_cluster_parameter_group::DbClusterParameterGroup;
                $body
            }
            Kind::DbCluster => {
                type $k = kinds::db_cluster::DbCluster;
                $body
            }
            Kind::DbInstance => {
                type $k = kinds::db_instance::DbInstance;
                $body
            }
            Kind::LogGroup => {
                type $k = kinds::log_group::LogGroup;
                $body
            }
            Kind::Parameter => {
                type $k = kinds::parameter::Parameter;
                $body
            }
            Kind::Alarm => {
                type $k = kinds::alarm::Alarm;
                $body
            }
            Kind::Dashboard => {
                type $k = kinds::dashboard::Dashboard;
                $body
            }
        }
    }};
}
pub(super) use dispatch;

/// The service of `kind`.
pub(crate) fn service(kind: ResourceKind) -> Service {
    dispatch!(kind, K => K::SERVICE)
}

/// The reference fields of `kind`, with the kind each points at.
pub(crate) fn references(kind: ResourceKind) -> &'static [(&'static str, ResourceKind)] {
    dispatch!(kind, K => K::REFERENCES)
}

/// Finishes reading `live` (see [`AwsKind::settle`]).
pub(super) fn settle(live: &mut LiveResource, owned: &[(Address, String)]) {
    dispatch!(live.kind, K => K::settle(live, owned))
}

/// Whether an import reads resources of `kind` (see [`AwsKind::IMPORTED`]).
pub(super) fn imported(kind: ResourceKind) -> bool {
    dispatch!(kind, K => K::IMPORTED)
}

/// The reference placing a resource of `kind` in its environment.
pub(super) fn placement(kind: ResourceKind) -> Option<(&'static str, ResourceKind)> {
    dispatch!(kind, K => K::PLACEMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use envctl_spec::{CivilDate, SourceFile, Value};

    use super::*;

    /// The reference fields each kind declares here are exactly the fields the spec's
    /// expansion fills with references, pointing at the same kinds: a reference the provider
    /// did not resolve would show as a difference on every plan, one it resolved wrongly
    /// would be applied to the wrong resource. (A kind may hold one of several references,
    /// as an alarm holds the instance or the cluster it watches: each resource's references
    /// are among its kind's, and all of the kind's are used by the example.)
    #[test]
    fn the_providers_reference_fields_are_the_specs() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../environments/webapp.toml"
        );
        let text = std::fs::read_to_string(path).expect("the example spec");
        let source = SourceFile::new(path, text).with_file(
            "dashboards/main.json",
            Ok(include_str!("../../../../../environments/dashboards/main.json").into()),
        );
        let today = CivilDate::new(2026, 1, 1).expect("a date");
        let spec = envctl_spec::check(&source, today)
            .spec
            .expect("a valid spec");
        let mut seen_kinds = BTreeSet::new();
        let mut used: BTreeSet<(ResourceKind, &str, ResourceKind)> = BTreeSet::new();
        let desired: Vec<_> = spec
            .environment_names()
            .into_iter()
            .map(|environment| spec.expand(environment).expect("a declared environment"))
            .collect();
        for state in &desired {
            for resource in &state.resources {
                seen_kinds.insert(resource.kind);
                let provider: BTreeSet<(&str, ResourceKind)> =
                    references(resource.kind).iter().copied().collect();
                for (field, value) in &resource.fields {
                    let targets: Vec<ResourceKind> = match value {
                        // An empty list tells no kind; the provider's table must still name
                        // the field.
                        Value::List(items) if items.is_empty() => {
                            assert!(
                                provider.iter().any(|(f, _)| f == field),
                                "{}: `{field}` is no reference of the provider's",
                                resource.address
                            );
                            provider
                                .iter()
                                .filter(|(f, _)| f == field)
                                .map(|(_, k)| *k)
                                .collect()
                        }
                        other => other.refs().iter().map(|a| a.kind).collect(),
                    };
                    for target in targets {
                        assert!(
                            provider.contains(&(field.as_str(), target)),
                            "{}: `{field}` references a {target}, which the provider does not \
                             resolve",
                            resource.address
                        );
                        used.insert((resource.kind, field.as_str(), target));
                    }
                }
            }
        }
        for kind in &seen_kinds {
            for (field, target) in references(*kind) {
                assert!(
                    used.contains(&(*kind, field, *target)),
                    "{kind}: the provider resolves `{field}` to a {target}, which the example \
                     spec never references"
                );
            }
        }
        assert_eq!(
            seen_kinds.len(),
            ResourceKind::ALL.len(),
            "the example spec should exercise every kind"
        );
    }
}
