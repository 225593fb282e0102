//! `subnet`: a block of a VPC's network in one availability zone.
//!
//! Owns the subnet's definition: its wording, its fields (`vpc`, `cidr`, `zone`) and its
//! expansion. Invariant: a subnet is never counted and expands into exactly one `subnet`
//! resource, which depends on its VPC.

use super::{FieldDef, KindDef, Presence, Shape, SpecKind, TextFormat, vpc};
use crate::expand::{Expansion, Fields, address_of, copy, referenced};
use crate::model::ResourceKind;
use crate::spec::Configured;

/// The VPC the subnet is in.
pub(crate) const VPC: &str = "vpc";
/// The subnet's block, inside its VPC's.
pub(crate) const CIDR: &str = "cidr";
/// The availability zone, of the project's region.
pub(crate) const ZONE: &str = "zone";

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::Subnet,
    singular: "subnet",
    plural: "subnets",
    fields: &[
        FieldDef {
            name: VPC,
            shape: Shape::Ref(vpc::KIND),
            presence: Presence::Required,
            scale: false,
            example: "vpc = \"main\"",
        },
        FieldDef {
            name: CIDR,
            shape: Shape::Cidr {
                min_prefix: 16,
                max_prefix: 28,
            },
            presence: Presence::Required,
            scale: false,
            example: "cidr = \"10.0.1.0/24\"",
        },
        FieldDef {
            name: ZONE,
            shape: Shape::Text(TextFormat::Zone),
            presence: Presence::Required,
            scale: false,
            example: "zone = \"us-east-1a\"",
        },
    ],
    count_field: None,
    expand,
});

/// One `subnet`, with every field.
fn expand(subnet: &Configured<'_>, out: &mut Expansion<'_>) {
    let mut fields = Fields::new();
    copy(subnet, &[VPC, CIDR, ZONE], &mut fields);
    let address = address_of(KIND, subnet.name());
    let depends_on = referenced(subnet, VPC);
    out.push(address, subnet.resource.span, depends_on, fields);
}
