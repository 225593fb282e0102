//! Security group rules: the spec's canonical rule text <-> EC2 `IpPermission`s.
//!
//! Owns [`Rule`], its parsing from and rendering to the canonical text the spec produces
//! (`tcp:443-443:cidr=10.0.0.0/8`, `tcp:5432-5432:group=security_group.app`,
//! `all:all:cidr=0.0.0.0/0`), and the conversions to and from EC2. Invariants: one rule is one
//! (protocol, ports, single source) triple, so rule sets diff by plain set difference; a live
//! rule whose source envctl does not own renders with the raw id (`group=sg-0abc`) so that it
//! shows up as a difference instead of vanishing.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};
use envctl_spec::Address;

/// Where traffic of a rule comes from (ingress) or goes to (egress).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    Cidr(String),
    Cidr6(String),
    PrefixList(String),
    /// An owned group, by address.
    Group(Address),
    /// A group envctl does not own, by id.
    ForeignGroup(String),
}

/// One security group rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rule {
    /// `tcp`, `udp`, `icmp`, `all`, or a protocol number.
    pub protocol: String,
    /// `None` for every port (protocol `all`, or icmp without type/code).
    pub ports: Option<(i32, i32)>,
    pub source: Source,
}

impl Rule {
    /// Parses the canonical text; `None` when it is not canonical.
    pub fn parse(text: &str) -> Option<Rule> {
        let mut parts = text.splitn(3, ':');
        let protocol = parts.next()?.to_string();
        let ports = match parts.next()? {
            "all" => None,
            range => {
                let (from, to) = range.split_once('-')?;
                Some((from.parse().ok()?, to.parse().ok()?))
            }
        };
        let (kind, value) = parts.next()?.split_once('=')?;
        let source = match kind {
            "cidr" => Source::Cidr(value.to_string()),
            "cidr6" => Source::Cidr6(value.to_string()),
            "prefix" => Source::PrefixList(value.to_string()),
            "group" => match value.parse::<Address>() {
                Ok(address) => Source::Group(address),
                Err(_) => Source::ForeignGroup(value.to_string()),
            },
            _ => return None,
        };
        Some(Rule {
            protocol,
            ports,
            source,
        })
    }

    /// The canonical text.
    pub fn render(&self) -> String {
        let ports = match self.ports {
            Some((from, to)) => format!("{from}-{to}"),
            None => "all".to_string(),
        };
        let source = match &self.source {
            Source::Cidr(c) => format!("cidr={c}"),
            Source::Cidr6(c) => format!("cidr6={c}"),
            Source::PrefixList(p) => format!("prefix={p}"),
            Source::Group(a) => format!("group={a}"),
            Source::ForeignGroup(id) => format!("group={id}"),
        };
        format!("{}:{}:{}", self.protocol, ports, source)
    }

    /// The EC2 permission for this rule; `group_ids` resolves owned group addresses.
    /// `None` when an owned group has no id yet.
    pub fn to_permission(&self, group_ids: &BTreeMap<Address, String>) -> Option<IpPermission> {
        let protocol = match self.protocol.as_str() {
            "all" => "-1".to_string(),
            p => p.to_string(),
        };
        let (from, to) = match (self.protocol.as_str(), self.ports) {
            ("all", _) => (None, None),
            (_, Some((from, to))) => (Some(from), Some(to)),
            ("icmp", None) => (Some(-1), Some(-1)),
            (_, None) => (Some(0), Some(65535)),
        };
        let mut permission = IpPermission::builder()
            .ip_protocol(protocol)
            .set_from_port(from)
            .set_to_port(to);
        permission = match &self.source {
            Source::Cidr(c) => permission.ip_ranges(IpRange::builder().cidr_ip(c).build()),
            Source::Cidr6(c) => permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
            Source::PrefixList(p) => {
                permission.prefix_list_ids(PrefixListId::builder().prefix_list_id(p).build())
            }
            Source::Group(address) => permission.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(group_ids.get(address)?)
                    .build(),
            ),
            Source::ForeignGroup(id) => {
                permission.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
            }
        };
        Some(permission.build())
    }
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
        let mut push = |source| {
            rules.push(Rule {
                protocol: protocol.clone(),
                ports,
                source,
            })
        };
        for range in permission.ip_ranges() {
            push(Source::Cidr(
                range.cidr_ip().unwrap_or_default().to_string(),
            ));
        }
        for range in permission.ipv6_ranges() {
            push(Source::Cidr6(
                range.cidr_ipv6().unwrap_or_default().to_string(),
            ));
        }
        for list in permission.prefix_list_ids() {
            push(Source::PrefixList(
                list.prefix_list_id().unwrap_or_default().to_string(),
            ));
        }
        for pair in permission.user_id_group_pairs() {
            let id = pair.group_id().unwrap_or_default();
            push(match group_addresses.get(id) {
                Some(address) => Source::Group(address.clone()),
                None => Source::ForeignGroup(id.to_string()),
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
    fn canonical_rules_round_trip() {
        for text in [
            "tcp:443-443:cidr=10.0.0.0/8",
            "tcp:5432-5432:group=security_group.app",
            "all:all:cidr=0.0.0.0/0",
            "icmp:all:cidr=10.0.0.0/8",
            "udp:1000-2000:group=sg-0123",
        ] {
            let rule = Rule::parse(text).expect("canonical");
            assert_eq!(rule.render(), text);
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
            .map(Rule::render)
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
        let rule = Rule::parse("all:all:cidr=0.0.0.0/0").expect("canonical");
        let permission = rule
            .to_permission(&BTreeMap::new())
            .expect("no groups needed");
        assert_eq!(permission.ip_protocol(), Some("-1"));
        let back = rules_from_permissions(&[permission], &BTreeMap::new());
        assert_eq!(back, vec![rule]);
    }
}
