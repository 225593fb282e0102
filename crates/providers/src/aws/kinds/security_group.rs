//! Security groups and their rules: read by the project's tag, created in their VPC, rules
//! synchronised in place.
//!
//! Invariants: rule changes authorize and revoke only the difference, authorizing before
//! revoking so access never lapses; a replacement brings the new group up first, under a
//! fresh deterministic name while the old one still holds the plain name, so instances,
//! clusters and other groups' rules can move to it before the old group is deleted; rules
//! naming owned groups are read as those groups' addresses (the group depends on them);
//! each VPC's `default` group belongs to AWS and is never read as unmanaged.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, IpPermission, ResourceType};
use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    Scope, unmanaged_address,
};
use envctl_spec::{Address, DesiredResource, Peer, ResourceKind, Rule, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::ec2::{in_vpcs, no_id, ownership_filters, tag_map, tag_specification, untracked};
use crate::aws::error::classify;
use crate::aws::once::ec2_no_retry;
use crate::aws::rules::{permission, rules_from_permissions};
use crate::aws::{
    AwsProvider, Claim, claim, field_id, field_str, live, made_for, ours, tags_to_apply, text,
};

/// The `security_group` kind.
#[derive(Debug)]
pub(crate) struct SecurityGroup;

impl AwsKind for SecurityGroup {
    const KIND: ResourceKind = ResourceKind::SecurityGroup;
    const SERVICE: Service = Service::Ec2;
    const FORCES_REPLACEMENT: &'static [&'static str] = &["vpc", "description"];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[("vpc", ResourceKind::Vpc)];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = Some(("vpc", ResourceKind::Vpc));
    const IMPORTED: bool = true;

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        // No unique name in the way: see `create_security_group`.
        ReplaceOrder::CreateBeforeDestroy
    }

    fn repointable_fields(target: ResourceKind) -> &'static [&'static str] {
        // A rule naming a replaced group is revoked and authorized again for the new one.
        if target == ResourceKind::SecurityGroup {
            &["ingress", "egress"]
        } else {
            &[]
        }
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let groups: Vec<_> = aws
            .ec2
            .describe_security_groups()
            .set_filters(Some(ownership_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "security groups"))?;
        let group_addresses: BTreeMap<String, Address> = groups
            .iter()
            .filter_map(|g| {
                let id = g.group_id()?;
                if scope.network.is_some() {
                    return Some((id.to_string(), unmanaged_address(Self::KIND, id)));
                }
                match claim(&tag_map(g.tags()), Self::KIND, scope) {
                    Claim::Ours(address) => Some((id.to_string(), address)),
                    Claim::Others | Claim::Unclear(_) => None,
                }
            })
            .collect();
        let mut read = KindRead::default();
        for group in &groups {
            let tags = tag_map(group.tags());
            let id = group.group_id().unwrap_or_default();
            // A VPC's default group comes and goes with the VPC: nobody imports it.
            if scope.network.is_some() && group.group_name() == Some("default") {
                continue;
            }
            let Some(address) = ours(&mut read, &tags, Self::KIND, id, scope) else {
                continue;
            };
            let ingress = rules_from_permissions(group.ip_permissions(), &group_addresses);
            let egress = rules_from_permissions(group.ip_permissions_egress(), &group_addresses);
            let mut resource = live(
                address.clone(),
                id.to_string(),
                tags,
                vec![
                    ("vpc", text(group.vpc_id())),
                    ("description", text(group.description())),
                    ("ingress", rule_set(&ingress)),
                    ("egress", rule_set(&egress)),
                ],
            );
            if let Some(name) = group.group_name() {
                resource
                    .outputs
                    .insert("name".to_string(), name.to_string());
            }
            // Groups named in rules must outlive this group's rules.
            resource.depends_on = ingress
                .iter()
                .chain(&egress)
                .filter_map(Rule::group)
                .filter(|group| *group != &address)
                .cloned()
                .collect();
            read.resources.push(resource);
        }
        Ok(read)
    }

    async fn read_unmanaged(
        aws: &AwsProvider,
        vpc_ids: &[String],
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let groups: Vec<_> = aws
            .ec2
            .describe_security_groups()
            .filters(in_vpcs(vpc_ids))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "security groups"))?;
        let mut strays = Vec::new();
        for group in groups {
            let tags = tag_map(group.tags());
            if group.group_name() == Some("default") {
                continue;
            }
            let Some(id) = group.group_id().filter(|_| untracked(&tags)) else {
                continue;
            };
            strays.push(live(
                unmanaged_address(Self::KIND, id),
                id.to_string(),
                tags,
                vec![("vpc", text(group.vpc_id()))],
            ));
        }
        Ok(strays)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        aws.create_security_group(desired, ids).await
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.update_security_group(desired, live, changes, ids).await
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.delete_security_group(live, progress).await
    }
}

fn rule_set(rules: &[Rule]) -> Value {
    Value::set(rules.iter().cloned().map(Value::Rule))
}

/// AWS's default egress rule, which a new group in a VPC has.
fn all_traffic_out() -> Rule {
    Rule {
        protocol: "all".into(),
        ports: None,
        peer: Peer::Cidr("0.0.0.0/0".into()),
    }
}

/// The two calls that change a group's rules.
#[derive(Debug, Clone, Copy)]
enum RuleCall {
    Authorize,
    Revoke,
}

impl RuleCall {
    /// Whether the call was refused because (part of) it had happened already: a rule already
    /// there (a retried call, another run) or already gone.
    fn already_done(self, error: &ProviderError) -> bool {
        match (self, error) {
            (RuleCall::Authorize, ProviderError::AlreadyExists { .. }) => true,
            (RuleCall::Authorize, ProviderError::Rejected { code, .. }) => {
                code == "InvalidPermission.Duplicate"
            }
            (RuleCall::Revoke, ProviderError::NotFound { .. }) => true,
            _ => false,
        }
    }
}

impl AwsProvider {
    async fn create_security_group(
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
                crate::aws::pace::EC2,
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
                    Ok((id, Vec::new(), vec![all_traffic_out()]))
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
            let desired_rules = desired.field(field).map(Value::rules).unwrap_or_default();
            let live_rules: Vec<&Rule> = live_rules.iter().collect();
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
    ) -> Result<(String, Vec<Rule>, Vec<Rule>), ProviderError> {
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
        if !made_for(&tags, desired) {
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
        // Rules naming owned groups must name their addresses, as desired rules do.
        let mut group_addresses: BTreeMap<String, Address> = ids
            .iter()
            .filter(|(a, _)| a.kind == ResourceKind::SecurityGroup)
            .map(|(a, id)| (id.clone(), a.clone()))
            .collect();
        group_addresses.insert(id.clone(), desired.address.clone());
        let ingress = rules_from_permissions(group.ip_permissions(), &group_addresses);
        let egress = rules_from_permissions(group.ip_permissions_egress(), &group_addresses);
        Ok((id, ingress, egress))
    }

    /// Authorizes the rules `desired` has and `live` lacks, then revokes the reverse.
    async fn sync_rules(
        &self,
        group_id: &str,
        direction: &str,
        desired: &[&Rule],
        live: &[&Rule],
        ids: &CloudIds,
        what: &str,
    ) -> Result<(), ProviderError> {
        let desired_set: BTreeSet<&Rule> = desired.iter().copied().collect();
        let live_set: BTreeSet<&Rule> = live.iter().copied().collect();
        let to_permissions = |rules: Vec<&Rule>| -> Result<Vec<IpPermission>, ProviderError> {
            rules
                .into_iter()
                .map(|rule| {
                    permission(rule, ids).ok_or_else(|| ProviderError::UnresolvedReference {
                        address: rule.to_string(),
                    })
                })
                .collect()
        };
        let add = to_permissions(desired_set.difference(&live_set).copied().collect())?;
        let remove = to_permissions(live_set.difference(&desired_set).copied().collect())?;
        // One call per direction (the APIs take a list); only when AWS refuses the batch
        // because part of it is already there (or already gone) is it sent one by one.
        for (call, permissions) in [(RuleCall::Authorize, add), (RuleCall::Revoke, remove)] {
            if permissions.is_empty() {
                continue;
            }
            match self
                .rule_call(call, group_id, direction, permissions.clone(), what)
                .await
            {
                Ok(()) => {}
                Err(error) if call.already_done(&error) => {
                    for permission in permissions {
                        match self
                            .rule_call(call, group_id, direction, vec![permission], what)
                            .await
                        {
                            Ok(()) => {}
                            Err(error) if call.already_done(&error) => {}
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// One authorize or revoke call of `direction` (`ingress` or `egress`) on the group.
    async fn rule_call(
        &self,
        call: RuleCall,
        group_id: &str,
        direction: &str,
        permissions: Vec<IpPermission>,
        what: &str,
    ) -> Result<(), ProviderError> {
        macro_rules! send {
            ($request:expr) => {
                $request
                    .group_id(group_id)
                    .set_ip_permissions(Some(permissions))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, what))
            };
        }
        match (call, direction == "ingress") {
            (RuleCall::Authorize, true) => send!(self.ec2.authorize_security_group_ingress()),
            (RuleCall::Authorize, false) => send!(self.ec2.authorize_security_group_egress()),
            (RuleCall::Revoke, true) => send!(self.ec2.revoke_security_group_ingress()),
            (RuleCall::Revoke, false) => send!(self.ec2.revoke_security_group_egress()),
        }
    }

    async fn update_security_group(
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
                .map(Value::rules)
                .unwrap_or_default();
            let live_rules = change.live.as_ref().map(Value::rules).unwrap_or_default();
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

    async fn delete_security_group(
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
}
