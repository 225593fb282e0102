//! [`Rule`]: one security group rule as a typed value, from the spec to the cloud and back.
//!
//! The spec expands its declared rules into `Rule`s, the provider reads the cloud's
//! permissions into `Rule`s and turns `Rule`s into API calls; nothing in between re-parses
//! text. Invariants: a rule has exactly one peer, so rule sets compare by plain set
//! difference; a peer group envctl owns is its [`Address`], one it does not own stays its raw
//! id ([`Peer::ForeignGroup`]) so that it shows up as a difference instead of vanishing.
//! The canonical text (`tcp:443-443:cidr=10.0.0.0/8`, `tcp:5432-5432:group=security_group.app`,
//! `all:all:cidr=0.0.0.0/0`) is how a rule is shown and serialised; rules order by that text,
//! so a rendered set reads the same as it always did.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::Address;

/// Where traffic of a rule comes from (ingress) or goes to (egress).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    /// An IPv4 range, `10.0.0.0/8`.
    Cidr(String),
    /// An IPv6 range (read from the cloud; the spec does not declare them).
    Cidr6(String),
    /// A managed prefix list, by id (read from the cloud).
    PrefixList(String),
    /// A security group envctl owns, by address.
    Group(Address),
    /// A security group envctl does not own, by id.
    ForeignGroup(String),
}

/// One security group rule: one protocol, one port range, one peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp`, `all`, or a protocol number the cloud reported.
    pub protocol: String,
    /// The first and last port; `None` for every port (protocol `all`, or icmp without a
    /// type and code).
    pub ports: Option<(i32, i32)>,
    pub peer: Peer,
}

impl Rule {
    /// The group this rule names, if it names one envctl owns.
    pub fn group(&self) -> Option<&Address> {
        match &self.peer {
            Peer::Group(address) => Some(address),
            _ => None,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.protocol)?;
        match self.ports {
            Some((from, to)) => write!(f, "{from}-{to}:")?,
            None => f.write_str("all:")?,
        }
        match &self.peer {
            Peer::Cidr(cidr) => write!(f, "cidr={cidr}"),
            Peer::Cidr6(cidr) => write!(f, "cidr6={cidr}"),
            Peer::PrefixList(id) => write!(f, "prefix={id}"),
            Peer::Group(address) => write!(f, "group={address}"),
            Peer::ForeignGroup(id) => write!(f, "group={id}"),
        }
    }
}

/// Text that is not a rule's canonical text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a security group rule (expected e.g. `tcp:443-443:cidr=10.0.0.0/8`)")]
pub struct RuleParseError(pub String);

impl FromStr for Rule {
    type Err = RuleParseError;

    fn from_str(text: &str) -> Result<Rule, RuleParseError> {
        let bad = || RuleParseError(text.to_string());
        let mut parts = text.splitn(3, ':');
        let protocol = parts.next().filter(|p| !p.is_empty()).ok_or_else(bad)?;
        let ports = match parts.next().ok_or_else(bad)? {
            "all" => None,
            range => {
                let (from, to) = range.split_once('-').ok_or_else(bad)?;
                Some((
                    from.parse().map_err(|_| bad())?,
                    to.parse().map_err(|_| bad())?,
                ))
            }
        };
        let (kind, value) = parts
            .next()
            .and_then(|peer| peer.split_once('='))
            .filter(|(_, value)| !value.is_empty())
            .ok_or_else(bad)?;
        let peer = match kind {
            "cidr" => Peer::Cidr(value.to_string()),
            "cidr6" => Peer::Cidr6(value.to_string()),
            "prefix" => Peer::PrefixList(value.to_string()),
            "group" => match value.parse::<Address>() {
                Ok(address) => Peer::Group(address),
                Err(_) => Peer::ForeignGroup(value.to_string()),
            },
            _ => return Err(bad()),
        };
        Ok(Rule {
            protocol: protocol.to_string(),
            ports,
            peer,
        })
    }
}

impl PartialOrd for Rule {
    fn partial_cmp(&self, other: &Rule) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rule {
    /// By canonical text, the order rule sets have always been shown in.
    fn cmp(&self, other: &Rule) -> Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_round_trips() {
        for text in [
            "tcp:443-443:cidr=10.0.0.0/8",
            "tcp:5432-5432:group=security_group.app",
            "all:all:cidr=0.0.0.0/0",
            "icmp:all:cidr=10.0.0.0/8",
            "udp:1000-2000:group=sg-0123",
            "tcp:22-22:cidr6=::/0",
            "tcp:443-443:prefix=pl-0abc",
        ] {
            let rule: Rule = text.parse().expect("canonical");
            assert_eq!(rule.to_string(), text);
        }
    }

    #[test]
    fn owned_groups_are_addresses_and_others_ids() {
        let owned: Rule = "tcp:5432-5432:group=security_group.app"
            .parse()
            .expect("rule");
        assert_eq!(
            owned.group().map(ToString::to_string).as_deref(),
            Some("security_group.app")
        );
        let foreign: Rule = "tcp:5432-5432:group=sg-0123".parse().expect("rule");
        assert_eq!(foreign.peer, Peer::ForeignGroup("sg-0123".into()));
    }

    #[test]
    fn text_that_is_not_a_rule_is_refused() {
        for text in [
            "",
            "tcp",
            "tcp:443",
            "tcp:443:cidr=x",
            "tcp:a-b:cidr=x",
            "tcp:1-2:host=x",
            "tcp:1-2:cidr=",
            ":1-2:cidr=x",
        ] {
            assert!(text.parse::<Rule>().is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn rules_serialise_as_their_text() {
        let rule: Rule = "tcp:443-443:cidr=10.0.0.0/8".parse().expect("rule");
        let json = serde_json::to_string(&rule).expect("serialises");
        assert_eq!(json, "\"tcp:443-443:cidr=10.0.0.0/8\"");
        let back: Rule = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, rule);
    }
}
