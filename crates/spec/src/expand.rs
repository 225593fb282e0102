//! Expansion: one environment's configuration, turned into its [`DesiredState`].
//!
//! Owns the generic part of the mapping from spec resources to concrete cloud resources: each
//! kind's `expand` (in its file of `crate::kinds`) says which resources one spec resource becomes
//! (counted resources become `instance.app[0]`..`[n-1]`, a `db_cluster` becomes a
//! `db_subnet_group`, the cluster and its `db_instance`s), and [`Expansion::push`] gives each
//! its cloud name, tags and sorted dependencies. Invariants of the result:
//! - resources are sorted by address: kind in creation order, then name, then index, so every
//!   resource comes after those it depends on;
//! - `depends_on` is sorted, deduplicated and names only addresses of the same state (the spec
//!   was validated, so every reference resolves);
//! - cloud names are `{project}-{env}-{name}`, plus `-{i}` for counted resources, or
//!   `/{project}/{env}/{name}` for the kinds whose APIs list by path (log groups, parameters);
//!   tags are the project tags plus `Name` and the `envctl:*` ownership tags;
//! - templated fields hold their values with `${project}`, `${environment}` and `${region}`
//!   substituted for this environment.

use std::collections::BTreeMap;

use crate::kinds::{self, FieldValue, Naming, SpecKind};
use crate::model::{
    Address, DesiredResource, DesiredState, Span, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_PROJECT, Value,
};
use crate::spec::{Configuration, Configured, Environment, Spec};
use crate::template::Placeholders;

pub(crate) fn expand(spec: &Spec, environment: &Environment) -> DesiredState {
    let model = &spec.model;
    let configuration = model.configuration(Some(environment));
    let mut expansion = Expansion {
        configuration: &configuration,
        project: &model.project.name,
        environment: &environment.settings.name,
        region: &environment.settings.region,
        tags: &model.project.tags,
        resources: Vec::new(),
    };
    for resource in &configuration.resources {
        resource.kind().expand(resource, &mut expansion);
    }
    let mut resources = expansion.resources;
    resources.sort_by(|a, b| a.address.cmp(&b.address));
    DesiredState {
        project: model.project.name.clone(),
        environment: environment.settings.name.clone(),
        region: environment.settings.region.clone(),
        account_id: environment.settings.account_id.clone(),
        parity_digest: spec.parity_digest.clone(),
        protected: environment.settings.protected,
        promote_from: environment.settings.promote_from.clone(),
        lock_bucket: environment.settings.lock_bucket.clone(),
        spec_environments: model
            .environments
            .iter()
            .map(|e| e.settings.name.clone())
            .collect(),
        resources,
    }
}

/// The resources expanded so far; kinds add theirs with [`Expansion::push`].
#[derive(Debug)]
pub(crate) struct Expansion<'a> {
    /// The environment's configuration: what a kind that follows another reads its count
    /// from.
    configuration: &'a Configuration<'a>,
    project: &'a str,
    environment: &'a str,
    region: &'a str,
    tags: &'a BTreeMap<String, String>,
    resources: Vec<DesiredResource>,
}

/// The fields of one expanded resource, by name.
pub(crate) type Fields = BTreeMap<String, Value>;

/// Copies the named fields of `resource` that have a value, as expansion writes them.
pub(crate) fn copy(resource: &Configured<'_>, names: &[&str], into: &mut Fields) {
    for name in names {
        if let Some(value) = resource.field(name) {
            into.insert((*name).to_string(), value.value.to_value());
        }
    }
}

/// The address of the expanded resource of the same kind and name as a spec resource.
pub(crate) fn address_of(kind: SpecKind, name: &str) -> Address {
    Address::new(kind.resource_kind(), name)
}

/// The addresses a reference field of `resource` names.
pub(crate) fn referenced(resource: &Configured<'_>, field: &str) -> Vec<Address> {
    match resource.field(field).map(|f| &f.value) {
        Some(FieldValue::Ref { kind, name, .. }) => vec![address_of(*kind, &name.value)],
        Some(FieldValue::RefList { kind, names, .. }) => {
            names.iter().map(|n| address_of(*kind, &n.value)).collect()
        }
        _ => Vec::new(),
    }
}

impl Expansion<'_> {
    /// The environment's region (a zone written as a suffix is in it).
    pub(crate) fn region(&self) -> &str {
        self.region
    }

    /// How many cloud resources spec resource `kind.name` becomes in this environment (0 when
    /// the spec has none: a valid spec always has it).
    pub(crate) fn count_of(&self, kind: SpecKind, name: &str) -> u32 {
        self.configuration
            .get(kind, name)
            .map_or(0, |resource| u32::try_from(resource.count()).unwrap_or(0))
    }

    /// The names of this environment's spec resources of `kind`.
    pub(crate) fn names_of(&self, kind: SpecKind) -> Vec<String> {
        self.configuration
            .names(kind)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// The cloud name `address` has in this environment.
    pub(crate) fn cloud_name(&self, address: &Address) -> String {
        let naming = kinds::expanded(address.kind).map_or(Naming::Dashed, |(_, e)| e.naming);
        naming.cloud_name(self.project, self.environment, address)
    }

    /// What `${project}`, `${environment}` and `${region}` stand for in this environment.
    pub(crate) fn placeholders(&self) -> Placeholders<'_> {
        Placeholders {
            project: self.project,
            environment: self.environment,
            region: self.region,
        }
    }

    /// Adds one resource: its cloud name and tags follow from its address, `depends_on` is
    /// sorted and deduplicated.
    pub(crate) fn push(
        &mut self,
        address: Address,
        span: Span,
        mut depends_on: Vec<Address>,
        fields: Fields,
    ) {
        let cloud_name = self.cloud_name(&address);
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
}
