//! EC2 instances: read by the project's tag with their root volume sizes and run state,
//! created and waited for until running, resized in place, started when found stopped.
//!
//! Invariants: an instance type change stops, modifies and starts the instance (AWS refuses
//! it on a running one) and, if the modify fails, starts it again with its old type; a
//! stopped instance is drift (every instance the spec describes is meant to run); a
//! replacement brings the new one up before the old one goes; a create whose answer was lost
//! is found again by its ownership tags; terminated instances, still listed for a while, are
//! not read at all.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    AttributeValue, Filter, InstanceStateName, InstanceType, ResourceType,
    RunInstancesMonitoringEnabled,
};
use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    ResourceDiff, Scope, diff_fields, unmanaged_address,
};
use envctl_spec::{DesiredResource, ResourceKind, Value};
use sha2::{Digest, Sha256};

use super::{AwsKind, KindRead, Service};
use crate::aws::batch::Fetch;
use crate::aws::ec2::{
    exact_ownership_filters, in_vpcs, no_id, other_than, ownership_filters, tag_map,
    tag_specification, untracked,
};
use crate::aws::error::classify;
use crate::aws::once::ec2_no_retry;
use crate::aws::wait::{Poll, wait_until};
use crate::aws::{AwsProvider, field_id, field_ids, field_str, live, ours, tags_to_apply, text};
use futures::FutureExt;

/// Instance states that count as existing (terminated ones stay listed for a while).
const LIVE_INSTANCE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

/// The live field holding an instance's run state (`running`, `stopped`, ...). The spec never
/// sets it: every instance it describes is meant to run.
pub const STATE_FIELD: &str = "state";

fn live_states() -> Filter {
    Filter::builder()
        .name("instance-state-name")
        .set_values(Some(
            LIVE_INSTANCE_STATES.iter().map(|s| s.to_string()).collect(),
        ))
        .build()
}

fn security_group_ids(instance: &aws_sdk_ec2::types::Instance) -> Value {
    Value::string_set(
        instance
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string)),
    )
}

/// The `instance` kind.
#[derive(Debug)]
pub(crate) struct Instance;

impl AwsKind for Instance {
    const KIND: ResourceKind = ResourceKind::Instance;
    const SERVICE: Service = Service::Ec2;
    const FORCES_REPLACEMENT: &'static [&'static str] = &["ami", "subnet"];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[
        ("subnet", ResourceKind::Subnet),
        ("security_groups", ResourceKind::SecurityGroup),
    ];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = Some(("subnet", ResourceKind::Subnet));
    const IMPORTED: bool = true;

    fn diff(desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        let mut changes = diff_fields(desired, live, Self::FORCES_REPLACEMENT);
        // An instance the spec wants is meant to run: one stopped by hand, or left stopped
        // by an interrupted resize, is drift that apply and reconcile start again.
        if let Some(Value::Str(state)) = live.fields.get(STATE_FIELD)
            && matches!(state.as_str(), "stopped" | "stopping")
        {
            changes.push(FieldChange {
                field: STATE_FIELD.to_string(),
                live: Some(Value::Str(state.clone())),
                desired: Some(Value::Str("running".to_string())),
                forces_replacement: false,
            });
        }
        ResourceDiff {
            changes,
            notes: Vec::new(),
        }
    }

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        ReplaceOrder::CreateBeforeDestroy
    }

    fn repointable_fields(target: ResourceKind) -> &'static [&'static str] {
        // ModifyInstanceAttribute Groups moves an instance to other groups in place.
        if target == ResourceKind::SecurityGroup {
            &["security_groups"]
        } else {
            &[]
        }
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let mut filters = ownership_filters(scope);
        filters.push(live_states());
        let reservations: Vec<_> = aws
            .ec2
            .describe_instances()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "instances"))?;
        let instances: Vec<_> = reservations.iter().flat_map(|r| r.instances()).collect();
        let volume_sizes = aws.root_volume_sizes(&instances).await?;
        let mut read = KindRead::default();
        for instance in instances {
            let tags = tag_map(instance.tags());
            let id = instance.instance_id().unwrap_or_default();
            let Some(address) = ours(&mut read, &tags, Self::KIND, id, scope) else {
                continue;
            };
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
                ("security_groups", security_group_ids(instance)),
                ("monitoring", Value::Bool(monitoring)),
                (
                    STATE_FIELD,
                    text(instance.state().and_then(|s| s.name()).map(|n| n.as_str())),
                ),
            ];
            if let Some(size) = volume_sizes.get(id) {
                fields.push(("volume_size", Value::Int(i64::from(*size))));
            }
            let mut resource = live(address, id.to_string(), tags, fields);
            for (output, value) in [
                ("private_ip", instance.private_ip_address()),
                ("public_ip", instance.public_ip_address()),
                ("private_dns", instance.private_dns_name()),
            ] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    resource
                        .outputs
                        .insert(output.to_string(), value.to_string());
                }
            }
            read.resources.push(resource);
        }
        Ok(read)
    }

    async fn read_unmanaged(
        aws: &AwsProvider,
        vpc_ids: &[String],
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let reservations: Vec<_> = aws
            .ec2
            .describe_instances()
            .filters(in_vpcs(vpc_ids))
            .filters(live_states())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "instances"))?;
        let mut strays = Vec::new();
        for instance in reservations.iter().flat_map(|r| r.instances()) {
            let tags = tag_map(instance.tags());
            let Some(id) = instance.instance_id().filter(|_| untracked(&tags)) else {
                continue;
            };
            strays.push(live(
                unmanaged_address(Self::KIND, id),
                id.to_string(),
                tags,
                vec![
                    ("subnet", text(instance.subnet_id())),
                    ("security_groups", security_group_ids(instance)),
                ],
            ));
        }
        Ok(strays)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        aws.create_instance(desired, ids, progress).await
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.update_instance(desired, live, changes, ids, progress)
            .await
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        aws.delete_instance(live, progress).await
    }
}

impl AwsProvider {
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

    async fn create_instance(
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
                crate::aws::pace::EC2,
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
                || async {
                    let mut filters = exact_ownership_filters(desired);
                    filters.push(live_states());
                    let found = self
                        .ec2
                        .describe_instances()
                        .set_filters(Some(filters))
                        .send()
                        .await
                        .map_err(|e| classify(e, &what))?;
                    let ids = found
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .filter_map(|i| i.instance_id().map(str::to_string));
                    Ok(other_than(ids.collect(), old_copy))
                },
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

    /// The instance's run state; `None` when it is gone (or not visible yet). Lookups of
    /// instances in flight at once share one DescribeInstances (see `batch`).
    async fn instance_state(
        &self,
        id: &str,
        what: &str,
    ) -> Result<Option<InstanceStateName>, ProviderError> {
        let ec2 = self.ec2.clone();
        let what = what.to_string();
        let fetch: Fetch<InstanceStateName> = Box::new(move |ids: Vec<String>| {
            async move {
                // By filter, so that an id not visible yet is absent, not an error for all.
                let reservations: Vec<_> = ec2
                    .describe_instances()
                    .filters(
                        Filter::builder()
                            .name("instance-id")
                            .set_values(Some(ids))
                            .build(),
                    )
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| classify(e, &what))?;
                Ok(reservations
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(|i| {
                        Some((
                            i.instance_id()?.to_string(),
                            i.state().and_then(|s| s.name())?.clone(),
                        ))
                    })
                    .collect())
            }
            .boxed()
        });
        self.instance_states.get(id, fetch).await
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

    async fn update_instance(
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

    async fn delete_instance(
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
}
