//! Subnets: read by the project's tag, created in their VPC and zone, never changed in place.
//!
//! Invariants: two subnets of one VPC cannot overlap, so a replacement removes the old one
//! first unless the new range is clear of it (or in another VPC); a create whose answer was
//! lost is found again by its ownership tags; untagged subnets inside the environment's VPCs
//! are read as unmanaged.

use aws_sdk_ec2::types::ResourceType;
use envctl_engine::{
    CloudIds, DeleteOptions, LiveResource, Progress, ProviderError, ReplaceOrder, Scope,
    unmanaged_address,
};
use envctl_spec::{DesiredResource, ResourceKind, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::ec2::{
    exact_ownership_filters, in_vpcs, no_id, other_than, ownership_filters, tag_map,
    tag_specification, untracked,
};
use crate::aws::error::classify;
use crate::aws::once::ec2_no_retry;
use crate::aws::{AwsProvider, field_id, field_str, live, ours, tags_to_apply, text};

/// The `subnet` kind.
#[derive(Debug)]
pub(crate) struct Subnet;

impl AwsKind for Subnet {
    const KIND: ResourceKind = ResourceKind::Subnet;
    const SERVICE: Service = Service::Ec2;
    const FORCES_REPLACEMENT: &'static [&'static str] = &["vpc", "cidr", "zone"];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[("vpc", ResourceKind::Vpc)];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = Some(("vpc", ResourceKind::Vpc));
    const IMPORTED: bool = true;

    fn replace_order(desired: &DesiredResource, live: &LiveResource) -> ReplaceOrder {
        let same_vpc = desired.field("vpc") == live.fields.get("vpc");
        let overlap = match (
            desired.field("cidr").and_then(Value::as_str),
            live.fields.get("cidr").and_then(Value::as_str),
        ) {
            (Some(new), Some(old)) => envctl_spec::cidrs_overlap(new, old).unwrap_or(true),
            _ => true,
        };
        if same_vpc && overlap {
            ReplaceOrder::DestroyBeforeCreate
        } else {
            ReplaceOrder::CreateBeforeDestroy
        }
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let subnets: Vec<_> = aws
            .ec2
            .describe_subnets()
            .set_filters(Some(ownership_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "subnets"))?;
        let mut read = KindRead::default();
        for subnet in subnets {
            let tags = tag_map(subnet.tags());
            let id = subnet.subnet_id().unwrap_or_default();
            let Some(address) = ours(&mut read, &tags, Self::KIND, id, scope) else {
                continue;
            };
            read.resources.push(live(
                address,
                id.to_string(),
                tags,
                vec![
                    ("vpc", text(subnet.vpc_id())),
                    ("cidr", text(subnet.cidr_block())),
                    ("zone", text(subnet.availability_zone())),
                ],
            ));
        }
        Ok(read)
    }

    async fn read_unmanaged(
        aws: &AwsProvider,
        vpc_ids: &[String],
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let subnets: Vec<_> = aws
            .ec2
            .describe_subnets()
            .filters(in_vpcs(vpc_ids))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "subnets"))?;
        let mut strays = Vec::new();
        for subnet in subnets {
            let tags = tag_map(subnet.tags());
            let Some(id) = subnet.subnet_id().filter(|_| untracked(&tags)) else {
                continue;
            };
            strays.push(live(
                unmanaged_address(Self::KIND, id),
                id.to_string(),
                tags,
                vec![("vpc", text(subnet.vpc_id()))],
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
        aws.create_subnet(desired, ids).await
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.delete_subnet(live, progress).await
    }
}

impl AwsProvider {
    async fn create_subnet(
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
            crate::aws::pace::EC2,
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
            || async {
                let found = self
                    .ec2
                    .describe_subnets()
                    .set_filters(Some(exact_ownership_filters(desired)))
                    .send()
                    .await
                    .map_err(|e| classify(e, &what))?;
                let ids = found
                    .subnets()
                    .iter()
                    .filter_map(|s| s.subnet_id().map(str::to_string));
                Ok(other_than(ids.collect(), old_copy))
            },
        )
        .await
    }

    async fn delete_subnet(
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
}
