//! `security_group`: a firewall of a VPC, with ingress and egress rules.
//!
//! Owns the security group's definition: its wording, its fields (`vpc`, `description`,
//! `ingress`, `egress`) and its expansion. Invariants: a group is never counted and expands
//! into exactly one `security_group` resource, which depends on its VPC and on every other
//! group its rules name; without `egress` it keeps AWS's default, all traffic out.

use super::{
    DefaultValue, FieldDef, KindDef, Presence, RuleTarget, Shape, SpecKind, TextFormat, vpc,
};
use crate::expand::{Expansion, Fields, address_of, copy, referenced};
use crate::model::ResourceKind;
use crate::spec::Configured;

/// The VPC the group is in.
pub(crate) const VPC: &str = "vpc";
/// The group's description; its name when left out.
pub(crate) const DESCRIPTION: &str = "description";
/// Rules for the traffic the group lets in.
pub(crate) const INGRESS: &str = "ingress";
/// Rules for the traffic the group lets out.
pub(crate) const EGRESS: &str = "egress";

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::SecurityGroup,
    singular: "security group",
    plural: "security groups",
    fields: &[
        FieldDef {
            name: VPC,
            shape: Shape::Ref(vpc::KIND),
            presence: Presence::Required,
            scale: false,
            example: "vpc = \"main\"",
        },
        FieldDef {
            name: DESCRIPTION,
            shape: Shape::Text(TextFormat::Description),
            presence: Presence::Default(DefaultValue::ResourceName),
            scale: false,
            example: "description = \"app servers\"",
        },
        FieldDef {
            name: INGRESS,
            shape: Shape::Rules,
            presence: Presence::Default(DefaultValue::NoRules),
            scale: false,
            example: "ingress = [{ protocol = \"tcp\", ports = 443, cidr = \"10.0.0.0/8\" }]",
        },
        FieldDef {
            name: EGRESS,
            shape: Shape::Rules,
            presence: Presence::Default(DefaultValue::AllTrafficOut),
            scale: false,
            example: "egress = [{ protocol = \"all\", cidr = \"0.0.0.0/0\" }]",
        },
    ],
    count_field: None,
    expand,
});

/// One `security_group`, with every field.
fn expand(group: &Configured<'_>, out: &mut Expansion<'_>) {
    let mut fields = Fields::new();
    copy(group, &[VPC, DESCRIPTION, INGRESS, EGRESS], &mut fields);
    let mut depends_on = referenced(group, VPC);
    for rule in group.rules(INGRESS).iter().chain(group.rules(EGRESS)) {
        if let RuleTarget::Group(other) = &rule.target
            && other.value != group.name()
        {
            depends_on.push(address_of(KIND, &other.value));
        }
    }
    let address = address_of(KIND, group.name());
    out.push(address, group.resource.span, depends_on, fields);
}
