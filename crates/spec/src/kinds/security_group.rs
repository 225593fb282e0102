//! `security_group`: a firewall of a VPC, with ingress and egress rules.
//!
//! Owns the security group's definition: its wording, its fields (`vpc`, `description`,
//! `ingress`, `egress`), its expansion and its checks (rules name groups of its own VPC, and
//! groups do not name each other in a cycle). Invariants: a group is never counted and expands
//! into exactly one `security_group` resource, which depends on its VPC and on every other
//! group its rules name; without `egress` it keeps AWS's default, all traffic out.

use std::collections::HashMap;

use super::{
    DefaultValue, ExpandedKind, FieldDef, KindDef, Presence, RuleTarget, Shape, SpecKind,
    TextFormat, vpc,
};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, address_of, copy, referenced};
use crate::model::{ResourceKind, Span};
use crate::spec::{Configuration, Configured};
use crate::validate::find_cycles;

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
    expands_to: &[ExpandedKind::plain(ResourceKind::SecurityGroup)],
    expand,
    check: Some(check_rules_vpc),
    check_all: Some(check_cycles),
});

/// The VPC group `name` is in, when both resolve.
pub(crate) fn vpc_of<'m>(configuration: &Configuration<'m>, name: &str) -> Option<&'m str> {
    vpc::named_by(configuration, configuration.get(KIND, name)?, VPC)
}

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

/// A rule's `from_group` is in the group's own VPC.
fn check_rules_vpc(
    configuration: &Configuration<'_>,
    group: &Configured<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(home) = vpc::named_by(configuration, group, VPC) else {
        return;
    };
    for field in [INGRESS, EGRESS] {
        for rule in group.rules(field) {
            if let RuleTarget::Group(other) = &rule.target
                && let Some(vpc) = vpc_of(configuration, &other.value)
                && vpc != home
            {
                out.push(
                    Diagnostic::error(format!(
                        "a rule of `security_group.{}` names a group of another VPC",
                        group.name()
                    ))
                    .at(other.span, format!("`{}` is in `vpc.{vpc}`", other.value))
                    .with_hint(format!(
                        "`{}` is in `vpc.{home}`; allow the other VPC by `cidr` instead",
                        group.name()
                    )),
                );
            }
        }
    }
}

/// Security groups naming each other through `from_group` cannot be created in any order.
fn check_cycles(configuration: &Configuration<'_>, out: &mut Vec<Diagnostic>) {
    let groups: Vec<&Configured<'_>> = configuration.of_kind(KIND).collect();
    let index: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name(), i))
        .collect();
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(groups.len());
    let mut spans: HashMap<(usize, usize), Span> = HashMap::new();
    for (i, group) in groups.iter().enumerate() {
        let mut targets = Vec::new();
        for rule in group.rules(INGRESS).iter().chain(group.rules(EGRESS)) {
            if let RuleTarget::Group(other) = &rule.target
                && let Some(&j) = index.get(other.value.as_str())
                && j != i
            {
                if !targets.contains(&j) {
                    targets.push(j);
                }
                spans.entry((i, j)).or_insert(other.span);
            }
        }
        edges.push(targets);
    }
    for cycle in find_cycles(&edges) {
        let (Some(&first), Some(&second)) = (cycle.first(), cycle.get(1).or(cycle.first())) else {
            continue;
        };
        let Some(span) = spans.get(&(first, second)) else {
            continue;
        };
        let chain: Vec<String> = cycle
            .iter()
            .chain(cycle.first())
            .filter_map(|&i| groups.get(i))
            .map(|g| format!("`security_group.{}`", g.name()))
            .collect();
        out.push(
            Diagnostic::error(format!(
                "security groups name each other in a cycle: {}",
                chain.join(" -> ")
            ))
            .at(*span, "part of the cycle")
            .with_hint(
                "a group is created after the groups its rules name; let one of them allow the \
                 other by `cidr` instead",
            ),
        );
    }
}
