//! The resource kinds a spec can declare: the registry of them, the field schema they are
//! described with, and how one field's value is read.
//!
//! Owns [`REGISTRY`], [`KindDef`] and its handle [`SpecKind`], the field schema ([`FieldDef`])
//! and typed field values ([`FieldValue`]). Each kind is defined once, in its own file of this
//! directory (`vpc.rs`, `subnet.rs`, ...): its name, wording, fields, count field, the kinds of
//! desired resource it expands into ([`ExpandedKind`]) and how, and the checks it needs other
//! resources for. Every generic pass asks the registry instead of naming kinds: the raw stage
//! asks which field names exist, validation asks for types, defaults and which fields are scale
//! and runs each kind's checks, the JSON Schema and the parity digest walk the fields, expansion
//! calls each kind's `expand`, and [`ResourceKind`]'s per-kind answers (scale fields, data,
//! counting) are read from the expanded kinds. Invariants:
//! - [`REGISTRY`] lists every spec kind once, in creation order (the order of their
//!   [`ResourceKind`]s), and kinds compare and sort by that order;
//! - the expanded kinds of the registry, in order, are exactly [`ResourceKind::ALL`]: each spec
//!   kind expands into the kind of its own name and perhaps some derived ones;
//! - a `FieldValue` returned by [`parse_field`] has passed the field's own validation (type,
//!   range, format); checks that need other resources (references, containment) happen later;
//! - every default fits its field's shape (the registry's tests hold every kind to that);
//! - scale fields are exactly `instance.instance_type`, `instance.count`,
//!   `instance.volume_size`, `db_cluster.instance_class` and `db_cluster.instances`.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, address_of};
use crate::formats;
use crate::model::{Address, ResourceKind, Span, Value};
use crate::net::{Cidr, CidrError, PortRange};
use crate::raw::{RawValue, Sp, wrong_type};
use crate::rule::{Peer, Rule};
use crate::spec::{Configuration, Configured};
use crate::suggest;
use crate::template;

pub(crate) mod alarm;
pub(crate) mod dashboard;
pub(crate) mod db_cluster;
pub(crate) mod instance;
pub(crate) mod log_group;
pub(crate) mod parameter;
pub(crate) mod security_group;
pub(crate) mod subnet;
pub(crate) mod vpc;

/// Every kind a spec can declare, in the order resources are created. Adding a kind is one
/// file in this directory, its `mod` line above and its entry here (plus, for the kinds of
/// desired resource it expands into, their variants of [`ResourceKind`]; the tests of this
/// module say what else is missing).
pub(crate) const REGISTRY: [SpecKind; 9] = [
    vpc::KIND,
    subnet::KIND,
    security_group::KIND,
    instance::KIND,
    db_cluster::KIND,
    log_group::KIND,
    parameter::KIND,
    alarm::KIND,
    dashboard::KIND,
];

/// Everything the generic passes need to know about one kind of spec resource. Each kind's
/// file defines one, as the `KIND` constant.
#[derive(Debug)]
pub(crate) struct KindDef {
    /// The expanded resource of the same name: its name is the kind's name in a spec and in
    /// addresses (`security_group`), and its order is the kind's creation order.
    pub resource_kind: ResourceKind,
    /// How messages name one resource of this kind.
    pub singular: &'static str,
    /// How messages name several resources of this kind.
    pub plural: &'static str,
    /// The fields a resource of this kind may set, in documentation order.
    pub fields: &'static [FieldDef],
    /// The field holding how many cloud resources this one expands into, if it is counted.
    pub count_field: Option<&'static str>,
    /// The kinds of desired resource `expand` makes, in creation order: the one of the same
    /// name, and any derived from it (a database cluster's subnet group and instances).
    pub expands_to: &'static [ExpandedKind],
    /// Adds the desired resources one resource of this kind becomes, with its effective
    /// fields (the spec is valid: every reference resolves).
    pub expand: fn(&Configured<'_>, &mut Expansion<'_>),
    /// The checks one resource of this kind needs other resources for, run on each
    /// configuration (after every reference was checked to resolve; a check skips what does
    /// not resolve).
    pub check: Option<fn(&Configuration<'_>, &Configured<'_>, &mut Vec<Diagnostic>)>,
    /// The checks that need every resource of this kind at once (overlaps, cycles), run on
    /// each configuration after the checks of single resources.
    pub check_all: Option<fn(&Configuration<'_>, &mut Vec<Diagnostic>)>,
}

/// A kind of desired resource that a spec kind expands into, with what the later stages ask of
/// it through [`ResourceKind`]'s methods (which read it here).
#[derive(Debug)]
pub(crate) struct ExpandedKind {
    pub kind: ResourceKind,
    /// Fields that only set scale: environments may differ in them, parity ignores them.
    pub scale_fields: &'static [&'static str],
    /// The scale fields, plus those that follow from scale (an instance's placement follows
    /// its count).
    pub scale_dependent_fields: &'static [&'static str],
    /// Whether a replacement would lose data that the resource holds.
    pub holds_data: bool,
    /// Whether the spec resource expands to a counted set of these, whose size is scale.
    pub counted: bool,
    /// `Some` for a kind derived from the spec kind, which a spec cannot declare itself.
    pub derived: Option<Derived>,
    /// How its cloud name is made from the project, environment and address.
    pub naming: Naming,
    /// Fields whose values had `${project}`, `${environment}` and `${region}` substituted:
    /// parity writes those back before comparing two environments.
    pub templated_fields: &'static [&'static str],
}

/// How an expanded resource's cloud name is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    /// `{project}-{environment}-{name}`, plus `-{index}` for counted resources: the Name tag,
    /// the security group name, the RDS identifier.
    Dashed,
    /// `/{project}/{environment}/{name}`: a log group, an SSM parameter (their APIs list
    /// by path prefix).
    Path,
}

impl Naming {
    /// The cloud name of `address` in `environment` of `project`.
    pub(crate) fn cloud_name(self, project: &str, environment: &str, address: &Address) -> String {
        match self {
            Naming::Dashed => match address.index {
                Some(index) => format!("{project}-{environment}-{}-{index}", address.name),
                None => format!("{project}-{environment}-{}", address.name),
            },
            Naming::Path => match address.index {
                Some(index) => format!("/{project}/{environment}/{}/{index}", address.name),
                None => format!("/{project}/{environment}/{}", address.name),
            },
        }
    }
}

impl ExpandedKind {
    /// A kind of one uncounted resource per spec resource, with no scale, holding no data.
    pub(crate) const fn plain(kind: ResourceKind) -> ExpandedKind {
        ExpandedKind {
            kind,
            scale_fields: &[],
            scale_dependent_fields: &[],
            holds_data: false,
            counted: false,
            derived: None,
            naming: Naming::Dashed,
            templated_fields: &[],
        }
    }
}

/// How messages speak of a derived kind, which a spec cannot declare.
#[derive(Debug)]
pub(crate) struct Derived {
    /// How messages name several: `database instances`.
    pub plural: &'static str,
    /// What to write in the spec instead of declaring one.
    pub hint: &'static str,
    /// What differences of one are declared on, in words: `a database`.
    pub whole: &'static str,
}

/// What the registry says of expanded kind `kind`, with the spec kind it comes from.
pub(crate) fn expanded(kind: ResourceKind) -> Option<(SpecKind, &'static ExpandedKind)> {
    SpecKind::ALL.into_iter().find_map(|spec| {
        spec.expands_to()
            .iter()
            .find(|expanded| expanded.kind == kind)
            .map(|expanded| (spec, expanded))
    })
}

/// The derived kind named `name` (`db_instance`), with the spec kind it is derived from.
pub(crate) fn derived(name: &str) -> Option<(SpecKind, &'static Derived)> {
    SpecKind::ALL.into_iter().find_map(|spec| {
        spec.expands_to()
            .iter()
            .filter(|expanded| expanded.kind.as_str() == name)
            .find_map(|expanded| expanded.derived.as_ref())
            .map(|derived| (spec, derived))
    })
}

/// A kind of resource written in a spec (derived kinds such as `db_instance` are not): a handle
/// on its [`KindDef`]. Kinds are equal, ordered and hashed by their expanded kind.
#[derive(Clone, Copy)]
pub(crate) struct SpecKind(&'static KindDef);

impl SpecKind {
    /// Every kind, in the order resources are created.
    pub(crate) const ALL: [SpecKind; REGISTRY.len()] = REGISTRY;

    /// The kind named `text` in a spec (`security_group`).
    pub(crate) fn parse(text: &str) -> Option<SpecKind> {
        SpecKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub(crate) fn as_str(self) -> &'static str {
        self.resource_kind().as_str()
    }

    /// The kind of the expanded resource of the same name.
    pub(crate) fn resource_kind(self) -> ResourceKind {
        self.0.resource_kind
    }

    /// How messages name one resource of this kind.
    pub(crate) fn singular(self) -> &'static str {
        self.0.singular
    }

    /// How messages name several resources of this kind.
    pub(crate) fn plural(self) -> &'static str {
        self.0.plural
    }

    /// The fields a resource of this kind may set, in documentation order.
    pub(crate) fn fields(self) -> &'static [FieldDef] {
        self.0.fields
    }

    pub(crate) fn field(self, name: &str) -> Option<&'static FieldDef> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The field holding how many cloud resources this one expands into, if it is counted.
    pub(crate) fn count_field(self) -> Option<&'static str> {
        self.0.count_field
    }

    /// The kinds of desired resource this kind expands into, in creation order.
    pub(crate) fn expands_to(self) -> &'static [ExpandedKind] {
        self.0.expands_to
    }

    /// Adds the desired resources `resource`, of this kind, becomes.
    pub(crate) fn expand(self, resource: &Configured<'_>, out: &mut Expansion<'_>) {
        (self.0.expand)(resource, out);
    }

    /// Runs this kind's checks of `resource`, of this kind, in `configuration`.
    pub(crate) fn check(
        self,
        configuration: &Configuration<'_>,
        resource: &Configured<'_>,
        out: &mut Vec<Diagnostic>,
    ) {
        if let Some(check) = self.0.check {
            check(configuration, resource, out);
        }
    }

    /// Runs this kind's checks of all its resources in `configuration` at once.
    pub(crate) fn check_all(self, configuration: &Configuration<'_>, out: &mut Vec<Diagnostic>) {
        if let Some(check_all) = self.0.check_all {
            check_all(configuration, out);
        }
    }
}

impl PartialEq for SpecKind {
    fn eq(&self, other: &SpecKind) -> bool {
        self.resource_kind() == other.resource_kind()
    }
}

impl Eq for SpecKind {}

impl PartialOrd for SpecKind {
    fn partial_cmp(&self, other: &SpecKind) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SpecKind {
    fn cmp(&self, other: &SpecKind) -> std::cmp::Ordering {
        self.resource_kind().cmp(&other.resource_kind())
    }
}

impl Hash for SpecKind {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.resource_kind().hash(state);
    }
}

impl fmt::Debug for SpecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpecKind({})", self.as_str())
    }
}

/// Every scale field, as `kind.field`, for messages.
pub(crate) fn scale_field_list() -> String {
    let names: Vec<String> = SpecKind::ALL
        .into_iter()
        .flat_map(|kind| {
            kind.fields()
                .iter()
                .filter(|f| f.scale)
                .map(move |f| format!("{}.{}", kind.as_str(), f.name))
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    suggest::backticked(&names)
}

/// One field of a kind.
#[derive(Debug)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub shape: Shape,
    pub presence: Presence,
    /// Whether environments may override it (and parity ignores it).
    pub scale: bool,
    /// A valid `field = value` line, shown when the field is missing.
    pub example: &'static str,
}

impl FieldDef {
    /// The value of this field when resource `name`, declared at `span`, leaves it out: `None`
    /// when it has no default (or a default that does not fit its shape, which the registry's
    /// tests rule out).
    pub(crate) fn default_value(&self, name: &str, span: Span) -> Option<FieldValue> {
        let Presence::Default(default) = &self.presence else {
            return None;
        };
        Some(match default {
            DefaultValue::Int(number) => FieldValue::Int(*number),
            DefaultValue::Bool(flag) => FieldValue::Bool(*flag),
            DefaultValue::NoReferences => match self.shape {
                Shape::RefList { kind, ordered, .. } => FieldValue::RefList {
                    kind,
                    ordered,
                    names: Vec::new(),
                },
                _ => return None,
            },
            DefaultValue::NoRules => FieldValue::Rules(Vec::new()),
            DefaultValue::AllTrafficOut => {
                FieldValue::Rules(vec![DeclaredRule::all_traffic_out(span)])
            }
            DefaultValue::ResourceName => FieldValue::Text(name.to_string()),
        })
    }
}

/// The type of a field's value, with the checks that need nothing but the value.
#[derive(Debug)]
pub(crate) enum Shape {
    Text(TextFormat),
    Int {
        min: i64,
        max: i64,
        /// Why the range is what it is, when the reason is not obvious.
        why: Option<&'static str>,
    },
    Bool,
    /// An IPv4 network whose prefix lies in `min_prefix..=max_prefix`.
    Cidr {
        min_prefix: u8,
        max_prefix: u8,
    },
    /// The name of a resource of `kind`.
    Ref(SpecKind),
    /// Names of resources of `kind`; `ordered` lists keep their order, others act as sets.
    RefList {
        kind: SpecKind,
        min_len: usize,
        ordered: bool,
        /// Why the list needs `min_len` names, when the reason is not obvious.
        why: Option<&'static str>,
    },
    /// Security group rules.
    Rules,
    /// One of a fixed set of integers (the retention periods CloudWatch Logs accepts).
    IntChoice {
        values: &'static [i64],
        why: &'static str,
    },
    /// Text that may use the placeholders `${project}`, `${environment}` and `${region}`,
    /// substituted per environment at expansion; at most `max_len` bytes once substituted.
    Template {
        max_len: usize,
    },
    /// A list of such texts, kept in order; no item may hold `separator` (the service joins
    /// the items with it).
    TemplateList {
        separator: char,
    },
    /// A table of settings by name (`{ "rds.force_ssl" = "1" }`): names of letters, digits,
    /// `_`, `.` and `-`; values strings, integers or booleans, kept as text.
    Settings,
    /// One of a fixed set of texts (an alarm's statistic, its comparison).
    Choice {
        values: &'static [&'static str],
        why: &'static str,
    },
    /// A finite number, integer or not, in `min..=max`.
    Number {
        min: f64,
        max: f64,
    },
    /// A resource of one of `kinds`, by address (`"instance.app"`), where a field may name
    /// several kinds (what an alarm watches).
    Member {
        kinds: &'static [SpecKind],
    },
    /// A JSON document in a file next to the spec, named by its path relative to the spec's
    /// folder, of at most `max_bytes`; placeholders are checked by the kind.
    JsonFile {
        max_bytes: usize,
    },
}

/// The formats of text fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextFormat {
    Ami,
    InstanceType,
    InstanceClass,
    Zone,
    Engine,
    EngineVersion,
    Window,
    MasterUsername,
    Description,
    /// A KMS key ARN.
    KmsKeyArn,
    /// Where a secret's value is read from at plan and apply time: `env:VAR` or `file:PATH`.
    SecretSource,
    /// A CloudWatch metric name: 1 to 255 characters, none of them a control character.
    MetricName,
}

impl TextFormat {
    /// What a valid value looks like, in words (for the JSON Schema's descriptions).
    pub(crate) fn expected(self) -> &'static str {
        match self {
            TextFormat::Ami => "a pinned image id: `ami-` and 8 or 17 lowercase hex digits",
            TextFormat::InstanceType => "an EC2 instance type such as `t3.medium`",
            TextFormat::InstanceClass => "an RDS instance class such as `db.r6g.large`",
            TextFormat::Zone => {
                "an availability zone: the letter alone (`a`, in each environment's region) or, \
                 when every environment is in the project's region, the full name such as \
                 `us-east-1a`"
            }
            TextFormat::Engine => "`aurora-postgresql` or `aurora-mysql`",
            TextFormat::EngineVersion => "a full engine version such as `15.4`",
            TextFormat::Window => "a daily window `hh:mm-hh:mm` in UTC, such as `03:00-04:00`",
            TextFormat::MasterUsername => {
                "a letter, then letters, digits or `_`, at most 16 characters; the password is \
                 generated and kept by RDS, never in the spec"
            }
            TextFormat::Description => "at most 255 characters AWS accepts in a description",
            TextFormat::KmsKeyArn => "a KMS key ARN, `arn:aws:kms:REGION:ACCOUNT:key/ID`",
            TextFormat::SecretSource => {
                "`env:VAR` (an environment variable) or `file:PATH` (a file, relative to the \
                 working directory), read when envctl plans and applies, never stored"
            }
            TextFormat::MetricName => "a CloudWatch metric name such as `CPUUtilization`",
        }
    }
}

/// Whether a field must be written, and its value when it is not.
#[derive(Debug)]
pub(crate) enum Presence {
    Required,
    Optional,
    Default(DefaultValue),
}

#[derive(Debug)]
pub(crate) enum DefaultValue {
    Int(i64),
    Bool(bool),
    /// An empty list of references.
    NoReferences,
    /// No rules.
    NoRules,
    /// AWS's default egress: all traffic to `0.0.0.0/0`.
    AllTrafficOut,
    /// The resource's own name.
    ResourceName,
}

/// Database engines envctl manages.
pub(crate) const ENGINES: [&str; 2] = ["aurora-postgresql", "aurora-mysql"];

/// A field's value after its own validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Text(String),
    Int(i64),
    Bool(bool),
    Cidr(Cidr),
    Ref {
        kind: SpecKind,
        name: Sp<String>,
        /// Written with its kind (`"instance.app"`, a [`Shape::Member`]) rather than alone.
        qualified: bool,
    },
    RefList {
        kind: SpecKind,
        ordered: bool,
        names: Vec<Sp<String>>,
    },
    Rules(Vec<DeclaredRule>),
    /// The texts of a [`Shape::TemplateList`], in order.
    TextList(Vec<String>),
    /// The settings of a [`Shape::Settings`] table, by name (sorted, each name once).
    Settings(Vec<(Sp<String>, String)>),
    /// The number of a [`Shape::Number`] (finite).
    Number(f64),
    /// The path of a [`Shape::JsonFile`] as written, and the file's text.
    JsonFile {
        path: Sp<String>,
        text: String,
    },
}

impl FieldValue {
    /// The value as expansion writes it: references become typed addresses, set-like
    /// lists are sorted and deduplicated, rules become typed [`Rule`]s.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            FieldValue::Text(text) => Value::Str(text.clone()),
            FieldValue::Int(number) => Value::Int(*number),
            // Finite by construction; a non-finite one could not have been parsed.
            FieldValue::Number(x) => Value::number(*x).unwrap_or(Value::Int(0)),
            // What the spec means is the file's text: editing the file is editing the spec.
            FieldValue::JsonFile { text, .. } => Value::Str(text.clone()),
            FieldValue::Bool(flag) => Value::Bool(*flag),
            FieldValue::Cidr(cidr) => Value::Str(cidr.to_string()),
            FieldValue::Ref { kind, name, .. } => Value::Ref(address_of(*kind, &name.value)),
            FieldValue::RefList {
                kind,
                ordered: true,
                names,
            } => Value::List(
                names
                    .iter()
                    .map(|n| Value::Ref(address_of(*kind, &n.value)))
                    .collect(),
            ),
            FieldValue::RefList { kind, names, .. } => Value::set(
                names
                    .iter()
                    .map(|n| Value::Ref(address_of(*kind, &n.value))),
            ),
            FieldValue::Rules(rules) => {
                Value::set(rules.iter().map(|rule| Value::Rule(rule.to_rule())))
            }
            FieldValue::TextList(items) => {
                Value::List(items.iter().cloned().map(Value::Str).collect())
            }
            FieldValue::Settings(settings) => Value::string_set(
                settings
                    .iter()
                    .map(|(name, value)| format!("{}={value}", name.value)),
            ),
        }
    }

    /// The text the field would be written as in a spec, for hints.
    pub(crate) fn to_toml(&self) -> String {
        match self {
            FieldValue::Text(text) => quote(text),
            FieldValue::Int(number) => number.to_string(),
            FieldValue::Number(x) => x.to_string(),
            FieldValue::JsonFile { path, .. } => quote(&path.value),
            FieldValue::Bool(flag) => flag.to_string(),
            FieldValue::Cidr(cidr) => quote(&cidr.to_string()),
            FieldValue::Ref {
                kind,
                name,
                qualified: true,
            } => quote(&format!("{}.{}", kind.as_str(), name.value)),
            FieldValue::Ref { name, .. } => quote(&name.value),
            FieldValue::RefList { names, .. } => {
                let items: Vec<String> = names.iter().map(|n| quote(&n.value)).collect();
                format!("[{}]", items.join(", "))
            }
            FieldValue::Rules(rules) => {
                let items: Vec<String> = rules.iter().map(DeclaredRule::to_toml).collect();
                format!("[{}]", items.join(", "))
            }
            FieldValue::TextList(items) => {
                let items: Vec<String> = items.iter().map(|item| quote(item)).collect();
                format!("[{}]", items.join(", "))
            }
            FieldValue::Settings(settings) => {
                let items: Vec<String> = settings
                    .iter()
                    .map(|(name, value)| format!("{} = {}", quote(&name.value), quote(value)))
                    .collect();
                format!("{{ {} }}", items.join(", "))
            }
        }
    }
}

fn quote(text: &str) -> String {
    Value::Str(text.to_string()).to_string()
}

/// `kind.name`.
pub(crate) fn address(kind: SpecKind, name: &str) -> String {
    format!("{}.{}", kind.as_str(), name)
}

/// The protocols a security group rule may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

impl Protocol {
    pub(crate) const NAMES: [&'static str; 4] = ["tcp", "udp", "icmp", "all"];

    fn parse(text: &str) -> Option<Protocol> {
        match text {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmp),
            "all" => Some(Protocol::All),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::All => "all",
        }
    }
}

/// Where a rule's traffic may come from (ingress) or go to (egress).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RuleTarget {
    Cidr(Cidr),
    /// The name of a security group.
    Group(Sp<String>),
}

/// One security group rule as the spec declares it, with the spans its checks point at;
/// [`DeclaredRule::to_rule`] gives the typed [`Rule`](crate::Rule) everything downstream
/// uses. Invariant: `ports` is `None` for `all`, `Some` for `tcp`/`udp`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeclaredRule {
    pub protocol: Protocol,
    pub ports: Option<PortRange>,
    pub target: RuleTarget,
    pub span: Span,
}

impl DeclaredRule {
    /// The rule as a typed value, its group named by address.
    pub(crate) fn to_rule(&self) -> Rule {
        Rule {
            protocol: self.protocol.as_str().to_string(),
            ports: self
                .ports
                .map(|range| (i32::from(range.from), i32::from(range.to))),
            peer: match &self.target {
                RuleTarget::Cidr(cidr) => Peer::Cidr(cidr.to_string()),
                RuleTarget::Group(name) => {
                    Peer::Group(address_of(security_group::KIND, &name.value))
                }
            },
        }
    }

    /// The canonical text of [`DeclaredRule::to_rule`], which the digests hash.
    pub(crate) fn canonical(&self) -> String {
        self.to_rule().to_string()
    }

    fn to_toml(&self) -> String {
        let mut parts = vec![format!("protocol = \"{}\"", self.protocol.as_str())];
        if let Some(range) = self.ports {
            parts.push(if range.from == range.to {
                format!("ports = {}", range.from)
            } else {
                format!("ports = \"{range}\"")
            });
        }
        parts.push(match &self.target {
            RuleTarget::Cidr(cidr) => format!("cidr = \"{cidr}\""),
            RuleTarget::Group(name) => format!("from_group = {}", quote(&name.value)),
        });
        format!("{{ {} }}", parts.join(", "))
    }

    /// AWS's default egress rule.
    fn all_traffic_out(span: Span) -> DeclaredRule {
        DeclaredRule {
            protocol: Protocol::All,
            ports: None,
            target: RuleTarget::Cidr(Cidr::EVERYWHERE),
            span,
        }
    }
}

/// Where a value being read sits, for messages and for checks that need the project.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldSite<'a> {
    /// The resource's address, `instance.app`.
    pub owner: &'a str,
    /// The project's region, when it is known and valid.
    pub region: Option<&'a str>,
    /// The files next to the spec that it names, as the caller read them.
    pub files: &'a std::collections::BTreeMap<String, Result<String, String>>,
}

impl FieldSite<'_> {
    fn subject(&self, field: &str) -> String {
        format!("`{field}` of `{}`", self.owner)
    }
}

/// Reads the value of field `def` and checks it on its own; problems go to `diagnostics`.
pub(crate) fn parse_field(
    def: &FieldDef,
    raw: &Sp<RawValue>,
    site: FieldSite<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Sp<FieldValue>> {
    let subject = site.subject(def.name);
    let span = raw.span;
    let value = match &def.shape {
        Shape::Text(format) => {
            let text = expect_string(raw, &subject, diagnostics)?;
            check_text(*format, text, span, def.name, site, diagnostics)?;
            FieldValue::Text(text.to_string())
        }
        Shape::Int { min, max, why } => {
            let number = match &raw.value {
                RawValue::Integer(Some(number)) => *number,
                RawValue::Integer(None) => i64::MAX,
                other => {
                    diagnostics.push(wrong_type(&subject, "an integer", other, span));
                    return None;
                }
            };
            if number < *min || number > *max {
                let found = match &raw.value {
                    RawValue::Integer(Some(number)) => number.to_string(),
                    _ => "a huge number".to_string(),
                };
                diagnostics.push(
                    Diagnostic::error(format!("{subject} is out of range"))
                        .at(span, format!("found {found}; must be {min} to {max}"))
                        .with_optional_hint(why.map(str::to_string)),
                );
                return None;
            }
            FieldValue::Int(number)
        }
        Shape::Bool => match &raw.value {
            RawValue::Boolean(flag) => FieldValue::Bool(*flag),
            other => {
                diagnostics.push(wrong_type(&subject, "a boolean", other, span));
                return None;
            }
        },
        Shape::Cidr {
            min_prefix,
            max_prefix,
        } => {
            let text = expect_string(raw, &subject, diagnostics)?;
            let cidr = parse_cidr(text, span, &subject, diagnostics)?;
            if !(*min_prefix..=*max_prefix).contains(&cidr.prefix()) {
                let size = if cidr.prefix() < *min_prefix {
                    "too large"
                } else {
                    "too small"
                };
                let kind = site.owner.split('.').next().unwrap_or_default();
                diagnostics.push(Diagnostic::error(format!("{subject} is {size}")).at(
                    span,
                    format!(
                        "a /{} network; AWS allows /{min_prefix} to /{max_prefix} for a {kind}",
                        cidr.prefix()
                    ),
                ));
                return None;
            }
            FieldValue::Cidr(cidr)
        }
        Shape::Ref(kind) => {
            let text = expect_string(raw, &subject, diagnostics)?;
            FieldValue::Ref {
                kind: *kind,
                name: Sp::new(text.to_string(), span),
                qualified: false,
            }
        }
        Shape::RefList {
            kind,
            min_len,
            ordered,
            why,
        } => {
            let names = parse_name_list(raw, *kind, *min_len, *why, &subject, diagnostics)?;
            FieldValue::RefList {
                kind: *kind,
                ordered: *ordered,
                names,
            }
        }
        Shape::Rules => FieldValue::Rules(parse_rules(raw, def.name, site, diagnostics)?),
        Shape::IntChoice { values, why } => {
            let number = match &raw.value {
                RawValue::Integer(Some(number)) => *number,
                other => {
                    diagnostics.push(wrong_type(&subject, "an integer", other, span));
                    return None;
                }
            };
            if !values.contains(&number) {
                let nearest = values
                    .iter()
                    .min_by_key(|v| v.abs_diff(number))
                    .copied()
                    .unwrap_or_default();
                let listed: Vec<String> = values.iter().map(i64::to_string).collect();
                diagnostics.push(
                    Diagnostic::error(format!("{subject} is not a value AWS accepts"))
                        .at(
                            span,
                            format!("found {number}; the nearest accepted is {nearest}"),
                        )
                        .with_hint(format!("{why}: {}", listed.join(", "))),
                );
                return None;
            }
            FieldValue::Int(number)
        }
        Shape::Template { max_len } => {
            let text = expect_string(raw, &subject, diagnostics)?;
            check_template(text, span, &subject, diagnostics)?;
            if text.len() > *max_len {
                diagnostics.push(Diagnostic::error(format!("{subject} is too long")).at(
                    span,
                    format!("{} bytes; AWS accepts at most {max_len}", text.len()),
                ));
                return None;
            }
            FieldValue::Text(text.to_string())
        }
        Shape::TemplateList { separator } => {
            let RawValue::Array(items) = &raw.value else {
                diagnostics.push(wrong_type(
                    &subject,
                    "an array of strings",
                    &raw.value,
                    span,
                ));
                return None;
            };
            let mut texts = Vec::new();
            let mut ok = true;
            for item in items {
                let item_subject = format!("an item of {subject}");
                let Some(text) = expect_string(item, &item_subject, diagnostics) else {
                    ok = false;
                    continue;
                };
                if text.contains(*separator) {
                    diagnostics.push(
                        Diagnostic::error(format!("{item_subject} holds `{separator}`"))
                            .at(item.span, format!("AWS joins the items with `{separator}`"))
                            .with_hint("split it into two items"),
                    );
                    ok = false;
                    continue;
                }
                ok &= check_template(text, item.span, &item_subject, diagnostics).is_some();
                texts.push(text.to_string());
            }
            if ok && texts.is_empty() {
                diagnostics.push(
                    Diagnostic::error(format!("{subject} is empty"))
                        .at(span, "the list is empty")
                        .with_hint("list at least one value, or use `value` for a single one"),
                );
                return None;
            }
            if !ok {
                return None;
            }
            FieldValue::TextList(texts)
        }
        Shape::Settings => FieldValue::Settings(parse_settings(raw, &subject, diagnostics)?),
        Shape::Choice { values, why } => {
            let text = expect_string(raw, &subject, diagnostics)?;
            if !values.contains(&text) {
                diagnostics.push(
                    Diagnostic::error(format!("{subject} is not one envctl knows"))
                        .at(span, format!("found `{text}`"))
                        .with_hint(match suggest::did_you_mean(text, values.iter().copied()) {
                            Some(mean) => {
                                format!("{mean} ({why}: {})", suggest::backticked(values))
                            }
                            None => format!("{why}: {}", suggest::backticked(values)),
                        }),
                );
                return None;
            }
            FieldValue::Text(text.to_string())
        }
        Shape::Number { min, max } => {
            let number = match &raw.value {
                #[allow(clippy::cast_precision_loss)]
                RawValue::Integer(Some(number)) => *number as f64,
                RawValue::Float(Some(number)) => *number,
                RawValue::Integer(None) | RawValue::Float(None) => f64::INFINITY,
                other => {
                    diagnostics.push(wrong_type(&subject, "a number", other, span));
                    return None;
                }
            };
            if !number.is_finite() || number < *min || number > *max {
                diagnostics.push(
                    Diagnostic::error(format!("{subject} is out of range"))
                        .at(span, format!("must be a number from {min} to {max}")),
                );
                return None;
            }
            FieldValue::Number(number)
        }
        Shape::JsonFile { max_bytes } => {
            let path = expect_string(raw, &subject, diagnostics)?;
            let text = match site.files.get(path) {
                Some(Ok(text)) => text,
                Some(Err(reason)) => {
                    diagnostics.push(
                        Diagnostic::error(format!("{subject} cannot be read"))
                            .at(span, reason.clone())
                            .with_hint("the path is relative to the spec's folder"),
                    );
                    return None;
                }
                None => {
                    diagnostics.push(
                        Diagnostic::error(format!("{subject} was not read"))
                            .at(span, "the file is not available to this check")
                            .with_hint("the path is relative to the spec's folder"),
                    );
                    return None;
                }
            };
            if text.len() > *max_bytes {
                diagnostics.push(Diagnostic::error(format!("{subject} is too large")).at(
                    span,
                    format!("{} bytes; AWS accepts at most {max_bytes}", text.len()),
                ));
                return None;
            }
            FieldValue::JsonFile {
                path: Sp::new(path.to_string(), span),
                text: text.clone(),
            }
        }
        Shape::Member { kinds } => {
            let text = expect_string(raw, &subject, diagnostics)?;
            let parsed = text
                .split_once('.')
                .and_then(|(kind, name)| Some((SpecKind::parse(kind)?, name)))
                .filter(|(kind, name)| kinds.contains(kind) && !name.is_empty());
            let Some((kind, name)) = parsed else {
                let examples: Vec<String> = kinds
                    .iter()
                    .map(|k| format!("{}.NAME", k.as_str()))
                    .collect();
                diagnostics.push(
                    Diagnostic::error(format!("{subject} names no resource it can follow"))
                        .at(span, format!("found `{text}`"))
                        .with_hint(format!(
                            "write the address of a resource it can follow: {}",
                            suggest::backticked(
                                &examples.iter().map(String::as_str).collect::<Vec<_>>()
                            )
                        )),
                );
                return None;
            };
            FieldValue::Ref {
                kind,
                name: Sp::new(name.to_string(), span),
                qualified: true,
            }
        }
    };
    Some(Sp::new(value, span))
}

/// The settings of a [`Shape::Settings`] table, sorted by name.
fn parse_settings(
    raw: &Sp<RawValue>,
    subject: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<(Sp<String>, String)>> {
    let RawValue::Table(entries) = &raw.value else {
        diagnostics.push(wrong_type(
            subject,
            "a table such as `{ \"rds.force_ssl\" = \"1\" }`",
            &raw.value,
            raw.span,
        ));
        return None;
    };
    let mut settings = Vec::new();
    let mut ok = true;
    for entry in entries {
        let name = &entry.key.value;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid_name {
            diagnostics.push(
                Diagnostic::error(format!("`{name}` in {subject} is not a parameter name"))
                    .at(entry.key.span, "letters, digits, `_`, `.` and `-` only")
                    .with_hint("name a setting of the engine, such as `rds.force_ssl`"),
            );
            ok = false;
            continue;
        }
        let value = match &entry.value.value {
            RawValue::String(text) => text.clone(),
            RawValue::Integer(Some(number)) => number.to_string(),
            RawValue::Boolean(flag) => if *flag { "1" } else { "0" }.to_string(),
            other => {
                diagnostics.push(wrong_type(
                    &format!("`{name}` in {subject}"),
                    "a string, an integer or a boolean",
                    other,
                    entry.value.span,
                ));
                ok = false;
                continue;
            }
        };
        settings.push((Sp::new(name.clone(), entry.key.span), value));
    }
    settings.sort_by(|a, b| a.0.value.cmp(&b.0.value));
    ok.then_some(settings)
}

/// Checks the placeholders of a template written at `span`; `None` if any is wrong.
fn check_template(
    text: &str,
    span: Span,
    subject: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<()> {
    let problems = template::check(text, &template::PLACEHOLDERS);
    if problems.is_empty() {
        return Some(());
    }
    for problem in problems {
        // Inside the quoted string: one byte for the opening quote (escapes aside, which
        // placeholders do not need).
        let at = if span.end - span.start == text.len() + 2 {
            Span {
                start: span.start + 1 + problem.start,
                end: span.start + 1 + problem.end,
            }
        } else {
            span
        };
        diagnostics.push(
            Diagnostic::error(format!("{subject} has an unknown placeholder"))
                .at(at, problem.label)
                .with_hint(format!(
                    "the placeholders are {}",
                    suggest::backticked(&["${project}", "${environment}", "${region}"])
                )),
        );
    }
    None
}

fn expect_string<'r>(
    raw: &'r Sp<RawValue>,
    subject: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<&'r str> {
    match &raw.value {
        RawValue::String(text) => Some(text),
        other => {
            diagnostics.push(wrong_type(subject, "a string", other, raw.span));
            None
        }
    }
}

fn check_text(
    format: TextFormat,
    text: &str,
    span: Span,
    field: &str,
    site: FieldSite<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<()> {
    let subject = site.subject(field);
    let owner = site.owner;
    let problem = match format {
        TextFormat::Ami if !formats::is_ami(text) => Diagnostic::error(format!(
            "{subject} is not a pinned image id"
        ))
        .at(span, "expected `ami-` and 8 or 17 lowercase hex digits")
        .with_hint(
            "pin an image such as `ami-0c55b159cbfafe1f0`: an image found by name can change \
             under an environment",
        ),
        TextFormat::InstanceType if !formats::is_instance_type(text) => {
            Diagnostic::error(format!("{subject} is not an EC2 instance type"))
                .at(span, "expected a type such as `t3.medium`")
                .with_optional_hint(text.starts_with("db.").then(|| {
                    "`db.` classes are for the `instance_class` of a `db_cluster`".to_string()
                }))
        }
        TextFormat::InstanceClass if !formats::is_instance_class(text) => {
            Diagnostic::error(format!("{subject} is not an RDS instance class"))
                .at(span, "expected a class such as `db.r6g.large`")
                .with_optional_hint(
                    formats::is_instance_type(text).then(|| format!("did you mean `db.{text}`?")),
                )
        }
        TextFormat::Zone => match site.region {
            // The letter alone: in whatever region each environment is.
            _ if formats::is_zone_suffix(text) => return Some(()),
            Some(region) if text == region => Diagnostic::error(format!(
                "zone `{text}` of `{owner}` is a region, not an availability zone"
            ))
            .at(
                span,
                format!("expected `{region}` and a letter, such as `{region}a`"),
            ),
            Some(region) if !formats::is_zone_of(text, region) => Diagnostic::error(format!(
                "zone `{text}` of `{owner}` is not in region `{region}`"
            ))
            .at(
                span,
                format!("expected `{region}` and a letter, such as `{region}a`"),
            ),
            _ => return Some(()),
        },
        TextFormat::Engine if !ENGINES.contains(&text) => {
            Diagnostic::error(format!("unknown engine `{text}` for `{owner}`"))
                .at(span, "expected `aurora-postgresql` or `aurora-mysql`")
                .with_optional_hint(suggest::did_you_mean(text, ENGINES))
        }
        TextFormat::EngineVersion if !formats::is_pinned_version(text) => {
            Diagnostic::error(format!("{subject} is not pinned"))
                .at(span, "expected a full version such as `15.4`")
                .with_hint(
                    "a partial version lets AWS pick the rest, so environments can drift apart",
                )
        }
        TextFormat::Window => match formats::parse_window(text) {
            Ok(_) => return Some(()),
            Err(label) => Diagnostic::error(format!("invalid {subject}")).at(span, label),
        },
        TextFormat::MasterUsername => match formats::check_master_username(text) {
            Ok(()) => return Some(()),
            Err(label) => Diagnostic::error(format!("invalid {subject}"))
                .at(span, label)
                .with_hint("the password is generated and kept by RDS, never in the spec"),
        },
        TextFormat::Description => match formats::check_description(text) {
            Ok(()) => return Some(()),
            Err(label) => Diagnostic::error(format!("invalid {subject}")).at(span, label),
        },
        TextFormat::KmsKeyArn if !formats::is_kms_key_arn(text) => {
            Diagnostic::error(format!("{subject} is not a KMS key ARN"))
                .at(span, "expected `arn:aws:kms:REGION:ACCOUNT:key/ID`")
                .with_hint("CloudWatch Logs takes the key's full ARN, not an alias or a bare id")
        }
        TextFormat::SecretSource => match formats::parse_secret_source(text) {
            Ok(_) => return Some(()),
            Err(label) => Diagnostic::error(format!("invalid {subject}"))
                .at(span, label)
                .with_hint(
                    "write `env:VAR` to read an environment variable or `file:PATH` to read a \
                     file; the value itself never goes in the spec",
                ),
        },
        TextFormat::MetricName
            if text.is_empty()
                || text.chars().count() > 255
                || text.chars().any(char::is_control) =>
        {
            Diagnostic::error(format!("{subject} is not a metric name"))
                .at(span, "1 to 255 characters, no control characters")
                .with_hint("name a metric of the namespace, such as `CPUUtilization`")
        }
        _ => return Some(()),
    };
    diagnostics.push(problem);
    None
}

fn parse_cidr(
    text: &str,
    span: Span,
    subject: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Cidr> {
    match Cidr::parse(text) {
        Ok(cidr) => Some(cidr),
        Err(CidrError::Malformed) => {
            diagnostics.push(
                Diagnostic::error(format!("{subject} is not an IPv4 CIDR block"))
                    .at(span, "expected `a.b.c.d/n`, such as `10.0.0.0/16`"),
            );
            None
        }
        Err(CidrError::HostBits { network }) => {
            diagnostics.push(
                Diagnostic::error(format!("{subject} has host bits set"))
                    .at(span, format!("`{text}` is an address inside `{network}`"))
                    .with_hint(format!("did you mean `{network}`?")),
            );
            None
        }
    }
}

fn parse_name_list(
    raw: &Sp<RawValue>,
    kind: SpecKind,
    min_len: usize,
    why: Option<&'static str>,
    subject: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<Sp<String>>> {
    let RawValue::Array(items) = &raw.value else {
        diagnostics.push(wrong_type(
            subject,
            "an array of names",
            &raw.value,
            raw.span,
        ));
        return None;
    };
    let mut names: Vec<Sp<String>> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut ok = true;
    for item in items {
        match &item.value {
            RawValue::String(name) => {
                if !seen.insert(name) {
                    diagnostics.push(
                        Diagnostic::error(format!("`{name}` is listed twice in {subject}"))
                            .at(item.span, "already listed")
                            .with_hint("remove the repeated name"),
                    );
                    ok = false;
                } else {
                    names.push(Sp::new(name.clone(), item.span));
                }
            }
            other => {
                diagnostics.push(wrong_type(
                    &format!("an item of {subject}"),
                    &format!("the name of one of the {}", kind.plural()),
                    other,
                    item.span,
                ));
                ok = false;
            }
        }
    }
    if ok && names.len() < min_len {
        let label = if names.is_empty() {
            "the list is empty".to_string()
        } else {
            format!("found {}", names.len())
        };
        let needed = if min_len == 1 {
            format!("at least one of the {}", kind.plural())
        } else {
            format!("at least {min_len} {}", kind.plural())
        };
        diagnostics.push(
            Diagnostic::error(format!("{subject} must list {needed}"))
                .at(raw.span, label)
                .with_optional_hint(why.map(str::to_string)),
        );
        return None;
    }
    ok.then_some(names)
}

/// The keys of a security group rule.
pub(crate) const RULE_FIELDS: [&str; 4] = ["protocol", "ports", "cidr", "from_group"];

fn parse_rules(
    raw: &Sp<RawValue>,
    field: &str,
    site: FieldSite<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<DeclaredRule>> {
    let subject = site.subject(field);
    let RawValue::Array(items) = &raw.value else {
        diagnostics.push(wrong_type(
            &subject,
            "an array of rules",
            &raw.value,
            raw.span,
        ));
        return None;
    };
    let mut rules = Vec::new();
    let mut seen = BTreeSet::new();
    let mut ok = true;
    let rule_subject = format!("a rule in {subject}");
    for item in items {
        match parse_rule(item, &rule_subject, diagnostics) {
            Some(rule) => {
                if !seen.insert(rule.canonical()) {
                    diagnostics.push(
                        Diagnostic::warning(format!("{rule_subject} repeats an earlier rule"))
                            .at(
                                item.span,
                                "same protocol, ports and source as an earlier rule",
                            )
                            .with_hint("remove the repeated rule"),
                    );
                }
                rules.push(rule);
            }
            None => ok = false,
        }
    }
    ok.then_some(rules)
}

fn parse_rule(
    raw: &Sp<RawValue>,
    subject: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<DeclaredRule> {
    let RawValue::Table(entries) = &raw.value else {
        diagnostics.push(wrong_type(
            subject,
            "a table such as `{ protocol = \"tcp\", ports = 443, cidr = \"10.0.0.0/8\" }`",
            &raw.value,
            raw.span,
        ));
        return None;
    };
    let before = diagnostics.len();
    let mut protocol = None;
    let mut ports = None;
    let mut cidr = None;
    let mut from_group = None;
    for entry in entries {
        let key = entry.key.value.as_str();
        let value = &entry.value;
        let field_subject = format!("`{key}` in {subject}");
        match key {
            "protocol" => {
                let Some(text) = expect_string(value, &field_subject, diagnostics) else {
                    continue;
                };
                match Protocol::parse(text) {
                    Some(p) => protocol = Some((p, entry.key.span)),
                    None => diagnostics.push(
                        Diagnostic::error(format!("unknown protocol `{text}` in {subject}"))
                            .at(value.span, "expected `tcp`, `udp`, `icmp` or `all`")
                            .with_optional_hint(suggest::did_you_mean(text, Protocol::NAMES)),
                    ),
                }
            }
            "ports" => {
                let range = match &value.value {
                    RawValue::Integer(Some(port)) => PortRange::from_int(*port),
                    RawValue::Integer(None) => Err("not a port (0-65535)".to_string()),
                    RawValue::String(text) => PortRange::parse(text),
                    other => {
                        diagnostics.push(wrong_type(
                            &field_subject,
                            "a port such as `443` or a range such as `\"1024-2048\"`",
                            other,
                            value.span,
                        ));
                        continue;
                    }
                };
                match range {
                    Ok(range) => ports = Some((range, entry.key.span)),
                    Err(label) => diagnostics.push(
                        Diagnostic::error(format!("invalid `ports` in {subject}"))
                            .at(value.span, label),
                    ),
                }
            }
            "cidr" => {
                if let Some(text) = expect_string(value, &field_subject, diagnostics) {
                    cidr = parse_cidr(text, value.span, &field_subject, diagnostics)
                        .map(|c| (c, entry.key.span));
                }
            }
            "from_group" => {
                if let Some(text) = expect_string(value, &field_subject, diagnostics) {
                    from_group = Some((Sp::new(text.to_string(), value.span), entry.key.span));
                }
            }
            unknown => {
                diagnostics.push(
                    Diagnostic::error(format!("unknown field `{unknown}` in {subject}"))
                        .at(entry.key.span, "unknown field")
                        .with_hint(suggest::did_you_mean(unknown, RULE_FIELDS).unwrap_or_else(
                            || format!("a rule has {}", suggest::backticked(&RULE_FIELDS)),
                        )),
                )
            }
        }
    }
    if diagnostics.len() > before {
        return None;
    }
    let Some((protocol, _)) = protocol else {
        diagnostics.push(
            Diagnostic::error(format!("{subject} has no `protocol`"))
                .at(raw.span, "missing `protocol`")
                .with_hint("add `protocol = \"tcp\"` (or `udp`, `icmp`, `all`)"),
        );
        return None;
    };
    let target = match (cidr, from_group) {
        (Some((cidr, _)), None) => RuleTarget::Cidr(cidr),
        (None, Some((group, _))) => RuleTarget::Group(group),
        (Some(_), Some((_, group_key))) => {
            diagnostics.push(
                Diagnostic::error(format!("{subject} has both `cidr` and `from_group`"))
                    .at(group_key, "a rule names either a network or a group")
                    .with_hint("split it into two rules, one with `cidr`, one with `from_group`"),
            );
            return None;
        }
        (None, None) => {
            diagnostics.push(
                Diagnostic::error(format!("{subject} has neither `cidr` nor `from_group`"))
                    .at(raw.span, "whose traffic does this rule allow?")
                    .with_hint(
                        "add `cidr = \"10.0.0.0/8\"` for a network, or `from_group = \"NAME\"` \
                         for a security group",
                    ),
            );
            return None;
        }
    };
    let ports = match (protocol, ports) {
        (Protocol::All, Some((_, key))) => {
            diagnostics.push(
                Diagnostic::error(format!("{subject} sets `ports` with protocol `all`"))
                    .at(key, "protocol `all` covers every port")
                    .with_hint("remove `ports`, or name the protocol (`tcp` or `udp`)"),
            );
            return None;
        }
        (Protocol::Tcp | Protocol::Udp, None) => {
            diagnostics.push(
                Diagnostic::error(format!(
                    "{subject} has no `ports` for protocol `{}`",
                    protocol.as_str()
                ))
                .at(raw.span, "missing `ports`")
                .with_hint("add `ports = 443` or a range such as `ports = \"1024-2048\"`"),
            );
            return None;
        }
        (_, ports) => ports.map(|(range, _)| range),
    };
    Some(DeclaredRule {
        protocol,
        ports,
        target,
        span: raw.span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_fields_are_exactly_the_documented_ones() {
        assert_eq!(
            scale_field_list(),
            "`instance.instance_type`, `instance.count`, `instance.volume_size`, \
             `db_cluster.instance_class`, `db_cluster.instances`"
        );
    }

    #[test]
    fn every_kind_matches_its_expanded_kind_name() {
        for kind in SpecKind::ALL {
            assert_eq!(SpecKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(SpecKind::parse("db_instance"), None);
    }

    #[test]
    fn the_registry_is_in_creation_order() {
        let kinds: Vec<ResourceKind> = REGISTRY.iter().map(|k| k.resource_kind()).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(kinds, sorted);
    }

    #[test]
    fn the_registry_expands_into_every_resource_kind_in_creation_order() {
        let expanded: Vec<ResourceKind> = REGISTRY
            .iter()
            .flat_map(|kind| kind.expands_to().iter().map(|e| e.kind))
            .collect();
        assert_eq!(expanded, ResourceKind::ALL);
        for kind in SpecKind::ALL {
            for e in kind.expands_to() {
                let own = e.kind == kind.resource_kind();
                assert_eq!(e.derived.is_none(), own, "{}: {}", kind.as_str(), e.kind);
                assert_eq!(derived(e.kind.as_str()).is_some(), !own, "{}", e.kind);
            }
        }
    }

    #[test]
    fn expanded_scale_fields_are_the_spec_kinds_scale_fields_but_the_count() {
        for kind in SpecKind::ALL {
            let spec: BTreeSet<&str> = kind
                .fields()
                .iter()
                .filter(|f| f.scale && Some(f.name) != kind.count_field())
                .map(|f| f.name)
                .collect();
            let expanded: BTreeSet<&str> = kind
                .expands_to()
                .iter()
                .flat_map(|e| e.scale_fields.iter().copied())
                .collect();
            assert_eq!(spec, expanded, "{}", kind.as_str());
            for e in kind.expands_to() {
                for field in e.scale_fields {
                    assert!(
                        e.scale_dependent_fields.contains(field),
                        "{}.{field}",
                        e.kind
                    );
                }
            }
            let counted = kind.expands_to().iter().any(|e| e.counted);
            assert_eq!(counted, kind.count_field().is_some(), "{}", kind.as_str());
        }
    }

    #[test]
    fn every_kind_is_well_formed() {
        for kind in SpecKind::ALL {
            let mut names = HashSet::new();
            for def in kind.fields() {
                let what = format!("{}.{}", kind.as_str(), def.name);
                assert!(names.insert(def.name), "{what} is defined twice");
                if let Presence::Default(default) = &def.presence {
                    let value = def.default_value("name", Span::default());
                    assert!(
                        value.is_some(),
                        "the default of {what} does not fit its shape"
                    );
                    if let (DefaultValue::Int(number), Shape::Int { min, max, .. }) =
                        (default, &def.shape)
                    {
                        assert!(
                            (min..=max).contains(&number),
                            "{what}: default out of range"
                        );
                    }
                }
            }
            if let Some(count) = kind.count_field() {
                let shape = kind.field(count).map(|def| &def.shape);
                assert!(
                    matches!(shape, Some(Shape::Int { .. })),
                    "the count field of {} is not an integer field",
                    kind.as_str()
                );
            }
        }
    }

    /// The crate docs' table of kinds lists every kind, with its fields in order and `*` on the
    /// scale fields (what it says in parentheses about expanded names is left to the reader).
    #[test]
    fn the_crate_docs_list_every_kind_and_its_fields() {
        let documented: Vec<String> = include_str!("../lib.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! | `"))
            .map(|row| {
                let mut row = format!("| `{row}");
                while let Some(start) = row.find(" (`") {
                    let end = row[start..].find("`)").map_or(row.len(), |e| start + e + 2);
                    row.replace_range(start..end, "");
                }
                row
            })
            .collect();
        let registry: Vec<String> = REGISTRY
            .iter()
            .map(|kind| {
                let fields: Vec<String> = kind
                    .fields()
                    .iter()
                    .map(|f| format!("`{}`{}", f.name, if f.scale { "*" } else { "" }))
                    .collect();
                format!("| `{}` | {} |", kind.as_str(), fields.join(", "))
            })
            .collect();
        assert_eq!(documented, registry);
    }

    #[test]
    fn declared_rules_become_typed_rules() {
        let group = DeclaredRule {
            protocol: Protocol::Tcp,
            ports: Some(PortRange {
                from: 5432,
                to: 5432,
            }),
            target: RuleTarget::Group(Sp::new("app".into(), Span::default())),
            span: Span::default(),
        };
        assert_eq!(
            group.to_rule(),
            Rule {
                protocol: "tcp".into(),
                ports: Some((5432, 5432)),
                peer: Peer::Group("security_group.app".parse().expect("address")),
            }
        );
        assert_eq!(group.canonical(), "tcp:5432-5432:group=security_group.app");
        assert_eq!(
            DeclaredRule::all_traffic_out(Span::default()).canonical(),
            "all:all:cidr=0.0.0.0/0"
        );
    }
}
