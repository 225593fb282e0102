//! VPCs: read by the project's tag, created with their CIDR block, never changed in place,
//! deleted once AWS lets go of their dependencies.
//!
//! Invariants: a VPC has no unique name, so a replacement brings the new one up before the
//! old one goes, and a create whose answer was lost is found again by its ownership tags
//! rather than made twice.

use envctl_engine::{
    CloudIds, DeleteOptions, LiveResource, Progress, ProviderError, ReplaceOrder, Scope,
};
use envctl_spec::{DesiredResource, ResourceKind};

use super::{AwsKind, KindRead, Service};
use crate::aws::ec2::{
    exact_ownership_filters, no_id, other_than, ownership_filters, tag_map, tag_specification,
};
use crate::aws::error::classify;
use crate::aws::once::ec2_no_retry;
use crate::aws::{AwsProvider, field_str, live, ours, tags_to_apply, text};
use aws_sdk_ec2::types::ResourceType;

/// The `vpc` kind.
#[derive(Debug)]
pub(crate) struct Vpc;

impl AwsKind for Vpc {
    const KIND: ResourceKind = ResourceKind::Vpc;
    const SERVICE: Service = Service::Ec2;
    const FORCES_REPLACEMENT: &'static [&'static str] = &["cidr"];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = None;
    const IMPORTED: bool = true;

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        ReplaceOrder::CreateBeforeDestroy
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let vpcs: Vec<_> = aws
            .ec2
            .describe_vpcs()
            .set_filters(Some(ownership_filters(scope)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "VPCs"))?;
        let mut read = KindRead::default();
        for vpc in vpcs {
            let tags = tag_map(vpc.tags());
            let id = vpc.vpc_id().unwrap_or_default();
            let Some(address) = ours(&mut read, &tags, Self::KIND, id, scope) else {
                continue;
            };
            read.resources.push(live(
                address,
                id.to_string(),
                tags,
                vec![("cidr", text(vpc.cidr_block()))],
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
        aws.create_vpc(desired, ids).await
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.delete_vpc(live, progress).await
    }
}

impl AwsProvider {
    async fn create_vpc(
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
            crate::aws::pace::EC2,
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
            || async {
                let found = self
                    .ec2
                    .describe_vpcs()
                    .set_filters(Some(exact_ownership_filters(desired)))
                    .send()
                    .await
                    .map_err(|e| classify(e, &what))?;
                let ids = found
                    .vpcs()
                    .iter()
                    .filter_map(|v| v.vpc_id().map(str::to_string));
                Ok(other_than(ids.collect(), old_copy))
            },
        )
        .await
    }

    async fn delete_vpc(
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
}
