//! Security group rules: the spec's typed [`Rule`]s <-> EC2 `IpPermission`s.
//!
//! Owns the two conversions and nothing else: the rule type itself, its canonical text and
//! its invariants live in `envctl_spec::rule`. Invariants here: one EC2 permission splits
//! into one rule per peer, so rule sets diff by plain set difference; a peer group envctl
//! does not own is read as [`Peer::ForeignGroup`] (its raw id) so that it shows up as a
//! difference instead of vanishing.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};
use envctl_spec::{Address, Peer, Rule};

/// The EC2 permission for `rule`; `group_ids` resolves owned group addresses.
/// `None` when an owned group has no id yet.
pub(crate) fn permission(
    rule: &Rule,
    group_ids: &BTreeMap<Address, String>,
) -> Option<IpPermission> {
    let protocol = match rule.protocol.as_str() {
        "all" => "-1".to_string(),
        p => p.to_string(),
    };
    let (from, to) = match (rule.protocol.as_str(), rule.ports) {
        ("all", _) => (None, None),
        (_, Some((from, to))) => (Some(from), Some(to)),
        ("icmp", None) => (Some(-1), Some(-1)),
        (_, None) => (Some(0), Some(65535)),
    };
    let builder = IpPermission::builder()
        .ip_protocol(protocol)
        .set_from_port(from)
        .set_to_port(to);
    let builder = match &rule.peer {
        Peer::Cidr(c) => builder.ip_ranges(IpRange::builder().cidr_ip(c).build()),
        Peer::Cidr6(c) => builder.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
        Peer::PrefixList(p) => {
            builder.prefix_list_ids(PrefixListId::builder().prefix_list_id(p).build())
        }
        Peer::Group(address) => builder.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(group_ids.get(address)?)
                .build(),
        ),
        Peer::ForeignGroup(id) => {
            builder.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
        }
    };
    Some(builder.build())
}

/// Splits EC2 permissions into single-source rules; `group_addresses` maps owned group ids
/// to addresses.
pub(crate) fn rules_from_permissions(
    permissions: &[IpPermission],
    group_addresses: &BTreeMap<String, Address>,
) -> Vec<Rule> {
    let mut rules = Vec::new();
    for permission in permissions {
        let protocol = match permission.ip_protocol().unwrap_or("-1") {
            "-1" => "all",
            "6" => "tcp",
            "17" => "udp",
            "1" => "icmp",
            other => other,
        }
        .to_string();
        let ports = match (
            protocol.as_str(),
            permission.from_port(),
            permission.to_port(),
        ) {
            ("all", _, _) => None,
            ("icmp", Some(-1), _) | (_, None, _) | (_, _, None) => None,
            (_, Some(from), Some(to)) => Some((from, to)),
        };
        let mut push = |peer| {
            rules.push(Rule {
                protocol: protocol.clone(),
                ports,
                peer,
            })
        };
        for range in permission.ip_ranges() {
            push(Peer::Cidr(range.cidr_ip().unwrap_or_default().to_string()));
        }
        for range in permission.ipv6_ranges() {
            push(Peer::Cidr6(
                range.cidr_ipv6().unwrap_or_default().to_string(),
            ));
        }
        for list in permission.prefix_list_ids() {
            push(Peer::PrefixList(
                list.prefix_list_id().unwrap_or_default().to_string(),
            ));
        }
        for pair in permission.user_id_group_pairs() {
            let id = pair.group_id().unwrap_or_default();
            push(match group_addresses.get(id) {
                Some(address) => Peer::Group(address.clone()),
                None => Peer::ForeignGroup(id.to_string()),
            });
        }
    }
    rules.sort();
    rules.dedup();
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_through_ec2() {
        let app: Address = "security_group.app".parse().expect("address");
        let owned = BTreeMap::from([(app.clone(), "sg-app".to_string())]);
        let by_id = BTreeMap::from([("sg-app".to_string(), app)]);
        for text in [
            "tcp:443-443:cidr=10.0.0.0/8",
            "tcp:5432-5432:group=security_group.app",
            "all:all:cidr=0.0.0.0/0",
            "icmp:all:cidr=10.0.0.0/8",
            "udp:1000-2000:group=sg-0123",
        ] {
            let rule: Rule = text.parse().expect("canonical");
            let back = rules_from_permissions(
                &[permission(&rule, &owned).expect("groups resolve")],
                &by_id,
            );
            assert_eq!(back, vec![rule], "{text}");
        }
    }

    #[test]
    fn permissions_split_into_one_rule_per_source_with_owned_groups_as_addresses() {
        let app: Address = "security_group.app".parse().expect("address");
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-app").build())
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-other").build())
            .build();
        let owned = BTreeMap::from([("sg-app".to_string(), app)]);
        let rendered: Vec<String> = rules_from_permissions(&[permission], &owned)
            .iter()
            .map(Rule::to_string)
            .collect();
        assert_eq!(
            rendered,
            [
                "tcp:5432-5432:cidr=10.0.0.0/8",
                "tcp:5432-5432:group=security_group.app",
                "tcp:5432-5432:group=sg-other",
            ]
        );
    }

    #[test]
    fn protocol_all_round_trips_through_ec2() {
        let rule: Rule = "all:all:cidr=0.0.0.0/0".parse().expect("canonical");
        let sent = permission(&rule, &BTreeMap::new()).expect("no groups needed");
        assert_eq!(sent.ip_protocol(), Some("-1"));
        let back = rules_from_permissions(&[sent], &BTreeMap::new());
        assert_eq!(back, vec![rule]);
    }
}
