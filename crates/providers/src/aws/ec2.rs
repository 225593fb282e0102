//! EC2 kinds: VPCs, subnets, security groups (and their rules), instances.
//!
//! Owns reading them by ownership tags (one paginated describe per kind) and their create,
//! update and delete calls. Invariants: every create carries its tags in `TagSpecifications`;
//! reference fields are read as raw ids and resolved to addresses by the caller; rule changes
//! authorize and revoke only the difference, authorizing before revoking so access never
//! lapses; an instance type change stops, modifies and starts the instance (AWS refuses it on
//! a running one); deletes of network resources wait out AWS's lingering dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{
    AttributeValue, Filter, InstanceStateName, InstanceType, IpPermission, ResourceType,
    RunInstancesMonitoringEnabled, Tag, TagSpecification,
};
use envctl_engine::{
    CloudIds, Conflict, FieldChange, LiveResource, Progress, ProviderError, Scope,
    unmanaged_address,
};
use envctl_spec::{Address, DesiredResource, ResourceKind, TAG_ENVIRONMENT, TAG_PROJECT, Value};
use sha2::{Digest, Sha256};

use super::error::classify;
use super::once::ec2_no_retry;
use super::rules::{Rule, rules_from_permissions};
use super::wait::{Poll, wait_until};
use super::{
    AwsProvider, Claim, address_from_tags, claim, conflict, field_id, field_ids, field_str, live,
    tags_to_apply, text,
};

/// Instance states that count as existing (terminated ones stay listed for a while).
const LIVE_INSTANCE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

/// The live field holding an instance's run state (`running`, `stopped`, ...). The spec never
/// sets it: every instance it describes is meant to run.
pub(super) const STATE_FIELD: &str = "state";

/// Everything tagged for the project: the environment tag is judged per resource (see
/// [`claim`]), so that one with a missing or unknown environment is reported, not missed.
fn ownership_filters(scope: &Scope) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name(format!("tag:{TAG_PROJECT}"))
            .values(&scope.project)
            .build(),
    ]
}

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

fn tag_specification(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(kind);
    for (key, value) in tags {
        spec = spec.tags(Tag::builder().key(key).value(value).build());
    }
    spec.build()
}

fn rule_set(rules: &[Rule]) -> Value {
    Value::string_set(rules.iter().map(Rule::render))
}

impl AwsProvider {
    /// Reads every owned VPC, subnet, security group and instance (four describes at once),
    /// and what claims to be the environment's without proof.
    pub(super) async fn read_ec2(
        &self,
        scope: &Scope,
    ) -> Result<(Vec<LiveResource>, Vec<Conflict>), ProviderError> {
        let filters = ownership_filters(scope);
        let instance_filters = {
            let mut f = filters.clone();
            f.push(
                Filter::builder()
                    .name("instance-state-name")
                    .set_values(Some(
                        LIVE_INSTANCE_STATES.iter().map(|s| s.to_string()).collect(),
                    ))
                    .build(),
            );
            f
        };
        let (vpcs, subnets, groups, reservations) = tokio::try_join!(
            async {
                self.ec2
                    .describe_vpcs()
                    .set_filters(Some(filters.clone()))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "VPCs"))
            },
            async {
                self.ec2
                    .describe_subnets()
                    .set_filters(Some(filters.clone()))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "subnets"))
            },
            async {
                self.ec2
                    .describe_security_groups()
                    .set_filters(Some(filters.clone()))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "security groups"))
            },
            async {
                self.ec2
                    .describe_instances()
                    .set_filters(Some(instance_filters))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "instances"))
            },
        )?;

        let mut resources = Vec::new();
        let mut conflicts = Vec::new();
        // The address a resource's tags give it for this environment, or `None` when it is
        // someone else's or (then recorded) unclear.
        let mut ours = |tags: &BTreeMap<String, String>, kind, id: Option<&str>| match claim(
            tags, kind, scope,
        ) {
            Claim::Ours(address) => Some(address),
            Claim::Others => None,
            Claim::Unclear(reason) => {
                conflicts.push(conflict(kind, id.unwrap_or_default(), tags.clone(), reason));
                None
            }
        };
        for vpc in vpcs {
            let tags = tag_map(vpc.tags());
            let Some(address) = ours(&tags, ResourceKind::Vpc, vpc.vpc_id()) else {
                continue;
            };
            resources.push(live(
                address,
                vpc.vpc_id().unwrap_or_default().to_string(),
                tags,
                vec![("cidr", text(vpc.cidr_block()))],
            ));
        }
        for subnet in subnets {
            let tags = tag_map(subnet.tags());
            let Some(address) = ours(&tags, ResourceKind::Subnet, subnet.subnet_id()) else {
                continue;
            };
            resources.push(live(
                address,
                subnet.subnet_id().unwrap_or_default().to_string(),
                tags,
                vec![
                    ("vpc", text(subnet.vpc_id())),
                    ("cidr", text(subnet.cidr_block())),
                    ("zone", text(subnet.availability_zone())),
                ],
            ));
        }
        let group_addresses: BTreeMap<String, Address> = groups
            .iter()
            .filter_map(
                |g| match claim(&tag_map(g.tags()), ResourceKind::SecurityGroup, scope) {
                    Claim::Ours(address) => Some((g.group_id()?.to_string(), address)),
                    _ => None,
                },
            )
            .collect();
        for group in &groups {
            let tags = tag_map(group.tags());
            let Some(address) = ours(&tags, ResourceKind::SecurityGroup, group.group_id()) else {
                continue;
            };
            let ingress = rules_from_permissions(group.ip_permissions(), &group_addresses);
            let egress = rules_from_permissions(group.ip_permissions_egress(), &group_addresses);
            let mut resource = live(
                address.clone(),
                group.group_id().unwrap_or_default().to_string(),
                tags,
                vec![
                    ("vpc", text(group.vpc_id())),
                    ("description", text(group.description())),
                    ("ingress", rule_set(&ingress)),
                    ("egress", rule_set(&egress)),
                ],
            );
            // Groups named in rules must outlive this group's rules.
            resource.depends_on = ingress
                .iter()
                .chain(&egress)
                .filter_map(|r| match &r.source {
                    super::rules::Source::Group(a) if a != &address => Some(a.clone()),
                    _ => None,
                })
                .collect();
            resources.push(resource);
        }
        let instances: Vec<_> = reservations.iter().flat_map(|r| r.instances()).collect();
        let volume_sizes = self.root_volume_sizes(&instances).await?;
        for instance in instances {
            let tags = tag_map(instance.tags());
            let Some(address) = ours(&tags, ResourceKind::Instance, instance.instance_id()) else {
                continue;
            };
            let id = instance.instance_id().unwrap_or_default().to_string();
            let monitoring = instance
                .monitoring()
                .and_then(|m| m.state())
                .is_some_and(|s| matches!(s.as_str(), "enabled" | "pending"));
            let mut fields = vec![
                ("ami", text(instance.image_id())),
                (
                    "instance_type",
                    text(instance.instance_type().map(|t| t.as_str())),
                ),
                ("subnet", text(instance.subnet_id())),
                (
                    "security_groups",
                    Value::string_set(
                        instance
                            .security_groups()
                            .iter()
                            .filter_map(|g| g.group_id().map(str::to_string)),
                    ),
                ),
                ("monitoring", Value::Bool(monitoring)),
                (
                    STATE_FIELD,
                    text(instance.state().and_then(|s| s.name()).map(|n| n.as_str())),
                ),
            ];
            if let Some(size) = volume_sizes.get(&id) {
                fields.push(("volume_size", Value::Int(i64::from(*size))));
            }
            resources.push(live(address, id, tags, fields));
        }
        Ok((resources, conflicts))
    }

    /// Untagged subnets, security groups and instances inside the owned VPCs (three describes
    /// at once, filtered by VPC). Anything carrying envctl's tags is left out (it belongs to
    /// some environment), and so is each VPC's `default` group, which AWS owns.
    pub(super) async fn read_unmanaged_ec2(
        &self,
        owned: &[LiveResource],
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let vpc_ids: Vec<String> = owned
            .iter()
            .filter(|r| r.kind == ResourceKind::Vpc)
            .map(|r| r.id.clone())
            .collect();
        if vpc_ids.is_empty() {
            return Ok(Vec::new());
        }
        let in_vpcs = Filter::builder()
            .name("vpc-id")
            .set_values(Some(vpc_ids))
            .build();
        let live_states = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(
                LIVE_INSTANCE_STATES.iter().map(|s| s.to_string()).collect(),
            ))
            .build();
        let (subnets, groups, reservations) = tokio::try_join!(
            async {
                self.ec2
                    .describe_subnets()
                    .filters(in_vpcs.clone())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "subnets"))
            },
            async {
                self.ec2
                    .describe_security_groups()
                    .filters(in_vpcs.clone())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "security groups"))
            },
            async {
                self.ec2
                    .describe_instances()
                    .filters(in_vpcs.clone())
                    .filters(live_states)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "instances"))
            },
        )?;
        let untracked = |tags: &BTreeMap<String, String>| !tags.contains_key(TAG_PROJECT);
        let mut strays = Vec::new();
        for subnet in subnets {
            let tags = tag_map(subnet.tags());
            let Some(id) = subnet.subnet_id().filter(|_| untracked(&tags)) else {
                continue;
            };
            strays.push(live(
                unmanaged_address(ResourceKind::Subnet, id),
                id.to_string(),
                tags,
                vec![("vpc", text(subnet.vpc_id()))],
            ));
        }
        for group in groups {
            let tags = tag_map(group.tags());
            if group.group_name() == Some("default") {
                continue;
            }
            let Some(id) = group.group_id().filter(|_| untracked(&tags)) else {
                continue;
            };
            strays.push(live(
                unmanaged_address(ResourceKind::SecurityGroup, id),
                id.to_string(),
                tags,
                vec![("vpc", text(group.vpc_id()))],
            ));
        }
        for instance in reservations.iter().flat_map(|r| r.instances()) {
            let tags = tag_map(instance.tags());
            let Some(id) = instance.instance_id().filter(|_| untracked(&tags)) else {
                continue;
            };
            strays.push(live(
                unmanaged_address(ResourceKind::Instance, id),
                id.to_string(),
                tags,
                vec![
                    ("subnet", text(instance.subnet_id())),
                    (
                        "security_groups",
                        Value::string_set(
                            instance
                                .security_groups()
                                .iter()
                                .filter_map(|g| g.group_id().map(str::to_string)),
                        ),
                    ),
                ],
            ));
        }
        Ok(strays)
    }

    /// Root volume size (GiB) by instance id, in one describe for all instances.
    async fn root_volume_sizes(
        &self,
        instances: &[&aws_sdk_ec2::types::Instance],
    ) -> Result<BTreeMap<String, i32>, ProviderError> {
        let mut root_volumes: BTreeMap<String, String> = BTreeMap::new();
        for instance in instances {
            let root = instance.root_device_name().unwrap_or_default();
            let volume = instance
                .block_device_mappings()
                .iter()
                .find(|m| m.device_name() == Some(root))
                .or_else(|| instance.block_device_mappings().first())
                .and_then(|m| m.ebs())
                .and_then(|e| e.volume_id());
            if let (Some(volume), Some(id)) = (volume, instance.instance_id()) {
                root_volumes.insert(volume.to_string(), id.to_string());
            }
        }
        if root_volumes.is_empty() {
            return Ok(BTreeMap::new());
        }
        // By filter, not by id: a volume deleted since the instances were listed (an instance
        // terminating meanwhile) is simply absent instead of failing the whole read.
        let volumes = self
            .ec2
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("volume-id")
                    .set_values(Some(root_volumes.keys().cloned().collect()))
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "volumes"))?;
        Ok(volumes
            .iter()
            .filter_map(|v| {
                let instance = root_volumes.get(v.volume_id()?)?;
                Some((instance.clone(), v.size()?))
            })
            .collect())
    }

    /// The id of a resource of `desired`'s kind carrying exactly its ownership tags, other
    /// than `exclude` (the copy being replaced): what an earlier attempt whose answer was
    /// lost may have made.
    async fn find_tagged(
        &self,
        desired: &DesiredResource,
        exclude: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let what = desired.address.to_string();
        let filters: Vec<Filter> = [TAG_PROJECT, TAG_ENVIRONMENT, envctl_spec::TAG_ADDRESS]
            .iter()
            .filter_map(|key| {
                let value = desired.tags.get(*key)?;
                Some(
                    Filter::builder()
                        .name(format!("tag:{key}"))
                        .values(value)
                        .build(),
                )
            })
            .collect();
        let ids: Vec<String> = match desired.kind {
            ResourceKind::Vpc => self
                .ec2
                .describe_vpcs()
                .set_filters(Some(filters))
                .send()
                .await
                .map_err(|e| classify(e, &what))?
                .vpcs()
                .iter()
                .filter_map(|v| v.vpc_id().map(str::to_string))
                .collect(),
            ResourceKind::Subnet => self
                .ec2
                .describe_subnets()
                .set_filters(Some(filters))
                .send()
                .await
                .map_err(|e| classify(e, &what))?
                .subnets()
                .iter()
                .filter_map(|v| v.subnet_id().map(str::to_string))
                .collect(),
            ResourceKind::SecurityGroup => self
                .ec2
                .describe_security_groups()
                .set_filters(Some(filters))
                .send()
                .await
                .map_err(|e| classify(e, &what))?
                .security_groups()
                .iter()
                .filter_map(|v| v.group_id().map(str::to_string))
                .collect(),
            ResourceKind::Instance => {
                let mut filters = filters;
                filters.push(
                    Filter::builder()
                        .name("instance-state-name")
                        .set_values(Some(
                            LIVE_INSTANCE_STATES.iter().map(|s| s.to_string()).collect(),
                        ))
                        .build(),
                );
                self.ec2
                    .describe_instances()
                    .set_filters(Some(filters))
                    .send()
                    .await
                    .map_err(|e| classify(e, &what))?
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(|i| i.instance_id().map(str::to_string))
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(ids.into_iter().find(|id| Some(id.as_str()) != exclude))
    }

    pub(super) async fn create_vpc(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let cidr = field_str(desired, "cidr")?;
        let tags = tags_to_apply(desired);
        let old_copy = ids.get(&desired.address).map(String::as_str);
        self.create_once(
            &what,
            || async {
                let out = self
                    .ec2
                    .create_vpc()
                    .cidr_block(cidr)
                    .tag_specifications(tag_specification(ResourceType::Vpc, &tags))
                    .customize()
                    .config_override(ec2_no_retry())
                    .send()
                    .await
                    .map_err(|e| classify(e, &what))?;
                out.vpc()
                    .and_then(|v| v.vpc_id())
                    .map(str::to_string)
                    .ok_or_else(|| no_id(&what))
            },
            || self.find_tagged(desired, old_copy),
        )
        .await
    }

    pub(super) async fn create_subnet(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let vpc = field_id(desired, "vpc", ids)?;
        let cidr = field_str(desired, "cidr")?;
        let zone = field_str(desired, "zone")?;
        let tags = tags_to_apply(desired);
        let old_copy = ids.get(&desired.address).map(String::as_str);
        self.create_once(
            &what,
            || async {
                let out = self
                    .ec2
                    .create_subnet()
                    .vpc_id(&vpc)
                    .cidr_block(cidr)
                    .availability_zone(zone)
                    .tag_specifications(tag_specification(ResourceType::Subnet, &tags))
                    .customize()
                    .config_override(ec2_no_retry())
                    .send()
                    .await
                    .map_err(|e| classify(e, &what))?;
                out.subnet()
                    .and_then(|s| s.subnet_id())
                    .map(str::to_string)
                    .ok_or_else(|| no_id(&what))
            },
            || self.find_tagged(desired, old_copy),
        )
        .await
    }

    pub(super) async fn create_security_group(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let vpc_id = field_id(desired, "vpc", ids)?;
        // A group being replaced still holds the plain name until its dependents have moved
        // to the new one: the new copy then takes a fresh, deterministic name.
        let old_copy = ids.get(&desired.address).cloned();
        let mut name = desired.cloud_name.clone();
        if let Some(old_id) = &old_copy
            && self.group_id_named(&name, &vpc_id, &what).await?.as_ref() == Some(old_id)
        {
            let digest = envctl_engine::applied_digest(&desired.fields);
            name = format!("{}-{}", desired.cloud_name, &digest[..8.min(digest.len())]);
        }
        let description = field_str(desired, "description")?;
        let tags = tags_to_apply(desired);
        let created = self
            .create_once(
                &what,
                || async {
                    let out = self
                        .ec2
                        .create_security_group()
                        .group_name(&name)
                        .description(description)
                        .vpc_id(&vpc_id)
                        .tag_specifications(tag_specification(ResourceType::SecurityGroup, &tags))
                        .customize()
                        .config_override(ec2_no_retry())
                        .send()
                        .await
                        .map_err(|e| classify(e, &what))?;
                    let id = out
                        .group_id()
                        .map(str::to_string)
                        .ok_or_else(|| no_id(&what))?;
                    // A new group in a VPC has AWS's default egress rule and no ingress.
                    Ok((id, Vec::new(), vec!["all:all:cidr=0.0.0.0/0".to_string()]))
                },
                // A lost answer: the group may exist under its name already.
                || async {
                    match self.adopt_group(desired, &name, &vpc_id, ids).await {
                        Ok(found) => Ok(Some(found)),
                        Err(ProviderError::NotFound { .. }) => Ok(None),
                        Err(other) => Err(other),
                    }
                },
            )
            .await;
        let (group_id, ingress, egress) = match created {
            Ok(made) => made,
            // An interrupted earlier run created it: adopt it if it is ours.
            Err(ProviderError::AlreadyExists { .. }) => {
                self.adopt_group(desired, &name, &vpc_id, ids).await?
            }
            Err(other) => return Err(other),
        };
        let mut ids = ids.clone();
        ids.insert(desired.address.clone(), group_id.clone());
        for (field, live_rules) in [("ingress", ingress), ("egress", egress)] {
            let desired_rules: Vec<&str> = desired
                .field(field)
                .map(Value::str_items)
                .unwrap_or_default();
            let live_rules: Vec<&str> = live_rules.iter().map(String::as_str).collect();
            self.sync_rules(&group_id, field, &desired_rules, &live_rules, &ids, &what)
                .await?;
        }
        Ok(group_id)
    }

    /// The id of the group called `name` in `vpc_id`, if there is one.
    async fn group_id_named(
        &self,
        name: &str,
        vpc_id: &str,
        what: &str,
    ) -> Result<Option<String>, ProviderError> {
        let out = self
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(name).build())
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .send()
            .await
            .map_err(|e| classify(e, what))?;
        Ok(out
            .security_groups()
            .first()
            .and_then(|g| g.group_id())
            .map(str::to_string))
    }

    /// Finds the group an earlier run created under this name; refuses one that is not ours.
    async fn adopt_group(
        &self,
        desired: &DesiredResource,
        name: &str,
        vpc_id: &str,
        ids: &CloudIds,
    ) -> Result<(String, Vec<String>, Vec<String>), ProviderError> {
        let what = desired.address.to_string();
        let out = self
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(name).build())
            .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        let group = out
            .security_groups()
            .first()
            .ok_or_else(|| ProviderError::NotFound { what: what.clone() })?;
        let tags = tag_map(group.tags());
        if address_from_tags(&tags, ResourceKind::SecurityGroup).as_ref() != Some(&desired.address)
            || desired
                .tags
                .iter()
                .any(|(k, v)| (k == TAG_PROJECT || k == TAG_ENVIRONMENT) && tags.get(k) != Some(v))
        {
            return Err(ProviderError::AlreadyExists {
                what: format!("security group `{name}` (not created by envctl for {what})"),
            });
        }
        let id = group
            .group_id()
            .map(str::to_string)
            .ok_or_else(|| no_id(&what))?;
        if ids.get(&desired.address) == Some(&id) {
            // That is the copy being replaced, never the replacement.
            return Err(ProviderError::AlreadyExists {
                what: format!("security group `{name}` (the copy {what} replaces)"),
            });
        }
        // Rules naming owned groups must render with their addresses, as desired rules do.
        let mut group_addresses: BTreeMap<String, Address> = ids
            .iter()
            .filter(|(a, _)| a.kind == ResourceKind::SecurityGroup)
            .map(|(a, id)| (id.clone(), a.clone()))
            .collect();
        group_addresses.insert(id.clone(), desired.address.clone());
        let render = |permissions: &[IpPermission]| -> Vec<String> {
            rules_from_permissions(permissions, &group_addresses)
                .iter()
                .map(Rule::render)
                .collect()
        };
        Ok((
            id,
            render(group.ip_permissions()),
            render(group.ip_permissions_egress()),
        ))
    }

    /// Authorizes the rules `desired` has and `live` lacks, then revokes the reverse.
    async fn sync_rules(
        &self,
        group_id: &str,
        direction: &str,
        desired: &[&str],
        live: &[&str],
        ids: &CloudIds,
        what: &str,
    ) -> Result<(), ProviderError> {
        let desired_set: BTreeSet<&str> = desired.iter().copied().collect();
        let live_set: BTreeSet<&str> = live.iter().copied().collect();
        let to_permissions = |texts: Vec<&str>| -> Result<Vec<IpPermission>, ProviderError> {
            texts
                .into_iter()
                .map(|text| {
                    let rule = Rule::parse(text).ok_or_else(|| ProviderError::Rejected {
                        code: "InvalidRule".into(),
                        message: format!("`{text}` is not a rule envctl understands"),
                        request_id: None,
                    })?;
                    rule.to_permission(ids)
                        .ok_or_else(|| ProviderError::UnresolvedReference {
                            address: text.to_string(),
                        })
                })
                .collect()
        };
        let add = to_permissions(desired_set.difference(&live_set).copied().collect())?;
        let remove = to_permissions(live_set.difference(&desired_set).copied().collect())?;
        // One call per direction (the APIs take a list); only when AWS refuses the batch
        // because part of it is already there (or already gone) is it sent one by one.
        if !add.is_empty() {
            match self.authorize(group_id, direction, add.clone(), what).await {
                Ok(()) => {}
                Err(error) if is_duplicate(&error) => {
                    for permission in add {
                        match self
                            .authorize(group_id, direction, vec![permission], what)
                            .await
                        {
                            Ok(()) => {}
                            Err(error) if is_duplicate(&error) => {}
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(other) => return Err(other),
            }
        }
        if !remove.is_empty() {
            match self.revoke(group_id, direction, remove.clone(), what).await {
                Ok(()) => {}
                Err(ProviderError::NotFound { .. }) => {
                    for permission in remove {
                        match self
                            .revoke(group_id, direction, vec![permission], what)
                            .await
                        {
                            Ok(()) | Err(ProviderError::NotFound { .. }) => {}
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    async fn authorize(
        &self,
        group_id: &str,
        direction: &str,
        permissions: Vec<IpPermission>,
        what: &str,
    ) -> Result<(), ProviderError> {
        if direction == "ingress" {
            self.ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, what))
        } else {
            self.ec2
                .authorize_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, what))
        }
    }

    async fn revoke(
        &self,
        group_id: &str,
        direction: &str,
        permissions: Vec<IpPermission>,
        what: &str,
    ) -> Result<(), ProviderError> {
        if direction == "ingress" {
            self.ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, what))
        } else {
            self.ec2
                .revoke_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, what))
        }
    }

    pub(super) async fn update_security_group(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let mut ids = ids.clone();
        ids.insert(desired.address.clone(), live.id.clone());
        for change in changes {
            if change.field != "ingress" && change.field != "egress" {
                continue;
            }
            let desired_rules = change
                .desired
                .as_ref()
                .map(Value::str_items)
                .unwrap_or_default();
            let live_rules = change
                .live
                .as_ref()
                .map(Value::str_items)
                .unwrap_or_default();
            self.sync_rules(
                &live.id,
                &change.field,
                &desired_rules,
                &live_rules,
                &ids,
                &what,
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn create_instance(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let ami = field_str(desired, "ami")?;
        let tags = tags_to_apply(desired);
        let token = {
            let digest = Sha256::digest(
                format!(
                    "{}|{}|{}",
                    desired.address,
                    envctl_engine::applied_digest(&desired.fields),
                    self.run_nonce
                )
                .as_bytes(),
            );
            format!("envctl-{digest:x}")
                .chars()
                .take(64)
                .collect::<String>()
        };
        let mut request = self
            .ec2
            .run_instances()
            .image_id(ami)
            .instance_type(InstanceType::from(field_str(desired, "instance_type")?))
            .min_count(1)
            .max_count(1)
            .subnet_id(field_id(desired, "subnet", ids)?)
            .set_security_group_ids(Some(field_ids(desired, "security_groups", ids)?))
            .monitoring(
                RunInstancesMonitoringEnabled::builder()
                    .enabled(
                        desired
                            .field("monitoring")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    )
                    .build(),
            )
            .tag_specifications(tag_specification(ResourceType::Instance, &tags))
            .tag_specifications(tag_specification(ResourceType::Volume, &tags))
            .client_token(token);
        if let Some(size) = desired.field("volume_size").and_then(Value::as_int) {
            let root = self.root_device_name(ami, &what).await?;
            request = request.block_device_mappings(
                aws_sdk_ec2::types::BlockDeviceMapping::builder()
                    .device_name(root)
                    .ebs(
                        aws_sdk_ec2::types::EbsBlockDevice::builder()
                            .volume_size(i32::try_from(size).unwrap_or(i32::MAX))
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            );
        }
        let old_copy = ids.get(&desired.address).map(String::as_str);
        let id = self
            .create_once(
                &what,
                || async {
                    let out = request
                        .clone()
                        .customize()
                        .config_override(ec2_no_retry())
                        .send()
                        .await
                        .map_err(|e| classify(e, &what))?;
                    out.instances()
                        .first()
                        .and_then(|i| i.instance_id())
                        .map(str::to_string)
                        .ok_or_else(|| no_id(&what))
                },
                || self.find_tagged(desired, old_copy),
            )
            .await?;
        self.wait_for_instance(&id, &[InstanceStateName::Running], &what, progress)
            .await?;
        Ok(id)
    }

    /// The root device of `ami`, where the root volume size goes. An image that cannot be
    /// described gets the common default; RunInstances then says whether the image exists.
    async fn root_device_name(&self, ami: &str, what: &str) -> Result<String, ProviderError> {
        const DEFAULT_ROOT: &str = "/dev/xvda";
        let out = self
            .ec2
            .describe_images()
            .image_ids(ami)
            .send()
            .await
            .map_err(|e| classify(e, what));
        let out = match out {
            Ok(out) => out,
            Err(ProviderError::NotFound { .. }) => return Ok(DEFAULT_ROOT.to_string()),
            Err(other) => return Err(other),
        };
        Ok(out
            .images()
            .first()
            .and_then(|i| i.root_device_name())
            .unwrap_or(DEFAULT_ROOT)
            .to_string())
    }

    /// Waits until the instance is in one of `states` (gone counts as terminated).
    async fn wait_for_instance(
        &self,
        id: &str,
        states: &[InstanceStateName],
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let label = format!(
            "{what} to be {}",
            states
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        );
        let timeout = self.waits.of(ResourceKind::Instance);
        wait_until(&label, timeout, self.waits.first_poll, progress, || async {
            let state = self.instance_state(id, what).await?;
            Ok(match state {
                Some(state) => Poll::from(states.contains(&state), state.as_str()),
                None => Poll::from(states.contains(&InstanceStateName::Terminated), "gone"),
            })
        })
        .await
    }

    /// The instance's run state; `None` when it is gone.
    async fn instance_state(
        &self,
        id: &str,
        what: &str,
    ) -> Result<Option<InstanceStateName>, ProviderError> {
        let out = self.ec2.describe_instances().instance_ids(id).send().await;
        let out = match out.map_err(|e| classify(e, what)) {
            Ok(out) => out,
            Err(ProviderError::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| i.state().and_then(|s| s.name()).cloned()))
    }

    /// Starts a stopped instance (waiting out `stopping` first) and waits until it runs.
    async fn start_instance(
        &self,
        id: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        match self.instance_state(id, what).await? {
            Some(InstanceStateName::Running) => return Ok(()),
            Some(InstanceStateName::Pending) => {}
            Some(InstanceStateName::Stopping) => {
                self.wait_for_instance(id, &[InstanceStateName::Stopped], what, progress)
                    .await?;
                self.send_start(id, what).await?;
            }
            _ => self.send_start(id, what).await?,
        }
        self.wait_for_instance(id, &[InstanceStateName::Running], what, progress)
            .await
    }

    async fn send_start(&self, id: &str, what: &str) -> Result<(), ProviderError> {
        self.ec2
            .start_instances()
            .instance_ids(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, what))
    }

    /// Stops the instance (unless it is stopped already) and waits until it is.
    async fn stop_instance(
        &self,
        id: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        if self.instance_state(id, what).await? != Some(InstanceStateName::Stopped) {
            self.ec2
                .stop_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| classify(e, what))?;
        }
        self.wait_for_instance(id, &[InstanceStateName::Stopped], what, progress)
            .await
    }

    /// A type change needs a stopped instance: stop, modify, start. When the modify fails
    /// the instance is started again with its old type before the error is returned, so a
    /// failed resize never leaves it down.
    async fn resize_instance(
        &self,
        id: &str,
        instance_type: &str,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.stop_instance(id, what, progress).await?;
        let modified = self
            .ec2
            .modify_instance_attribute()
            .instance_id(id)
            .instance_type(AttributeValue::builder().value(instance_type).build())
            .send()
            .await
            .map_err(|e| classify(e, what));
        let started = self.start_instance(id, what, progress).await;
        match (modified, started) {
            (Ok(_), started) => started,
            (Err(error), Ok(())) => Err(ProviderError::Rejected {
                code: "ResizeFailed".into(),
                message: format!(
                    "{what} could not change to {instance_type} and was started again with its old type: {error}"
                ),
                request_id: None,
            }),
            (Err(error), Err(start_error)) => Err(ProviderError::Rejected {
                code: "ResizeFailed".into(),
                message: format!(
                    "{what} could not change to {instance_type} ({error}) and did not start again ({start_error}): it is not running"
                ),
                request_id: None,
            }),
        }
    }

    pub(super) async fn update_instance(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        // The resize starts the instance again, so a separate start is only needed without one.
        let resizing = changes.iter().any(|c| c.field == "instance_type");
        let parts: Vec<&FieldChange> = changes
            .iter()
            .filter(|c| {
                matches!(
                    c.field.as_str(),
                    "instance_type" | "security_groups" | "monitoring" | "volume_size"
                ) || (c.field == STATE_FIELD && !resizing)
            })
            .collect();
        let mut done: Vec<String> = Vec::new();
        for (index, change) in parts.iter().enumerate() {
            let result = match change.field.as_str() {
                "instance_type" => match field_str(desired, "instance_type") {
                    Ok(instance_type) => {
                        self.resize_instance(&live.id, instance_type, &what, progress)
                            .await
                    }
                    Err(error) => Err(error),
                },
                STATE_FIELD => self.start_instance(&live.id, &what, progress).await,
                "security_groups" => match field_ids(desired, "security_groups", ids) {
                    Ok(groups) => self
                        .ec2
                        .modify_instance_attribute()
                        .instance_id(&live.id)
                        .set_groups(Some(groups))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| classify(e, &what)),
                    Err(error) => Err(error),
                },
                "monitoring" => {
                    let enable = desired
                        .field("monitoring")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    if enable {
                        self.ec2
                            .monitor_instances()
                            .instance_ids(&live.id)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| classify(e, &what))
                    } else {
                        self.ec2
                            .unmonitor_instances()
                            .instance_ids(&live.id)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| classify(e, &what))
                    }
                }
                _ => self.grow_root_volume(desired, live, &what).await,
            };
            match result {
                Ok(()) => done.push(change.field.clone()),
                Err(error) if done.is_empty() && index + 1 == parts.len() => return Err(error),
                Err(error) => {
                    return Err(ProviderError::Partial {
                        done,
                        not_done: parts[index..].iter().map(|c| c.field.clone()).collect(),
                        source: Box::new(error),
                    });
                }
            }
        }
        Ok(())
    }

    async fn grow_root_volume(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        what: &str,
    ) -> Result<(), ProviderError> {
        let Some(size) = desired.field("volume_size").and_then(Value::as_int) else {
            return Ok(());
        };
        let out = self
            .ec2
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("attachment.instance-id")
                    .values(&live.id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(e, what))?;
        let volume = out
            .volumes()
            .first()
            .and_then(|v| v.volume_id())
            .ok_or_else(|| ProviderError::NotFound {
                what: format!("root volume of {what}"),
            })?;
        self.ec2
            .modify_volume()
            .volume_id(volume)
            .size(i32::try_from(size).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify(e, what))?;
        Ok(())
    }

    /// Sets every desired tag and the applied digest on an EC2 resource.
    pub(super) async fn tag_ec2(
        &self,
        desired: &DesiredResource,
        id: &str,
    ) -> Result<(), ProviderError> {
        let tags: Vec<Tag> = tags_to_apply(desired)
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| classify(e, &desired.address.to_string()))?;
        Ok(())
    }

    pub(super) async fn delete_instance(
        &self,
        live: &LiveResource,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        self.ec2
            .terminate_instances()
            .instance_ids(&live.id)
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        self.wait_for_instance(&live.id, &[InstanceStateName::Terminated], &what, progress)
            .await
    }

    pub(super) async fn delete_security_group(
        &self,
        live: &LiveResource,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        self.retry_while_in_use(&what, progress, || async {
            self.ec2
                .delete_security_group()
                .group_id(&live.id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, &what))
        })
        .await
    }

    pub(super) async fn delete_subnet(
        &self,
        live: &LiveResource,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        self.retry_while_in_use(&what, progress, || async {
            self.ec2
                .delete_subnet()
                .subnet_id(&live.id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, &what))
        })
        .await
    }

    pub(super) async fn delete_vpc(
        &self,
        live: &LiveResource,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        self.retry_while_in_use(&what, progress, || async {
            self.ec2
                .delete_vpc()
                .vpc_id(&live.id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, &what))
        })
        .await
    }

    /// Network interfaces of terminated instances linger for a minute or two in AWS, so a
    /// delete refused with `DependencyViolation` is retried for a while before giving up.
    async fn retry_while_in_use<F, Fut>(
        &self,
        what: &str,
        progress: &dyn Progress,
        mut attempt: F,
    ) -> Result<(), ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), ProviderError>>,
    {
        let started = Instant::now();
        let deadline = started + self.waits.ec2.min(Duration::from_secs(5 * 60));
        let mut pause = self.waits.first_poll;
        loop {
            match attempt().await {
                Err(ProviderError::Rejected {
                    code,
                    message,
                    request_id,
                }) if code == "DependencyViolation" => {
                    if Instant::now() >= deadline {
                        return Err(ProviderError::Rejected {
                            code,
                            message: format!("{what} is still in use: {message}"),
                            request_id,
                        });
                    }
                    progress.waiting("in use", started.elapsed());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 3 / 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }
}

/// Whether a rule call was refused because a rule is already there (a retried call, another
/// run).
fn is_duplicate(error: &ProviderError) -> bool {
    match error {
        ProviderError::AlreadyExists { .. } => true,
        ProviderError::Rejected { code, .. } => code == "InvalidPermission.Duplicate",
        _ => false,
    }
}

fn no_id(what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "MissingId".into(),
        message: format!("AWS created {what} but returned no id"),
        request_id: None,
    }
}
