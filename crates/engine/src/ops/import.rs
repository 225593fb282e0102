//! `import`: an environment built by hand, written as a spec; a second one, written as what it
//! adds to that spec.
//!
//! Owns [`ImportRequest`], [`import`] (reads everything inside one VPC, whoever made it, and
//! drafts the spec), [`Imported`] with its [`Member`]s (which cloud id becomes which address:
//! what `adopt` tags), and [`merge`] (a second environment compared with an existing spec by
//! role: kind and name). Invariants: nothing in the cloud is changed; what is imported is the
//! VPC and what is linked to it by references (an RDS resource elsewhere in the account is
//! not); names come from `Name` tags (then a group's name or an RDS identifier), made valid spec
//! names without the project's and environment's own words, unique per kind; instances alike
//! (role, image, type, groups, monitoring, volume) are folded into one counted resource when
//! their spread over subnets is the round-robin spread the spec expands to, and split by
//! subnet otherwise; versions are written as found; what the spec cannot say is listed in
//! `left_out`, never dropped silently.

use std::collections::{BTreeMap, BTreeSet};

use envctl_spec::draft::{DifferenceDraft, DraftValue, EnvironmentDraft, ResourceDraft, SpecDraft};
use envctl_spec::{Address, Peer, ResourceKind, Rule, Value};
use serde::{Deserialize, Serialize};

use crate::live::LiveResource;
use crate::provider::{Provider, ProviderError, ReadDepth, Scope};

/// What to import, and as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    /// The spec's project (a new spec's name, or the existing spec's).
    pub project: String,
    /// The environment the VPC is.
    pub environment: String,
    pub region: String,
    /// The VPC's id.
    pub vpc: String,
}

/// One imported cloud resource and the address it has in the written spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub address: Address,
    pub id: String,
}

/// An environment read from the cloud and drafted as a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The spec of this environment alone.
    pub draft: SpecDraft,
    /// Every cloud resource the draft describes, by the address it expands to.
    pub members: Vec<Member>,
    /// The resources read (those linked to the VPC), as the import's read addressed them.
    pub found: Vec<LiveResource>,
}

/// Why an import could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The VPC is not there (another id, region or account).
    #[error("there is no VPC `{vpc}` in {region}")]
    NoNetwork { vpc: String, region: String },
    #[error(transparent)]
    Read(#[from] ProviderError),
}

/// Reads everything inside `request.vpc` and drafts its spec. Changes nothing.
pub async fn import<P: Provider + ?Sized>(
    provider: &P,
    request: &ImportRequest,
) -> Result<Imported, ImportError> {
    let scope = Scope::network(&request.project, &request.environment, &request.vpc);
    let (live, unmodelled) = futures::try_join!(
        provider.read(&scope, ReadDepth::Owned),
        provider.unmodelled(&request.vpc)
    )?;
    let mut imported = draft(&live.resources, request)?;
    imported.draft.left_out.extend(unmodelled);
    Ok(imported)
}

/// The spec of the resources read from `request.vpc` (an import's read: addressed as
/// unmanaged, references resolved between them).
pub fn draft(resources: &[LiveResource], request: &ImportRequest) -> Result<Imported, ImportError> {
    let Some(network) = resources
        .iter()
        .find(|r| r.kind == ResourceKind::Vpc && r.id == request.vpc)
    else {
        return Err(ImportError::NoNetwork {
            vpc: request.vpc.clone(),
            region: request.region.clone(),
        });
    };
    let mut kept = linked_to(resources, &network.address);
    // The environment's configuration and logs live under its path, not in its VPC.
    kept.extend(
        resources
            .iter()
            .filter(|r| matches!(r.kind, ResourceKind::LogGroup | ResourceKind::Parameter)),
    );
    let found = kept.iter().map(|r| (*r).clone()).collect();
    let mut drafting = Drafting::new(request, kept);
    drafting.name_resources();
    drafting.tables(ResourceKind::Vpc, &[], &["cidr"]);
    drafting.tables(ResourceKind::Subnet, &["vpc"], &["cidr", "zone"]);
    drafting.security_groups();
    drafting.instances();
    drafting.databases();
    drafting.by_path();
    let mut imported = drafting.finish();
    imported.found = found;
    Ok(imported)
}

/// What a second environment adds to a spec: its scale, the differences a person must
/// decide on, and what could not be matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub environment: EnvironmentDraft,
    pub differences: Vec<DifferenceDraft>,
    pub left_out: Vec<String>,
    /// The members of resources that match one of the spec's (what `adopt` tags).
    pub members: Vec<Member>,
}

/// Compares `imported` (another environment, drafted on its own) with the resource tables
/// of the existing spec: resources of the same kind and name are the same role; a scale
/// field that differs is the new environment's scale, any other field that differs is a
/// drafted difference; a resource on one side only is left out, said so.
pub fn merge(existing: &[ResourceDraft], imported: &Imported) -> Merge {
    let environment_name = imported.draft.environment.name.clone();
    let renames = roles(existing, &imported.draft.resources);
    let resources: Vec<ResourceDraft> = imported
        .draft
        .resources
        .iter()
        .map(|r| renamed(r, &renames))
        .collect();
    let mut scale = Vec::new();
    let mut differences = Vec::new();
    let mut left_out = imported.draft.left_out.clone();
    let mut matched: BTreeSet<(String, String)> = BTreeSet::new();
    for resource in &resources {
        let Some(spec) = existing
            .iter()
            .find(|e| e.kind == resource.kind && e.name == resource.name)
        else {
            left_out.push(format!(
                "{} is in `{environment_name}` only (the spec describes every environment alike): add it to the spec for all of them, or remove it from `{environment_name}`",
                resource.address()
            ));
            continue;
        };
        matched.insert((resource.kind.clone(), resource.name.clone()));
        let scale_fields = scale_fields_of(&resource.kind);
        let mut own_scale = Vec::new();
        for (field, value) in &resource.fields {
            if scale_fields.contains(&field.as_str()) {
                own_scale.push((field.clone(), value.clone()));
                continue;
            }
            if spec.field(field) != Some(value) {
                differences.push(DifferenceDraft {
                    resource: resource.address(),
                    field: field.clone(),
                    values: vec![(environment_name.clone(), value.clone())],
                });
            }
        }
        for (field, value) in &spec.fields {
            if !scale_fields.contains(&field.as_str()) && resource.field(field).is_none() {
                left_out.push(format!(
                    "{}: the spec sets `{field} = {}`, which `{environment_name}` does not have",
                    resource.address(),
                    value.to_toml()
                ));
            }
        }
        if !own_scale.is_empty() {
            scale.push((resource.address(), own_scale));
        }
    }
    for spec in existing {
        if !matched.contains(&(spec.kind.clone(), spec.name.clone())) {
            left_out.push(format!(
                "{} is in the spec but not in `{environment_name}`'s network: the first apply there creates it",
                spec.address()
            ));
        }
    }
    let members = imported
        .members
        .iter()
        .filter_map(|m| {
            let (kind, name) = spec_identity(&m.address);
            let name = renames
                .get(&(kind.to_string(), name.to_string()))
                .map_or(name, String::as_str);
            matched
                .contains(&(kind.to_string(), name.to_string()))
                .then(|| Member {
                    address: Address {
                        name: name.to_string(),
                        ..m.address.clone()
                    },
                    id: m.id.clone(),
                })
        })
        .collect();
    Merge {
        environment: EnvironmentDraft {
            name: environment_name,
            scale,
        },
        differences,
        left_out,
        members,
    }
}

/// Which imported resource plays which spec resource's role, where their names differ: per
/// kind, after matching by name, one resource left on each side is the same role (the only
/// VPC, the only database). `(kind, imported name)` -> the spec's name.
fn roles(
    existing: &[ResourceDraft],
    imported: &[ResourceDraft],
) -> BTreeMap<(String, String), String> {
    let mut renames = BTreeMap::new();
    let kinds: BTreeSet<&str> = imported.iter().map(|r| r.kind.as_str()).collect();
    for kind in kinds {
        let named = |list: &[ResourceDraft], other: &[ResourceDraft]| -> Vec<String> {
            list.iter()
                .filter(|r| {
                    r.kind == kind && !other.iter().any(|o| o.kind == kind && o.name == r.name)
                })
                .map(|r| r.name.clone())
                .collect()
        };
        let (spec_left, imported_left) = (named(existing, imported), named(imported, existing));
        if let ([spec], [found]) = (spec_left.as_slice(), imported_left.as_slice()) {
            renames.insert((kind.to_string(), found.clone()), spec.clone());
        }
    }
    renames
}

/// `resource` with its own name and the names it refers to as `renames` says.
fn renamed(
    resource: &ResourceDraft,
    renames: &BTreeMap<(String, String), String>,
) -> ResourceDraft {
    let rename = |kind: &str, name: &str| {
        renames
            .get(&(kind.to_string(), name.to_string()))
            .cloned()
            .unwrap_or_else(|| name.to_string())
    };
    fn each(value: &DraftValue, f: &dyn Fn(&str) -> String) -> DraftValue {
        match value {
            DraftValue::Str(name) => DraftValue::Str(f(name)),
            DraftValue::List(items) => DraftValue::List(items.iter().map(|i| each(i, f)).collect()),
            other => other.clone(),
        }
    }
    let fields = resource
        .fields
        .iter()
        .map(|(field, value)| {
            let value = match field.as_str() {
                "vpc" => each(value, &|n| rename("vpc", n)),
                "subnets" => each(value, &|n| rename("subnet", n)),
                "security_groups" => each(value, &|n| rename("security_group", n)),
                "ingress" | "egress" => match value {
                    DraftValue::List(rules) => DraftValue::List(
                        rules
                            .iter()
                            .map(|rule| match rule {
                                DraftValue::Table(entries) => DraftValue::Table(
                                    entries
                                        .iter()
                                        .map(|(k, v)| match (k.as_str(), v) {
                                            ("from_group", DraftValue::Str(n)) => (
                                                k.clone(),
                                                DraftValue::Str(rename("security_group", n)),
                                            ),
                                            _ => (k.clone(), v.clone()),
                                        })
                                        .collect(),
                                ),
                                other => other.clone(),
                            })
                            .collect(),
                    ),
                    other => other.clone(),
                },
                _ => value.clone(),
            };
            (field.clone(), value)
        })
        .collect();
    ResourceDraft {
        name: rename(&resource.kind, &resource.name),
        fields,
        ..resource.clone()
    }
}

/// The spec kind and name a member's address expands from (a DB subnet group, parameter
/// group and DB instance come from their cluster).
fn spec_identity(address: &Address) -> (&'static str, &str) {
    let kind = match address.kind {
        ResourceKind::DbSubnetGroup
        | ResourceKind::DbClusterParameterGroup
        | ResourceKind::DbInstance => "db_cluster",
        other => other.as_str(),
    };
    (kind, address.name.as_str())
}

/// The fields of a spec kind that may differ between environments (scale).
fn scale_fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "instance" => &["instance_type", "volume_size", "count"],
        "db_cluster" => &["instance_class", "instances"],
        _ => &[],
    }
}

/// The resources linked to `root` by references, in either direction, transitively.
fn linked_to<'a>(resources: &'a [LiveResource], root: &Address) -> Vec<&'a LiveResource> {
    let refs: BTreeMap<&Address, BTreeSet<Address>> = resources
        .iter()
        .map(|r| (&r.address, references_of(r)))
        .collect();
    let mut kept: BTreeSet<Address> = BTreeSet::from([root.clone()]);
    loop {
        let before = kept.len();
        for resource in resources {
            if kept.contains(&resource.address) {
                continue;
            }
            let points_in = refs[&resource.address].iter().any(|a| kept.contains(a));
            let pointed_at = kept
                .iter()
                .any(|k| refs.get(k).is_some_and(|r| r.contains(&resource.address)));
            if points_in || pointed_at {
                kept.insert(resource.address.clone());
            }
        }
        if kept.len() == before {
            break;
        }
    }
    resources
        .iter()
        .filter(|r| kept.contains(&r.address))
        .collect()
}

fn references_of(resource: &LiveResource) -> BTreeSet<Address> {
    let mut out = BTreeSet::new();
    for value in resource.fields.values() {
        out.extend(value.refs().into_iter().cloned());
        out.extend(value.rules().into_iter().filter_map(Rule::group).cloned());
    }
    out
}

/// The draft being written.
struct Drafting<'a> {
    request: &'a ImportRequest,
    resources: Vec<&'a LiveResource>,
    /// The spec name of each imported resource.
    names: BTreeMap<Address, String>,
    drafts: Vec<ResourceDraft>,
    scale: Vec<(String, Vec<(String, DraftValue)>)>,
    members: Vec<Member>,
    left_out: Vec<String>,
}

impl<'a> Drafting<'a> {
    fn new(request: &'a ImportRequest, resources: Vec<&'a LiveResource>) -> Self {
        Drafting {
            request,
            resources,
            names: BTreeMap::new(),
            drafts: Vec::new(),
            scale: Vec::new(),
            members: Vec::new(),
            left_out: Vec::new(),
        }
    }

    fn of_kind(&self, kind: ResourceKind) -> Vec<&'a LiveResource> {
        let mut found: Vec<&LiveResource> = self
            .resources
            .iter()
            .copied()
            .filter(|r| r.kind == kind)
            .collect();
        found.sort_by(|a, b| (label(a), &a.id).cmp(&(label(b), &b.id)));
        found
    }

    /// Gives every resource its spec name (instances their role's, numbered later).
    fn name_resources(&mut self) {
        let mut taken: BTreeSet<(ResourceKind, String)> = BTreeSet::new();
        for kind in [
            ResourceKind::Vpc,
            ResourceKind::Subnet,
            ResourceKind::SecurityGroup,
            ResourceKind::DbCluster,
        ] {
            for resource in self.of_kind(kind) {
                let name = unique(&mut taken, kind, spec_name(label(resource), self.request));
                self.names.insert(resource.address.clone(), name);
            }
        }
    }

    fn name(&self, value: Option<&Value>) -> Option<String> {
        match value? {
            Value::Ref(address) => self.names.get(address).cloned(),
            _ => None,
        }
    }

    /// The spec names of a set of references, sorted (`None` when one is not imported).
    fn names(&self, value: Option<&Value>) -> Option<Vec<String>> {
        let mut names: Vec<String> = match value? {
            Value::List(items) => items
                .iter()
                .map(|i| self.name(Some(i)))
                .collect::<Option<_>>()?,
            single => vec![self.name(Some(single))?],
        };
        names.sort();
        Some(names)
    }

    fn push(&mut self, kind: &str, name: &str, resource: &LiveResource, fields: Fields) {
        self.drafts.push(ResourceDraft {
            kind: kind.to_string(),
            name: name.to_string(),
            fields,
            comments: vec![described(resource)],
        });
    }

    fn member(&mut self, address: Address, id: &str) {
        self.members.push(Member {
            address,
            id: id.to_string(),
        });
    }

    /// One table per resource of `kind`: its references among `references` by name, then
    /// its `copied` fields as they are.
    fn tables(&mut self, kind: ResourceKind, references: &[&str], copied: &[&str]) {
        for resource in self.of_kind(kind) {
            let name = self.names[&resource.address].clone();
            let mut fields = Fields::new();
            for field in references {
                if let Some(target) = self.name(resource.fields.get(*field)) {
                    fields.push((field.to_string(), DraftValue::Str(target)));
                }
            }
            for field in copied {
                copy_str(&mut fields, resource, field);
            }
            self.table(kind, &name, resource, fields);
        }
    }

    /// The table of `resource` as `kind.name`, and the member it makes.
    fn table(&mut self, kind: ResourceKind, name: &str, resource: &LiveResource, fields: Fields) {
        self.push(kind.as_str(), name, resource, fields);
        self.member(Address::new(kind, name), &resource.id);
    }

    fn security_groups(&mut self) {
        for group in self.of_kind(ResourceKind::SecurityGroup) {
            let name = self.names[&group.address].clone();
            let mut fields = Fields::new();
            if let Some(vpc) = self.name(group.fields.get("vpc")) {
                fields.push(("vpc".to_string(), DraftValue::Str(vpc)));
            }
            copy_str(&mut fields, group, "description");
            for direction in ["ingress", "egress"] {
                let rules: Vec<&Rule> = group
                    .fields
                    .get(direction)
                    .map(Value::rules)
                    .unwrap_or_default();
                // The spec's default egress is everything to everywhere.
                if direction == "egress"
                    && rules.len() == 1
                    && rules[0].protocol == "all"
                    && rules[0].peer == Peer::Cidr("0.0.0.0/0".to_string())
                {
                    continue;
                }
                let mut drafted = Vec::new();
                for rule in rules {
                    match self.rule(rule) {
                        Some(table) => drafted.push(table),
                        None => self.left_out.push(format!(
                            "security_group.{name}: the {direction} rule `{rule}` names a peer the spec cannot (an IPv6 range, a prefix list or a group outside this network); the first apply removes it unless it is added by hand to the spec's rules"
                        )),
                    }
                }
                fields.push((direction.to_string(), DraftValue::List(drafted)));
            }
            self.table(ResourceKind::SecurityGroup, &name, group, fields);
        }
    }

    fn rule(&self, rule: &Rule) -> Option<DraftValue> {
        let mut table = vec![(
            "protocol".to_string(),
            DraftValue::Str(rule.protocol.clone()),
        )];
        match rule.ports {
            Some((from, to)) if from == to => {
                table.push(("ports".to_string(), DraftValue::Int(i64::from(from))))
            }
            Some((from, to)) => {
                table.push(("ports".to_string(), DraftValue::Str(format!("{from}-{to}"))))
            }
            None => {}
        }
        match &rule.peer {
            Peer::Cidr(cidr) => table.push(("cidr".to_string(), DraftValue::Str(cidr.clone()))),
            Peer::Group(address) => table.push((
                "from_group".to_string(),
                DraftValue::Str(self.names.get(address)?.clone()),
            )),
            Peer::Cidr6(_) | Peer::PrefixList(_) | Peer::ForeignGroup(_) => return None,
        }
        Some(DraftValue::Table(table))
    }

    fn instances(&mut self) {
        // Instances alike are one role: the same name (less its number), image, type,
        // groups, monitoring and volume.
        let mut roles: BTreeMap<(String, Vec<Value>), Vec<&LiveResource>> = BTreeMap::new();
        for instance in self.of_kind(ResourceKind::Instance) {
            let role = role_name(&spec_name(label(instance), self.request));
            let key: Vec<Value> = [
                "ami",
                "instance_type",
                "security_groups",
                "monitoring",
                "volume_size",
            ]
            .iter()
            .map(|f| {
                instance
                    .fields
                    .get(*f)
                    .cloned()
                    .unwrap_or(Value::Bool(false))
            })
            .collect();
            roles.entry((role, key)).or_default().push(instance);
        }
        let mut taken: BTreeSet<(ResourceKind, String)> = BTreeSet::new();
        for ((role, _), members) in roles {
            match round_robin(&members, |i| self.name(i.fields.get("subnet"))) {
                Some((subnets, ordered)) => {
                    let name = unique(&mut taken, ResourceKind::Instance, role);
                    self.instance_role(&name, subnets, &ordered);
                }
                None => {
                    // Not the spread the spec expands to: one resource per subnet.
                    let mut by_subnet: BTreeMap<String, Vec<&LiveResource>> = BTreeMap::new();
                    for instance in members {
                        let subnet = self.name(instance.fields.get("subnet")).unwrap_or_default();
                        by_subnet.entry(subnet).or_default().push(instance);
                    }
                    for (subnet, members) in by_subnet {
                        let name = unique(
                            &mut taken,
                            ResourceKind::Instance,
                            format!("{role}-{subnet}"),
                        );
                        self.instance_role(&name, vec![subnet], &members);
                    }
                }
            }
        }
    }

    fn instance_role(&mut self, name: &str, subnets: Vec<String>, members: &[&LiveResource]) {
        let Some(first) = members.first().copied() else {
            return;
        };
        let mut fields = Fields::new();
        copy_str(&mut fields, first, "ami");
        copy_str(&mut fields, first, "instance_type");
        fields.push((
            "count".to_string(),
            DraftValue::Int(i64::try_from(members.len()).unwrap_or(i64::MAX)),
        ));
        fields.push(("subnets".to_string(), name_list(subnets)));
        let groups = self
            .names(first.fields.get("security_groups"))
            .unwrap_or_default();
        fields.push(("security_groups".to_string(), name_list(groups)));
        if let Some(Value::Bool(monitoring)) = first.fields.get("monitoring") {
            fields.push(("monitoring".to_string(), DraftValue::Bool(*monitoring)));
        }
        if let Some(Value::Int(size)) = first.fields.get("volume_size") {
            fields.push(("volume_size".to_string(), DraftValue::Int(*size)));
        }
        let scale: Fields = fields
            .iter()
            .filter(|(f, _)| scale_fields_of("instance").contains(&f.as_str()))
            .cloned()
            .collect();
        self.scale.push((format!("instance.{name}"), scale));
        self.push("instance", name, first, fields);
        if let Some(comment) = self.drafts.last_mut().and_then(|d| d.comments.first_mut()) {
            *comment = members
                .iter()
                .map(|m| described(m))
                .collect::<Vec<_>>()
                .join(", ");
        }
        for (index, instance) in (0u32..).zip(members) {
            self.member(
                Address::indexed(ResourceKind::Instance, name, index),
                &instance.id,
            );
        }
    }

    fn databases(&mut self) {
        let all_instances = self.of_kind(ResourceKind::DbInstance);
        for cluster in self.of_kind(ResourceKind::DbCluster) {
            let name = self.names[&cluster.address].clone();
            let mut fields = Fields::new();
            copy_str(&mut fields, cluster, "engine");
            copy_str(&mut fields, cluster, "engine_version");
            let members: Vec<&LiveResource> = all_instances
                .iter()
                .copied()
                .filter(|i| i.fields.get("cluster") == Some(&Value::Ref(cluster.address.clone())))
                .collect();
            let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
            for member in &members {
                if let Some(class) = member.fields.get("instance_class").and_then(Value::as_str) {
                    *classes.entry(class).or_default() += 1;
                }
            }
            let class = classes
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(c, _)| (*c).to_string());
            if classes.len() > 1 {
                self.left_out.push(format!(
                    "db_cluster.{name}: its instances are of {} classes; the spec gives one class to all, `{}`, and the first apply changes the others",
                    classes.len(),
                    class.clone().unwrap_or_default()
                ));
            }
            if let Some(class) = class {
                fields.push(("instance_class".to_string(), DraftValue::Str(class)));
            }
            fields.push((
                "instances".to_string(),
                DraftValue::Int(i64::try_from(members.len()).unwrap_or(i64::MAX)),
            ));
            let subnet_group = match cluster.fields.get("subnet_group") {
                Some(Value::Ref(address)) => self
                    .resources
                    .iter()
                    .copied()
                    .find(|r| &r.address == address),
                _ => None,
            };
            let subnets = subnet_group
                .and_then(|g| self.names(g.fields.get("subnets")))
                .unwrap_or_default();
            fields.push(("subnets".to_string(), name_list(subnets)));
            let groups = self
                .names(cluster.fields.get("security_groups"))
                .unwrap_or_default();
            fields.push(("security_groups".to_string(), name_list(groups)));
            for field in [
                "backup_retention_days",
                "backup_window",
                "deletion_protection",
                "storage_encrypted",
                "master_username",
            ] {
                if let Some(value) = cluster.fields.get(field).and_then(draft_value) {
                    fields.push((field.to_string(), value));
                }
            }
            let parameter_group = match cluster.fields.get("parameter_group") {
                Some(Value::Ref(address)) => self
                    .resources
                    .iter()
                    .copied()
                    .find(|r| &r.address == address),
                _ => None,
            };
            if let Some(group) = parameter_group {
                let settings: Vec<(String, DraftValue)> = group
                    .fields
                    .get("parameters")
                    .map(|p| match p {
                        Value::List(items) => items.clone(),
                        single => vec![single.clone()],
                    })
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| s.as_str()?.split_once('='))
                    .map(|(k, v)| (k.to_string(), DraftValue::Str(v.to_string())))
                    .collect();
                fields.push(("parameters".to_string(), DraftValue::Table(settings)));
                self.member(
                    Address::new(ResourceKind::DbClusterParameterGroup, &name),
                    &group.id,
                );
            }
            let scale: Fields = fields
                .iter()
                .filter(|(f, _)| scale_fields_of("db_cluster").contains(&f.as_str()))
                .cloned()
                .collect();
            self.scale.push((format!("db_cluster.{name}"), scale));
            self.push("db_cluster", &name, cluster, fields);
            if let Some(group) = subnet_group {
                self.member(Address::new(ResourceKind::DbSubnetGroup, &name), &group.id);
            }
            self.member(Address::new(ResourceKind::DbCluster, &name), &cluster.id);
            for (index, member) in (0u32..).zip(&members) {
                self.member(
                    Address::indexed(ResourceKind::DbInstance, &name, index),
                    &member.id,
                );
            }
        }
    }

    /// Log groups and parameters, named under the environment's path
    /// (`/{project}/{environment}/NAME`): imported when NAME is a spec name as it is, since
    /// envctl names them by that path.
    fn by_path(&mut self) {
        let prefix = format!("/{}/{}/", self.request.project, self.request.environment);
        for resource in self
            .of_kind(ResourceKind::LogGroup)
            .into_iter()
            .chain(self.of_kind(ResourceKind::Parameter))
        {
            let kind = resource.kind;
            let name = resource.id.strip_prefix(&prefix).unwrap_or(&resource.id);
            if spec_name(name, self.request) != name {
                self.left_out.push(format!(
                    "{kind} `{}`: `{name}` is not a name envctl gives (lowercase words and digits joined by single `-`, under `{prefix}`)",
                    resource.id
                ));
                continue;
            }
            let mut fields = Fields::new();
            match kind {
                ResourceKind::LogGroup => {
                    copy_str(&mut fields, resource, "retention_days");
                    copy_str(&mut fields, resource, "kms_key");
                }
                _ => match resource.fields.get("type").and_then(Value::as_str) {
                    Some("StringList") => copy_str(&mut fields, resource, "values"),
                    Some("SecureString") => {
                        self.left_out.push(format!(
                            "parameter `{}` is a SecureString: its value is never written; declare it as `[parameter.{name}]` with `secure = true` and `value_from`",
                            resource.id
                        ));
                        continue;
                    }
                    _ => {
                        // A value naming its own environment is written once for all.
                        if let Some(Value::Str(value)) = resource.fields.get("value") {
                            let templated =
                                value.replace(&self.request.environment, "${environment}");
                            fields.push(("value".to_string(), DraftValue::Str(templated)));
                        }
                    }
                },
            }
            self.table(kind, name, resource, fields);
        }
    }

    fn finish(self) -> Imported {
        let request = self.request;
        Imported {
            draft: SpecDraft {
                header: vec![
                    format!(
                        "Written by `envctl import {} --vpc {}`: `{}` as it was found in {}.",
                        request.environment, request.vpc, request.environment, request.region
                    ),
                    "Review it, then run `envctl adopt` to make these resources the environment's."
                        .to_string(),
                ],
                project: request.project.clone(),
                region: request.region.clone(),
                environment: EnvironmentDraft {
                    name: request.environment.clone(),
                    scale: self.scale,
                },
                resources: self.drafts,
                left_out: self.left_out,
            },
            members: self.members,
            found: Vec::new(),
        }
    }
}

type Fields = Vec<(String, DraftValue)>;

/// What a person called the resource: its `Name` tag, a group's name, or its id.
fn label(resource: &LiveResource) -> &str {
    resource
        .tags
        .get("Name")
        .or_else(|| resource.outputs.get("name"))
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(&resource.id)
}

/// The resource as a comment says where it came from: its id, and its name when it has one.
fn described(resource: &LiveResource) -> String {
    match label(resource) {
        name if name == resource.id => resource.id.clone(),
        name => format!("{} `{name}`", resource.id),
    }
}

/// `label` as a spec name (`[a-z](-?[a-z0-9])*`), without the project's and environment's
/// own words (`shop-staging-web` in staging of shop is `web`).
fn spec_name(label: &str, request: &ImportRequest) -> String {
    let lowered: String = label
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let words: Vec<&str> = lowered.split('-').filter(|w| !w.is_empty()).collect();
    // Common short forms of an environment's name count as its own words too.
    let short: &[&str] = match request.environment.as_str() {
        "production" => &["prod", "prd"],
        "staging" => &["stg", "stage"],
        "development" => &["dev"],
        _ => &[],
    };
    let own = |w: &&str| *w == request.project || *w == request.environment || short.contains(w);
    let kept: Vec<&str> = if words.iter().all(own) {
        words.clone()
    } else {
        words.iter().copied().filter(|w| !own(w)).collect()
    };
    let mut name = kept.join("-");
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("r-{name}");
    }
    name.truncate(40);
    name.trim_end_matches('-').to_string()
}

/// A role's name: the instance's name less a trailing number (`web-2` -> `web`).
fn role_name(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((role, number)) if number.chars().all(|c| c.is_ascii_digit()) => role.to_string(),
        _ => name.to_string(),
    }
}

/// `name`, or `name-2`, `name-3`... when another resource of `kind` has it.
fn unique(
    taken: &mut BTreeSet<(ResourceKind, String)>,
    kind: ResourceKind,
    name: String,
) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert((kind, candidate.clone())) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    candidate
}

/// The subnets in spec order and the instances in index order when the instances' spread is
/// the spec's round robin (instance `i` in subnet `i % n`): as many in each subnet, or one
/// more in the first ones. `None` for any other spread.
fn round_robin<'r, F>(
    instances: &[&'r LiveResource],
    subnet_of: F,
) -> Option<(Vec<String>, Vec<&'r LiveResource>)>
where
    F: Fn(&LiveResource) -> Option<String>,
{
    let mut by_subnet: BTreeMap<String, Vec<&LiveResource>> = BTreeMap::new();
    for instance in instances {
        by_subnet
            .entry(subnet_of(instance)?)
            .or_default()
            .push(instance);
    }
    let mut subnets: Vec<(String, Vec<&LiveResource>)> = by_subnet.into_iter().collect();
    // Most instances first, then by name: the expansion fills the first subnets first.
    subnets.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let most = subnets.first().map_or(0, |s| s.1.len());
    let least = subnets.last().map_or(0, |s| s.1.len());
    if most > least + 1 {
        return None;
    }
    let mut ordered = Vec::new();
    for round in 0..most {
        for (_, members) in &subnets {
            if let Some(instance) = members.get(round) {
                ordered.push(*instance);
            }
        }
    }
    Some((subnets.into_iter().map(|(s, _)| s).collect(), ordered))
}

fn copy_str(fields: &mut Fields, resource: &LiveResource, field: &str) {
    if let Some(value) = resource.fields.get(field).and_then(draft_value) {
        fields.push((field.to_string(), value));
    }
}

/// A plain live value as it is written in a spec (`None` for references and rules).
fn draft_value(value: &Value) -> Option<DraftValue> {
    Some(match value {
        Value::Bool(b) => DraftValue::Bool(*b),
        Value::Int(n) => DraftValue::Int(*n),
        Value::Float(x) => DraftValue::Float(x.get()),
        Value::Str(s) => DraftValue::Str(s.clone()),
        Value::List(items) => {
            DraftValue::List(items.iter().map(draft_value).collect::<Option<_>>()?)
        }
        Value::Ref(_) | Value::Rule(_) => return None,
    })
}

/// Names as a list of strings (`subnets = ["a", "b"]`).
fn name_list(names: Vec<String>) -> DraftValue {
    DraftValue::List(names.into_iter().map(DraftValue::Str).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ImportRequest {
        ImportRequest {
            project: "shop".to_string(),
            environment: "staging".to_string(),
            region: "us-east-1".to_string(),
            vpc: "vpc-1".to_string(),
        }
    }

    #[test]
    fn names_lose_the_project_and_environment_words_and_become_spec_names() {
        assert_eq!(
            spec_name("shop-staging-Web Servers", &request()),
            "web-servers"
        );
        assert_eq!(spec_name("staging_db", &request()), "db");
        assert_eq!(spec_name("10.0.1.0/24", &request()), "r-10-0-1-0-24");
        assert_eq!(spec_name("staging", &request()), "staging");
        assert_eq!(role_name("web-2"), "web");
        assert_eq!(role_name("web"), "web");
    }

    fn table(kind: &str, name: &str, fields: &[(&str, DraftValue)]) -> ResourceDraft {
        ResourceDraft {
            kind: kind.to_string(),
            name: name.to_string(),
            fields: fields
                .iter()
                .map(|(f, v)| (f.to_string(), v.clone()))
                .collect(),
            comments: Vec::new(),
        }
    }

    #[test]
    fn a_second_environment_adds_its_scale_and_drafts_every_other_difference() {
        let spec = [
            table(
                "instance",
                "web",
                &[
                    ("ami", DraftValue::Str("ami-1".into())),
                    ("instance_type", DraftValue::Str("t3.small".into())),
                    ("count", DraftValue::Int(2)),
                ],
            ),
            table("security_group", "bastion", &[]),
        ];
        let imported = Imported {
            draft: SpecDraft {
                environment: EnvironmentDraft {
                    name: "production".to_string(),
                    scale: Vec::new(),
                },
                resources: vec![
                    table(
                        "instance",
                        "web",
                        &[
                            ("ami", DraftValue::Str("ami-2".into())),
                            ("instance_type", DraftValue::Str("t3.large".into())),
                            ("count", DraftValue::Int(3)),
                        ],
                    ),
                    table("vpc", "extra", &[]),
                ],
                ..SpecDraft::default()
            },
            members: vec![
                Member {
                    address: Address::indexed(ResourceKind::Instance, "web", 0),
                    id: "i-1".to_string(),
                },
                Member {
                    address: Address::new(ResourceKind::Vpc, "extra"),
                    id: "vpc-9".to_string(),
                },
            ],
            found: Vec::new(),
        };
        let merge = merge(&spec, &imported);
        assert_eq!(
            merge.environment.scale,
            [(
                "instance.web".to_string(),
                vec![
                    (
                        "instance_type".to_string(),
                        DraftValue::Str("t3.large".into())
                    ),
                    ("count".to_string(), DraftValue::Int(3)),
                ]
            )]
        );
        assert_eq!(
            merge.differences,
            [DifferenceDraft {
                resource: "instance.web".to_string(),
                field: "ami".to_string(),
                values: vec![("production".to_string(), DraftValue::Str("ami-2".into()))],
            }]
        );
        // What one side has alone is said, and only matched resources are adopted.
        assert_eq!(merge.left_out.len(), 2, "{:?}", merge.left_out);
        assert!(merge.left_out[0].starts_with("vpc.extra is in `production` only"));
        assert!(merge.left_out[1].starts_with("security_group.bastion is in the spec"));
        assert_eq!(merge.members, imported.members[..1]);
    }

    #[test]
    fn the_only_resource_of_a_kind_left_on_each_side_is_the_same_role_whatever_its_name() {
        let spec = [
            table(
                "vpc",
                "network",
                &[("cidr", DraftValue::Str("10.1.0.0/16".into()))],
            ),
            table("subnet", "a", &[("vpc", DraftValue::Str("network".into()))]),
        ];
        let imported = Imported {
            draft: SpecDraft {
                environment: EnvironmentDraft {
                    name: "production".to_string(),
                    scale: Vec::new(),
                },
                resources: vec![
                    table(
                        "vpc",
                        "main-net",
                        &[("cidr", DraftValue::Str("10.1.0.0/16".into()))],
                    ),
                    table(
                        "subnet",
                        "a",
                        &[("vpc", DraftValue::Str("main-net".into()))],
                    ),
                ],
                ..SpecDraft::default()
            },
            members: vec![Member {
                address: Address::new(ResourceKind::Vpc, "main-net"),
                id: "vpc-2".to_string(),
            }],
            found: Vec::new(),
        };
        let merge = merge(&spec, &imported);
        assert_eq!(merge.differences, [], "the reference follows the rename");
        assert!(merge.left_out.is_empty(), "{:?}", merge.left_out);
        assert_eq!(
            merge.members[0].address,
            Address::new(ResourceKind::Vpc, "network")
        );
        assert_eq!(
            spec_name(
                "prod-web",
                &ImportRequest {
                    environment: "production".into(),
                    ..request()
                }
            ),
            "web"
        );
    }

    #[test]
    fn a_spread_is_folded_only_when_it_is_the_round_robin_one() {
        let instance = |id: &str, subnet: &str| LiveResource {
            outputs: Default::default(),
            address: crate::unmanaged_address(ResourceKind::Instance, id),
            kind: ResourceKind::Instance,
            id: id.to_string(),
            tags: BTreeMap::new(),
            depends_on: Vec::new(),
            fields: BTreeMap::from([("subnet".to_string(), Value::Str(subnet.to_string()))]),
        };
        let subnet = |i: &LiveResource| {
            i.fields
                .get("subnet")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (a1, b1, a2) = (
            instance("i-1", "a"),
            instance("i-2", "b"),
            instance("i-3", "a"),
        );
        let (subnets, ordered) = round_robin(&[&a1, &b1, &a2], subnet).expect("a, b, a");
        assert_eq!(subnets, ["a", "b"]);
        let ids: Vec<&str> = ordered.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["i-1", "i-2", "i-3"]);
        let a3 = instance("i-4", "a");
        assert!(
            round_robin(&[&a1, &a2, &a3, &b1], subnet).is_none(),
            "3 in a, 1 in b"
        );
    }
}
