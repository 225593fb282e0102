//! `vpc`: a virtual network, the home of subnets and security groups.
//!
//! Owns the VPC's definition: its wording, its one field (`cidr`) and its expansion, and the
//! question the other kinds ask of it: which VPC a resource is in, and whether a resource's
//! subnets and security groups share one. Invariant: a VPC is never counted and expands into
//! exactly one `vpc` resource.

use super::{
    ExpandedKind, FieldDef, KindDef, Presence, Shape, SpecKind, address, security_group, subnet,
};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, address_of, copy};
use crate::model::ResourceKind;
use crate::spec::{Configuration, Configured};

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
    expands_to: &[ExpandedKind::plain(ResourceKind::Vpc)],
    expand,
    check: None,
    check_all: None,
});

/// One `vpc`, with its `cidr`.
fn expand(vpc: &Configured<'_>, out: &mut Expansion<'_>) {
    let mut fields = Fields::new();
    copy(vpc, &[CIDR], &mut fields);
    let address = address_of(KIND, vpc.name());
    out.push(address, vpc.resource.span, Vec::new(), fields);
}

/// The VPC that the reference field `field` of `resource` names, when it resolves.
pub(crate) fn named_by<'m>(
    configuration: &Configuration<'m>,
    resource: &Configured<'m>,
    field: &str,
) -> Option<&'m str> {
    let vpc = resource.reference(field)?;
    configuration.get(KIND, &vpc.value).map(|v| v.name())
}

/// The subnets and security groups that `resource` lists in its fields `subnets` and `groups`
/// are all in one VPC (an instance's, a database cluster's).
pub(crate) fn check_one_vpc(
    configuration: &Configuration<'_>,
    resource: &Configured<'_>,
    subnets: &str,
    groups: &str,
    out: &mut Vec<Diagnostic>,
) {
    let address = address(resource.kind(), resource.name());
    let mut home: Option<(&str, &str)> = None;
    for subnet in resource.references(subnets) {
        let Some(vpc) = subnet::vpc_of(configuration, &subnet.value) else {
            continue;
        };
        match home {
            None => home = Some((vpc, &subnet.value)),
            Some((home_vpc, first)) if home_vpc != vpc => out.push(
                Diagnostic::error(format!("the subnets of `{address}` are in different VPCs"))
                    .at(subnet.span, format!("`{}` is in `vpc.{vpc}`", subnet.value))
                    .with_hint(format!(
                        "`{first}` is in `vpc.{home_vpc}`; a resource's subnets and security \
                         groups must all be in one VPC"
                    )),
            ),
            Some(_) => {}
        }
    }
    let Some((home_vpc, _)) = home else {
        return;
    };
    for group in resource.references(groups) {
        if let Some(vpc) = security_group::vpc_of(configuration, &group.value)
            && vpc != home_vpc
        {
            out.push(
                Diagnostic::error(format!(
                    "security group `{}` of `{address}` is in another VPC",
                    group.value
                ))
                .at(group.span, format!("`{}` is in `vpc.{vpc}`", group.value))
                .with_hint(format!(
                    "the subnets of `{address}` are in `vpc.{home_vpc}`"
                )),
            );
        }
    }
}
