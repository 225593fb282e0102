//! `vpc`: a virtual network, the home of subnets and security groups.
//!
//! Owns the VPC's definition: its wording, its one field (`cidr`) and its expansion.
//! Invariant: a VPC is never counted and expands into exactly one `vpc` resource.

use super::{FieldDef, KindDef, Presence, Shape, SpecKind};
use crate::expand::{Expansion, Fields, address_of, copy};
use crate::model::ResourceKind;
use crate::spec::Configured;

/// The network's block, `/16` to `/28`.
pub(crate) const CIDR: &str = "cidr";

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::Vpc,
    singular: "VPC",
    plural: "VPCs",
    fields: &[FieldDef {
        name: CIDR,
        shape: Shape::Cidr {
            min_prefix: 16,
            max_prefix: 28,
        },
        presence: Presence::Required,
        scale: false,
        example: "cidr = \"10.0.0.0/16\"",
    }],
    count_field: None,
    expand,
});

/// One `vpc`, with its `cidr`.
fn expand(vpc: &Configured<'_>, out: &mut Expansion<'_>) {
    let mut fields = Fields::new();
    copy(vpc, &[CIDR], &mut fields);
    let address = address_of(KIND, vpc.name());
    out.push(address, vpc.resource.span, Vec::new(), fields);
}
