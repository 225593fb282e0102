//! What the EC2 kinds (VPC, subnet, security group, instance) share: ownership filters, tag
//! conversion, tagging an existing resource, finding what a lost create made, and deletes
//! that wait out AWS's lingering dependencies, and what a VPC holds that envctl does not model
//! (for an import).
//!
//! Invariants: reads filter by the project's tag only (the environment is judged per resource,
//! see [`super::claim`]); every create carries its tags in `TagSpecifications` (built by
//! [`tag_specification`]); nothing here knows a particular kind.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use envctl_engine::{Progress, ProviderError, Scope};
use envctl_spec::{DesiredResource, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_PROJECT};

use super::error::classify;
use super::{AwsProvider, tags_to_apply};

/// Everything tagged for the project: the environment tag is judged per resource (see
/// [`super::claim`]), so that one with a missing or unknown environment is reported, not
/// missed. An import's read ([`Scope::network`]) selects everything in its VPC instead.
pub(super) fn ownership_filters(scope: &Scope) -> Vec<Filter> {
    if let Some(vpc) = &scope.network {
        return vec![in_vpcs(std::slice::from_ref(vpc))];
    }
    vec![
        Filter::builder()
            .name(format!("tag:{TAG_PROJECT}"))
            .values(&scope.project)
            .build(),
    ]
}

/// Filters matching exactly `desired`'s ownership tags (project, environment, address): what
/// an earlier create of it whose answer was lost has made.
pub(super) fn exact_ownership_filters(desired: &DesiredResource) -> Vec<Filter> {
    [TAG_PROJECT, TAG_ENVIRONMENT, TAG_ADDRESS]
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
        .collect()
}

/// A filter on the VPCs resources sit in.
pub(super) fn in_vpcs(vpc_ids: &[String]) -> Filter {
    Filter::builder()
        .name("vpc-id")
        .set_values(Some(vpc_ids.to_vec()))
        .build()
}

pub(super) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Whether a resource carries none of envctl's tags (nobody declared it).
pub(super) fn untracked(tags: &BTreeMap<String, String>) -> bool {
    !tags.contains_key(TAG_PROJECT)
}

pub(super) fn tag_specification(
    kind: ResourceType,
    tags: &BTreeMap<String, String>,
) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(kind);
    for (key, value) in tags {
        spec = spec.tags(Tag::builder().key(key).value(value).build());
    }
    spec.build()
}

impl AwsProvider {
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

    /// Network interfaces of terminated instances linger for a minute or two in AWS, so a
    /// delete refused with `DependencyViolation` is retried for a while before giving up.
    pub(super) async fn retry_while_in_use<F, Fut>(
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

/// The id of the first of `ids` that is not `exclude` (the copy being replaced).
pub(super) fn other_than(ids: Vec<String>, exclude: Option<&str>) -> Option<String> {
    ids.into_iter().find(|id| Some(id.as_str()) != exclude)
}

pub(super) fn no_id(what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "MissingId".into(),
        message: format!("AWS created {what} but returned no id"),
        request_id: None,
    }
}

/// Network interfaces that belong to what envctl models itself (instances, RDS databases).
fn modelled_interface(interface: &aws_sdk_ec2::types::NetworkInterface) -> bool {
    interface
        .attachment()
        .and_then(|a| a.instance_id())
        .is_some()
        || interface
            .description()
            .is_some_and(|d| d.starts_with("RDSNetworkInterface"))
}

impl AwsProvider {
    /// The internet gateways attached to `vpc` and the network interfaces in it of anything
    /// envctl does not model (NAT gateways, load balancers, endpoints, functions), one line
    /// each.
    pub(super) async fn unmodelled_in(&self, vpc: &str) -> Result<Vec<String>, ProviderError> {
        let vpcs = [vpc.to_string()];
        let (gateways, interfaces) = futures::try_join!(
            async {
                let found: Vec<_> = self
                    .ec2
                    .describe_internet_gateways()
                    .filters(
                        Filter::builder()
                            .name("attachment.vpc-id")
                            .values(vpc)
                            .build(),
                    )
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "internet gateways"))?;
                Ok::<_, ProviderError>(found)
            },
            async {
                let found: Vec<_> = self
                    .ec2
                    .describe_network_interfaces()
                    .filters(in_vpcs(&vpcs))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, "network interfaces"))?;
                Ok::<_, ProviderError>(found)
            }
        )?;
        let mut out: Vec<String> = gateways
            .iter()
            .filter_map(|g| g.internet_gateway_id())
            .map(|id| {
                format!("internet gateway {id}, attached to the VPC (gateways and routes are not modelled)")
            })
            .collect();
        for interface in interfaces.iter().filter(|i| !modelled_interface(i)) {
            let id = interface.network_interface_id().unwrap_or_default();
            let kind = interface
                .interface_type()
                .map_or("interface", |t| t.as_str());
            let description = interface
                .description()
                .filter(|d| !d.is_empty())
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            out.push(format!(
                "network interface {id} ({kind}{description}), of a service envctl does not manage"
            ));
        }
        Ok(out)
    }
}
