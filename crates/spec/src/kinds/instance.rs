//! `instance`: EC2 instances from one pinned image, `count` of them.
//!
//! Owns the instance's definition: its wording, its fields (`ami`, `instance_type`, `count`,
//! `volume_size`, `subnets`, `security_groups`, `monitoring`), its count field and its
//! expansion and checks (its subnets and groups in one VPC). Invariants: `instance_type`, `count` and `volume_size` are its scale fields; it
//! expands into `count` resources `instance.NAME[0]`..`[count-1]`, spread round robin over
//! `subnets` in their order, each with the one `subnet` it is placed in.

use super::{
    DefaultValue, ExpandedKind, FieldDef, KindDef, Naming, Presence, Shape, SpecKind, TextFormat,
};
use super::{security_group, subnet, vpc};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, address_of, copy, referenced};
use crate::model::{Address, ResourceKind, Value};
use crate::spec::{Configuration, Configured};

/// The pinned image id.
pub(crate) const AMI: &str = "ami";
/// The EC2 instance type (scale).
pub(crate) const INSTANCE_TYPE: &str = "instance_type";
/// How many instances (scale).
pub(crate) const COUNT: &str = "count";
/// The root volume's size in GiB (scale); the image's own size when left out.
pub(crate) const VOLUME_SIZE: &str = "volume_size";
/// The subnets the instances are spread over, in order.
pub(crate) const SUBNETS: &str = "subnets";
/// The security groups of every instance.
pub(crate) const SECURITY_GROUPS: &str = "security_groups";
/// Detailed monitoring.
pub(crate) const MONITORING: &str = "monitoring";
/// The subnet one expanded instance is placed in (expanded instances only).
pub(crate) const SUBNET: &str = "subnet";

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::Instance,
    singular: "instance",
    plural: "instances",
    fields: &[
        FieldDef {
            name: AMI,
            shape: Shape::Text(TextFormat::Ami),
            presence: Presence::Required,
            scale: false,
            example: "ami = \"ami-0c55b159cbfafe1f0\"",
        },
        FieldDef {
            name: INSTANCE_TYPE,
            shape: Shape::Text(TextFormat::InstanceType),
            presence: Presence::Required,
            scale: true,
            example: "instance_type = \"t3.medium\"",
        },
        FieldDef {
            name: COUNT,
            shape: Shape::Int {
                min: 0,
                max: 100,
                why: None,
            },
            presence: Presence::Default(DefaultValue::Int(1)),
            scale: true,
            example: "count = 1",
        },
        FieldDef {
            name: VOLUME_SIZE,
            shape: Shape::Int {
                min: 1,
                max: 16_384,
                why: Some("an EBS volume holds 1 to 16384 GiB"),
            },
            presence: Presence::Optional,
            scale: true,
            example: "volume_size = 20",
        },
        FieldDef {
            name: SUBNETS,
            shape: Shape::RefList {
                kind: subnet::KIND,
                min_len: 1,
                ordered: true,
                why: None,
            },
            presence: Presence::Required,
            scale: false,
            example: "subnets = [\"a\", \"b\"]",
        },
        FieldDef {
            name: SECURITY_GROUPS,
            shape: Shape::RefList {
                kind: security_group::KIND,
                min_len: 0,
                ordered: false,
                why: None,
            },
            presence: Presence::Default(DefaultValue::NoReferences),
            scale: false,
            example: "security_groups = [\"app\"]",
        },
        FieldDef {
            name: MONITORING,
            shape: Shape::Bool,
            presence: Presence::Default(DefaultValue::Bool(false)),
            scale: false,
            example: "monitoring = true",
        },
    ],
    count_field: Some(COUNT),
    expands_to: &[ExpandedKind {
        kind: ResourceKind::Instance,
        scale_fields: &[INSTANCE_TYPE, VOLUME_SIZE],
        // Instances are spread round robin, so their placement follows the count.
        scale_dependent_fields: &[INSTANCE_TYPE, VOLUME_SIZE, SUBNET],
        holds_data: false,
        counted: true,
        derived: None,
        naming: Naming::Dashed,
        templated_fields: &[],
    }],
    expand,
    check: Some(check),
    check_all: None,
});

/// Its subnets and security groups are in one VPC.
fn check(configuration: &Configuration<'_>, instance: &Configured<'_>, out: &mut Vec<Diagnostic>) {
    vpc::check_one_vpc(configuration, instance, SUBNETS, SECURITY_GROUPS, out);
}

/// `count` instances, spread round robin over the subnets.
fn expand(instance: &Configured<'_>, out: &mut Expansion<'_>) {
    let subnets = instance.references(SUBNETS);
    let groups = referenced(instance, SECURITY_GROUPS);
    let mut shared = Fields::new();
    copy(
        instance,
        &[AMI, INSTANCE_TYPE, SECURITY_GROUPS, MONITORING, VOLUME_SIZE],
        &mut shared,
    );
    let count = u32::try_from(instance.count()).unwrap_or(0);
    for (index, placed) in (0..count).zip(subnets.iter().cycle()) {
        let subnet = address_of(subnet::KIND, &placed.value);
        let mut fields = shared.clone();
        fields.insert(SUBNET.to_string(), Value::Ref(subnet.clone()));
        let mut depends_on = groups.clone();
        depends_on.push(subnet);
        let address = Address::indexed(ResourceKind::Instance, instance.name(), index);
        out.push(address, instance.resource.span, depends_on, fields);
    }
}
