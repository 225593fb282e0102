//! Expansion: one environment's configuration, turned into its [`DesiredState`].
//!
//! Owns the mapping from spec resources to concrete cloud resources: counted resources become
//! `instance.app[0]`..`[n-1]`, a `db_cluster` becomes a `db_subnet_group`, the cluster and its
//! `db_instance`s. Invariants of the result:
//! - resources are sorted by address: kind in creation order, then name, then index, so every
//!   resource comes after those it depends on;
//! - `depends_on` is sorted, deduplicated and names only addresses of the same state (the spec
//!   was validated, so every reference resolves);
//! - cloud names are `{project}-{env}-{name}`, plus `-{i}` for counted resources; tags are the
//!   project tags plus `Name` and the `envctl:*` ownership tags.

use std::collections::BTreeMap;

use crate::kinds::{FieldValue, RuleTarget, SpecKind, security_group, subnet, vpc};
use crate::model::{
    Address, DesiredResource, DesiredState, ResourceKind, Span, TAG_ADDRESS, TAG_ENVIRONMENT,
    TAG_PROJECT, Value,
};
use crate::spec::{Configured, Environment, Spec};

pub(crate) fn expand(spec: &Spec, environment: &Environment) -> DesiredState {
    let model = &spec.model;
    let configuration = model.configuration(Some(environment));
    let mut builder = Builder {
        project: &model.project.name,
        environment: &environment.settings.name,
        tags: &model.project.tags,
        resources: Vec::new(),
    };
    for resource in &configuration.resources {
        match resource.kind().resource_kind() {
            ResourceKind::Vpc => builder.vpc(resource),
            ResourceKind::Subnet => builder.subnet(resource),
            ResourceKind::SecurityGroup => builder.security_group(resource),
            ResourceKind::Instance => builder.instances(resource),
            ResourceKind::DbCluster => builder.database(resource),
            ResourceKind::DbSubnetGroup | ResourceKind::DbInstance => {}
        }
    }
    let mut resources = builder.resources;
    resources.sort_by(|a, b| a.address.cmp(&b.address));
    DesiredState {
        project: model.project.name.clone(),
        environment: environment.settings.name.clone(),
        region: model.project.region.clone(),
        parity_digest: spec.parity_digest.clone(),
        protected: environment.settings.protected,
        promote_from: environment.settings.promote_from.clone(),
        lock_bucket: model.project.lock_bucket.clone(),
        spec_environments: model
            .environments
            .iter()
            .map(|e| e.settings.name.clone())
            .collect(),
        resources,
    }
}

struct Builder<'a> {
    project: &'a str,
    environment: &'a str,
    tags: &'a BTreeMap<String, String>,
    resources: Vec<DesiredResource>,
}

/// The fields of one expanded resource, by name.
type Fields = BTreeMap<String, Value>;

/// Copies the named fields of `resource` that have a value.
fn copy(resource: &Configured<'_>, names: &[&str], into: &mut Fields) {
    for name in names {
        if let Some(value) = resource.field(name) {
            into.insert((*name).to_string(), value.value.to_value());
        }
    }
}

fn address_of(kind: SpecKind, name: &str) -> Address {
    Address::new(kind.resource_kind(), name)
}

/// The addresses a reference field of `resource` names.
fn referenced(resource: &Configured<'_>, field: &str) -> Vec<Address> {
    match resource.field(field).map(|f| &f.value) {
        Some(FieldValue::Ref { kind, name }) => vec![address_of(*kind, &name.value)],
        Some(FieldValue::RefList { kind, names, .. }) => {
            names.iter().map(|n| address_of(*kind, &n.value)).collect()
        }
        _ => Vec::new(),
    }
}

impl Builder<'_> {
    fn push(&mut self, address: Address, span: Span, mut depends_on: Vec<Address>, fields: Fields) {
        let mut cloud_name = format!("{}-{}-{}", self.project, self.environment, address.name);
        if let Some(index) = address.index {
            cloud_name.push_str(&format!("-{index}"));
        }
        let mut tags = self.tags.clone();
        tags.insert("Name".to_string(), cloud_name.clone());
        tags.insert(TAG_PROJECT.to_string(), self.project.to_string());
        tags.insert(TAG_ENVIRONMENT.to_string(), self.environment.to_string());
        tags.insert(TAG_ADDRESS.to_string(), address.to_string());
        depends_on.sort();
        depends_on.dedup();
        self.resources.push(DesiredResource {
            kind: address.kind,
            address,
            cloud_name,
            tags,
            depends_on,
            fields,
            span,
        });
    }

    fn vpc(&mut self, vpc: &Configured<'_>) {
        let mut fields = Fields::new();
        copy(vpc, &["cidr"], &mut fields);
        let address = address_of(vpc::KIND, vpc.name());
        self.push(address, vpc.resource.span, Vec::new(), fields);
    }

    fn subnet(&mut self, subnet: &Configured<'_>) {
        let mut fields = Fields::new();
        copy(subnet, &["vpc", "cidr", "zone"], &mut fields);
        let address = address_of(subnet::KIND, subnet.name());
        let depends_on = referenced(subnet, "vpc");
        self.push(address, subnet.resource.span, depends_on, fields);
    }

    fn security_group(&mut self, group: &Configured<'_>) {
        let mut fields = Fields::new();
        copy(
            group,
            &["vpc", "description", "ingress", "egress"],
            &mut fields,
        );
        let mut depends_on = referenced(group, "vpc");
        for rule in group.rules("ingress").iter().chain(group.rules("egress")) {
            if let RuleTarget::Group(other) = &rule.target
                && other.value != group.name()
            {
                depends_on.push(address_of(security_group::KIND, &other.value));
            }
        }
        let address = address_of(security_group::KIND, group.name());
        self.push(address, group.resource.span, depends_on, fields);
    }

    fn instances(&mut self, instance: &Configured<'_>) {
        let subnets = instance.references("subnets");
        let groups = referenced(instance, "security_groups");
        let mut shared = Fields::new();
        copy(
            instance,
            &[
                "ami",
                "instance_type",
                "security_groups",
                "monitoring",
                "volume_size",
            ],
            &mut shared,
        );
        let count = u32::try_from(instance.count()).unwrap_or(0);
        for (index, subnet) in (0..count).zip(subnets.iter().cycle()) {
            let subnet = address_of(subnet::KIND, &subnet.value);
            let mut fields = shared.clone();
            fields.insert("subnet".to_string(), Value::Str(subnet.to_string()));
            let mut depends_on = groups.clone();
            depends_on.push(subnet);
            let address = Address::indexed(ResourceKind::Instance, instance.name(), index);
            self.push(address, instance.resource.span, depends_on, fields);
        }
    }

    fn database(&mut self, cluster: &Configured<'_>) {
        let name = cluster.name();
        let span = cluster.resource.span;
        let subnet_group = Address::new(ResourceKind::DbSubnetGroup, name);
        let cluster_address = Address::new(ResourceKind::DbCluster, name);

        let mut fields = Fields::new();
        copy(cluster, &["subnets"], &mut fields);
        fields.insert(
            "description".to_string(),
            Value::Str(format!("subnets of {cluster_address}")),
        );
        let depends_on = referenced(cluster, "subnets");
        self.push(subnet_group.clone(), span, depends_on, fields);

        let mut fields = Fields::new();
        copy(
            cluster,
            &[
                "engine",
                "engine_version",
                "security_groups",
                "backup_retention_days",
                "backup_window",
                "deletion_protection",
                "storage_encrypted",
                "master_username",
            ],
            &mut fields,
        );
        fields.insert(
            "subnet_group".to_string(),
            Value::Str(subnet_group.to_string()),
        );
        let mut depends_on = referenced(cluster, "security_groups");
        depends_on.push(subnet_group);
        self.push(cluster_address.clone(), span, depends_on, fields);

        let count = u32::try_from(cluster.count()).unwrap_or(0);
        for index in 0..count {
            let mut fields = Fields::new();
            copy(cluster, &["engine", "instance_class"], &mut fields);
            fields.insert(
                "cluster".to_string(),
                Value::Str(cluster_address.to_string()),
            );
            let address = Address::indexed(ResourceKind::DbInstance, name, index);
            self.push(address, span, vec![cluster_address.clone()], fields);
        }
    }
}
