//! The concrete, per-environment desired state that expansion produces.
//!
//! Owns the types every later stage consumes: [`DesiredState`], [`DesiredResource`], its
//! [`Address`], [`ResourceKind`] and field [`Value`]s. Invariants:
//! - every resource has a unique address within one `DesiredState`;
//! - `depends_on` names only addresses present in the same state;
//! - reference fields (`vpc`, `subnet`, `security_groups`, ...) hold [`Value::Ref`]s, typed
//!   addresses, never cloud ids: ids are the provider's business (a live resource's reference
//!   to something envctl does not own stays a `Str` holding the cloud id);
//! - list fields that behave as sets (rules, security groups, subnets of a DB subnet group) are
//!   sorted and deduplicated, so two equal configurations compare equal.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kinds;
use crate::rule::Rule;

/// Tag key naming the project that owns a resource.
pub const TAG_PROJECT: &str = "envctl:project";
/// Tag key naming the environment that owns a resource.
pub const TAG_ENVIRONMENT: &str = "envctl:environment";
/// Tag key holding the resource's [`Address`].
pub const TAG_ADDRESS: &str = "envctl:address";
/// Tag key holding the digest of the desired values envctl last applied to the resource.
pub const TAG_APPLIED_DIGEST: &str = "envctl:applied-digest";

/// The kinds of resource a spec can describe, after expansion.
///
/// `DbSubnetGroup`, `DbClusterParameterGroup` and `DbInstance` never appear in a spec:
/// expansion derives them from a `db_cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Vpc,
    Subnet,
    SecurityGroup,
    Instance,
    DbSubnetGroup,
    DbClusterParameterGroup,
    DbCluster,
    DbInstance,
    LogGroup,
    Parameter,
    Alarm,
    Dashboard,
}

impl ResourceKind {
    /// Every kind, in the order resources are created.
    pub const ALL: [ResourceKind; 12] = [
        ResourceKind::Vpc,
        ResourceKind::Subnet,
        ResourceKind::SecurityGroup,
        ResourceKind::Instance,
        ResourceKind::DbSubnetGroup,
        ResourceKind::DbClusterParameterGroup,
        ResourceKind::DbCluster,
        ResourceKind::DbInstance,
        ResourceKind::LogGroup,
        ResourceKind::Parameter,
        ResourceKind::Alarm,
        ResourceKind::Dashboard,
    ];

    /// The name used in addresses and in the spec (`security_group`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Vpc => "vpc",
            ResourceKind::Subnet => "subnet",
            ResourceKind::SecurityGroup => "security_group",
            ResourceKind::Instance => "instance",
            ResourceKind::DbSubnetGroup => "db_subnet_group",
            ResourceKind::DbClusterParameterGroup => "db_cluster_parameter_group",
            ResourceKind::DbCluster => "db_cluster",
            ResourceKind::DbInstance => "db_instance",
            ResourceKind::LogGroup => "log_group",
            ResourceKind::Parameter => "parameter",
            ResourceKind::Alarm => "alarm",
            ResourceKind::Dashboard => "dashboard",
        }
    }

    /// Fields of this kind that only set scale: an environment may override them, and parity
    /// comparisons ignore them. (Like the next three, declared by the spec kind this kind is
    /// expanded from.)
    pub fn scale_fields(self) -> &'static [&'static str] {
        kinds::expanded(self).map_or(&[], |(_, expanded)| expanded.scale_fields)
    }

    /// Fields two environments may legitimately differ in because of scale: the scale fields,
    /// plus an instance's subnet (instances are spread round-robin, so placement follows the
    /// count).
    pub fn scale_dependent_fields(self) -> &'static [&'static str] {
        kinds::expanded(self).map_or(&[], |(_, expanded)| expanded.scale_dependent_fields)
    }

    /// Whether resources of this kind hold data that a replacement would lose (a DB cluster's
    /// storage). envctl never replaces one as a side effect of another change.
    pub fn holds_data(self) -> bool {
        kinds::expanded(self).is_some_and(|(_, expanded)| expanded.holds_data)
    }

    /// Fields whose values may hold `${project}`, `${environment}` or `${region}` in the
    /// spec, substituted per environment: two environments compare them with the
    /// substitution written back ([`crate::template::unsubstitute`]).
    pub fn templated_fields(self) -> &'static [&'static str] {
        kinds::expanded(self).map_or(&[], |(_, expanded)| expanded.templated_fields)
    }

    /// Whether a spec resource of this kind expands to a counted set whose size is scale.
    pub fn is_counted(self) -> bool {
        kinds::expanded(self).is_some_and(|(_, expanded)| expanded.counted)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceKind {
    type Err = AddressParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| AddressParseError(s.to_string()))
    }
}

/// Text that is not a valid [`Address`] or [`ResourceKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a resource address (expected `kind.name` or `kind.name[index]`)")]
pub struct AddressParseError(pub String);

/// The stable name of one concrete resource: `vpc.main`, `instance.app[1]`.
///
/// Counted resources (`instance`, `db_instance`) carry an index; all others carry none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: ResourceKind,
    pub name: String,
    pub index: Option<u32>,
}

impl Address {
    /// The address of an uncounted resource.
    pub fn new(kind: ResourceKind, name: impl Into<String>) -> Self {
        Address {
            kind,
            name: name.into(),
            index: None,
        }
    }

    /// The address of the `index`-th member of a counted resource.
    pub fn indexed(kind: ResourceKind, name: impl Into<String>, index: u32) -> Self {
        Address {
            kind,
            name: name.into(),
            index: Some(index),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}.{}[{}]", self.kind, self.name, i),
            None => write!(f, "{}.{}", self.kind, self.name),
        }
    }
}

impl FromStr for Address {
    type Err = AddressParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AddressParseError(s.to_string());
        let (kind, rest) = s.split_once('.').ok_or_else(bad)?;
        let kind: ResourceKind = kind.parse().map_err(|_| bad())?;
        let (name, index) = match rest.strip_suffix(']') {
            Some(head) => {
                let (name, idx) = head.split_once('[').ok_or_else(bad)?;
                (name, Some(idx.parse::<u32>().map_err(|_| bad())?))
            }
            None => (rest, None),
        };
        if name.is_empty() || name.contains(['[', ']', '.']) {
            return Err(bad());
        }
        Ok(Address {
            kind,
            name: name.to_string(),
            index,
        })
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A resolved field value. Lists that act as sets are kept sorted (see the module invariants).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    /// A number that is not an integer (an alarm threshold of `0.5`); integral numbers are
    /// always `Int` (see [`Value::number`]), so `80` and `80.0` are one value.
    Float(Decimal),
    /// A reference to another resource of the same environment. Serialised as its address
    /// text (`"security_group.app"`), like a string; read back, text that parses as an
    /// address is a reference.
    Ref(Address),
    /// A security group rule. Serialised as its canonical text; read back, text that parses
    /// as a rule is a rule.
    Rule(Rule),
    Str(String),
    List(Vec<Value>),
}

impl Value {
    /// The text of a `Str`, or `None` for any other variant.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The address of a `Ref`, or `None` for any other variant.
    pub fn as_ref(&self) -> Option<&Address> {
        match self {
            Value::Ref(address) => Some(address),
            _ => None,
        }
    }

    /// The addresses a reference field holds: its own for a `Ref`, its items' for a `List`.
    pub fn refs(&self) -> Vec<&Address> {
        match self {
            Value::Ref(address) => vec![address],
            Value::List(items) => items.iter().filter_map(Value::as_ref).collect(),
            _ => Vec::new(),
        }
    }

    /// The rule of a `Rule`, or `None` for any other variant.
    pub fn as_rule(&self) -> Option<&Rule> {
        match self {
            Value::Rule(rule) => Some(rule),
            _ => None,
        }
    }

    /// The rules a rule set holds: the `Rule` items of a `List`.
    pub fn rules(&self) -> Vec<&Rule> {
        match self {
            Value::List(items) => items.iter().filter_map(Value::as_rule).collect(),
            _ => Vec::new(),
        }
    }

    /// A sorted, deduplicated list (a set of references, of rules, ...).
    pub fn set<I: IntoIterator<Item = Value>>(items: I) -> Value {
        let mut v: Vec<Value> = items.into_iter().collect();
        v.sort();
        v.dedup();
        Value::List(v)
    }

    /// The value of number `x`: an `Int` when it is integral (and fits), else a `Float`;
    /// `None` when it is not finite.
    pub fn number(x: f64) -> Option<Value> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
        if !x.is_finite() {
            return None;
        }
        if x.fract() == 0.0 && x.abs() < EXACT {
            // An integral f64 below 2^53 converts exactly.
            #[allow(clippy::cast_possible_truncation)]
            return Some(Value::Int(x as i64));
        }
        Some(Value::Float(Decimal(x)))
    }

    /// The number of an `Int` or a `Float`, or `None` for any other variant.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(x.get()),
            _ => None,
        }
    }

    /// The number of an `Int`, or `None` for any other variant.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The flag of a `Bool`, or `None` for any other variant.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A sorted, deduplicated list of strings.
    pub fn string_set<I: IntoIterator<Item = String>>(items: I) -> Value {
        let mut v: Vec<String> = items.into_iter().collect();
        v.sort();
        v.dedup();
        Value::List(v.into_iter().map(Value::Str).collect())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{}", x.get()),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Ref(address) => write!(f, "\"{address}\""),
            Value::Rule(rule) => write!(f, "\"{rule}\""),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A finite, non-integral number, ordered and compared by its bits' total order so that a
/// [`Value`] stays `Eq`, `Ord` and `Hash`. Made by [`Value::number`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Decimal(f64);

impl Decimal {
    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl std::hash::Hash for Decimal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// A byte range in the spec source; `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// One concrete resource of one environment, fully resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredResource {
    pub address: Address,
    pub kind: ResourceKind,
    /// `{project}-{env}-{name}` (plus `-{index}` for counted resources): the Name tag, the
    /// security group name, the RDS identifier.
    pub cloud_name: String,
    /// Ownership tags (`envctl:*`) and the project tags, exactly as they go on the resource.
    pub tags: BTreeMap<String, String>,
    /// Addresses this resource references; they must exist before it is created.
    pub depends_on: Vec<Address>,
    /// The resolved configuration, by field name (see the crate docs for each kind's fields).
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
    /// Where in the spec this resource was declared.
    #[serde(skip)]
    pub span: Span,
}

impl DesiredResource {
    /// The value of field `name`, if the resource sets it.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }
}

/// Everything one environment should have, in creation order (a resource comes after those
/// it depends on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredState {
    pub project: String,
    pub environment: String,
    /// The environment's region (its own, else the project's).
    pub region: String,
    /// The account the environment lives in, when the spec names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Digest of every setting that is neither scale nor a declared difference: equal for all
    /// environments of one spec, changed by any non-scale edit.
    pub parity_digest: String,
    /// Destroy and replace need the environment's name typed (or `--confirm ENV`).
    pub protected: bool,
    /// The environment that must have converged on this spec before this one is applied.
    pub promote_from: Option<String>,
    /// The S3 bucket holding the environments' locks (`[project] lock_bucket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_bucket: Option<String>,
    /// Every environment the spec declares, this one included: a resource tagged for the
    /// project with an environment not among them belongs to no one envctl knows.
    #[serde(default)]
    pub spec_environments: Vec<String>,
    pub resources: Vec<DesiredResource>,
}

impl DesiredState {
    /// The resource at `address`, if the environment has it.
    pub fn resource(&self, address: &Address) -> Option<&DesiredResource> {
        self.resources.iter().find(|r| &r.address == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips_through_text() {
        for text in ["vpc.main", "instance.app[3]", "db_instance.main[0]"] {
            let parsed: Address = text.parse().expect("valid address");
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn per_kind_answers_are_the_documented_ones() {
        for kind in ResourceKind::ALL {
            let expected: (&[&str], &[&str], bool, bool) = match kind {
                ResourceKind::Instance => (
                    &["instance_type", "volume_size"],
                    &["instance_type", "volume_size", "subnet"],
                    false,
                    true,
                ),
                ResourceKind::DbInstance => (&["instance_class"], &["instance_class"], false, true),
                ResourceKind::DbCluster => (&[], &[], true, false),
                ResourceKind::Alarm => (&[], &["instance"], false, false),
                ResourceKind::Dashboard => (&[], &["instances"], false, false),
                ResourceKind::Vpc
                | ResourceKind::Subnet
                | ResourceKind::SecurityGroup
                | ResourceKind::DbSubnetGroup
                | ResourceKind::DbClusterParameterGroup
                | ResourceKind::LogGroup
                | ResourceKind::Parameter => (&[], &[], false, false),
            };
            let found = (
                kind.scale_fields(),
                kind.scale_dependent_fields(),
                kind.holds_data(),
                kind.is_counted(),
            );
            assert_eq!(found, expected, "{kind}");
        }
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for text in ["", "vpc", "bucket.x", "instance.app[x]", "vpc.", "vpc.a.b"] {
            assert!(text.parse::<Address>().is_err(), "{text} parsed");
        }
    }
}
