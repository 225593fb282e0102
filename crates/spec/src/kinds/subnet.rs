//! `subnet`: a block of a VPC's network in one availability zone.
//!
//! Owns the subnet's definition: its wording, its fields (`vpc`, `cidr`, `zone`), its
//! expansion and its checks (inside its VPC, apart from the VPC's other subnets). Invariant: a
//! subnet is never counted and expands into exactly one `subnet` resource, which depends on its
//! VPC.

use std::collections::BTreeMap;

use super::{ExpandedKind, FieldDef, KindDef, Presence, Shape, SpecKind, TextFormat, vpc};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, address_of, copy, referenced};
use crate::model::{ResourceKind, Value};
use crate::net::Cidr;
use crate::raw::Sp;
use crate::spec::{Configuration, Configured};

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
    expands_to: &[ExpandedKind::plain(ResourceKind::Subnet)],
    expand,
    check: Some(check_in_vpc),
    check_all: Some(check_overlaps),
});

/// The VPC subnet `name` is in, when both resolve.
pub(crate) fn vpc_of<'m>(configuration: &Configuration<'m>, name: &str) -> Option<&'m str> {
    vpc::named_by(configuration, configuration.get(KIND, name)?, VPC)
}

/// One `subnet`, with every field.
fn expand(subnet: &Configured<'_>, out: &mut Expansion<'_>) {
    let mut fields = Fields::new();
    copy(subnet, &[VPC, CIDR, ZONE], &mut fields);
    // A zone written as a suffix (`zone = "a"`) is in the environment's region.
    if let Some(Value::Str(zone)) = fields.get(ZONE)
        && crate::formats::is_zone_suffix(zone)
    {
        let full = format!("{}{zone}", out.region());
        fields.insert(ZONE.to_string(), Value::Str(full));
    }
    let address = address_of(KIND, subnet.name());
    let depends_on = referenced(subnet, VPC);
    out.push(address, subnet.resource.span, depends_on, fields);
}

/// A subnet's block lies inside its VPC's.
fn check_in_vpc(
    configuration: &Configuration<'_>,
    subnet: &Configured<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(vpc_name) = vpc::named_by(configuration, subnet, VPC) else {
        return;
    };
    let vpc_cidr = configuration
        .get(vpc::KIND, vpc_name)
        .and_then(|v| v.cidr(vpc::CIDR));
    if let (Some(vpc_cidr), Some(cidr)) = (vpc_cidr, subnet.cidr(CIDR))
        && !vpc_cidr.value.contains(cidr.value)
    {
        out.push(
            Diagnostic::error(format!(
                "subnet `{}` lies outside its VPC `{vpc_name}`",
                subnet.name()
            ))
            .at(
                cidr.span,
                format!("`{}` is not inside `{}`", cidr.value, vpc_cidr.value),
            )
            .with_hint(format!(
                "pick a block inside `{}`, the cidr of `vpc.{vpc_name}`",
                vpc_cidr.value
            )),
        );
    }
}

/// The subnets of one VPC share no address.
fn check_overlaps(configuration: &Configuration<'_>, out: &mut Vec<Diagnostic>) {
    let mut by_vpc: BTreeMap<&str, Vec<(&str, Sp<Cidr>)>> = BTreeMap::new();
    for subnet in configuration.of_kind(KIND) {
        if let (Some(vpc), Some(cidr)) =
            (vpc::named_by(configuration, subnet, VPC), subnet.cidr(CIDR))
        {
            by_vpc.entry(vpc).or_default().push((subnet.name(), cidr));
        }
    }
    // CIDR blocks either nest or are disjoint: sorted by address, a block overlaps an earlier
    // one exactly when it lies inside the widest block seen so far. One sweep, not all pairs.
    for subnets in by_vpc.values_mut() {
        subnets.sort_by_key(|(_, cidr)| cidr.value);
        let mut widest: Option<(&str, Sp<Cidr>)> = None;
        for (name, cidr) in subnets.iter() {
            let overlapping = widest.filter(|(_, w)| w.value.overlaps(cidr.value));
            if overlapping.is_none() {
                widest = Some((name, *cidr));
            }
            if let Some((other, other_cidr)) = overlapping {
                // Report at whichever of the two comes later in the source.
                let (name, cidr, other, other_cidr) = if cidr.span.start >= other_cidr.span.start {
                    (*name, cidr, other, &other_cidr)
                } else {
                    (other, &other_cidr, *name, cidr)
                };
                out.push(
                    Diagnostic::error(format!("subnet `{name}` overlaps subnet `{other}`"))
                        .at(
                            cidr.span,
                            format!("`{}` overlaps `{}`", cidr.value, other_cidr.value),
                        )
                        .with_hint("subnets of one VPC need blocks that share no address"),
                );
            }
        }
    }
}
