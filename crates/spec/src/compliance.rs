//! Compliance rules: what every environment must satisfy whatever the spec says, checked on the
//! desired state (before anything is applied) and on the live cloud (where someone may have
//! opened a port by hand), by one checker.
//!
//! Owns [`Compliance`] (the validated `[compliance]` table with its per-environment
//! exceptions), [`RuleName`], [`RuleSetting`], [`ComplianceSeverity`], [`Subject`] and
//! [`Violation`]. Invariants:
//! - [`Compliance::check`] reads only resource fields, in the names and shapes desired and live
//!   resources share (see [`crate::model`]), so a rule means the same on the spec and on the
//!   cloud;
//! - an environment's setting of a rule is the `[compliance]` one unless a declared difference
//!   (`resource = "compliance"`, `field = RULE`) gives that environment its own, `false`
//!   waiving it there: an exception is always reasoned, owned and expiring;
//! - violations come out ranked: most severe first, then by environment, resource and rule.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Address, ResourceKind, Span, Value};
use crate::rule::Peer;

/// How much a broken rule matters. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceSeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl ComplianceSeverity {
    /// Every severity, least severe first.
    pub const ALL: [ComplianceSeverity; 4] = [
        ComplianceSeverity::Low,
        ComplianceSeverity::Medium,
        ComplianceSeverity::High,
        ComplianceSeverity::Critical,
    ];

    /// `critical`, `high`, `medium`, `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceSeverity::Low => "low",
            ComplianceSeverity::Medium => "medium",
            ComplianceSeverity::High => "high",
            ComplianceSeverity::Critical => "critical",
        }
    }

    /// The severity named `text`, if any.
    pub fn parse(text: &str) -> Option<ComplianceSeverity> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for ComplianceSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules `[compliance]` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleName {
    /// Every DB cluster of an engine runs at least that engine's version.
    MinEngineVersion,
    /// Every DB cluster encrypts its storage.
    RequireStorageEncrypted,
    /// Every DB cluster's parameters enforce TLS of at least this version.
    RequireTls,
    /// Every instance has detailed monitoring on.
    RequireMonitoring,
    /// No security group lets the whole internet in, except on the listed ports.
    ForbidWorldIngress,
    /// Every DB cluster keeps backups at least this many days.
    MinBackupRetentionDays,
    /// DB clusters have deletion protection on (in protected environments, or in all).
    RequireDeletionProtection,
    /// Every instance group and DB cluster has an alarm.
    RequireAlarms,
}

impl RuleName {
    /// Every rule, in the order the documentation lists them.
    pub const ALL: [RuleName; 8] = [
        RuleName::MinEngineVersion,
        RuleName::RequireStorageEncrypted,
        RuleName::RequireTls,
        RuleName::RequireMonitoring,
        RuleName::ForbidWorldIngress,
        RuleName::MinBackupRetentionDays,
        RuleName::RequireDeletionProtection,
        RuleName::RequireAlarms,
    ];

    /// The key in `[compliance]`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleName::MinEngineVersion => "min_engine_version",
            RuleName::RequireStorageEncrypted => "require_storage_encrypted",
            RuleName::RequireTls => "require_tls",
            RuleName::RequireMonitoring => "require_monitoring",
            RuleName::ForbidWorldIngress => "forbid_world_ingress",
            RuleName::MinBackupRetentionDays => "min_backup_retention_days",
            RuleName::RequireDeletionProtection => "require_deletion_protection",
            RuleName::RequireAlarms => "require_alarms",
        }
    }

    /// The rule keyed `text`, if any.
    pub fn parse(text: &str) -> Option<RuleName> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The severity a rule has unless `severity.RULE` says otherwise.
    pub fn default_severity(self) -> ComplianceSeverity {
        match self {
            RuleName::MinEngineVersion
            | RuleName::RequireStorageEncrypted
            | RuleName::ForbidWorldIngress => ComplianceSeverity::Critical,
            RuleName::RequireTls
            | RuleName::RequireMonitoring
            | RuleName::RequireDeletionProtection => ComplianceSeverity::High,
            RuleName::MinBackupRetentionDays | RuleName::RequireAlarms => {
                ComplianceSeverity::Medium
            }
        }
    }

    /// What the rule asks for, in a few words (for reports and `--help`).
    pub fn summary(self) -> &'static str {
        match self {
            RuleName::MinEngineVersion => "DB clusters run at least the given engine version",
            RuleName::RequireStorageEncrypted => "DB cluster storage is encrypted",
            RuleName::RequireTls => "DB cluster parameters enforce TLS of at least this version",
            RuleName::RequireMonitoring => "detailed monitoring is on for every instance",
            RuleName::ForbidWorldIngress => {
                "no security group admits 0.0.0.0/0 or ::/0 except on the allowed ports"
            }
            RuleName::MinBackupRetentionDays => "DB clusters keep backups at least this long",
            RuleName::RequireDeletionProtection => "DB clusters have deletion protection on",
            RuleName::RequireAlarms => "every instance group and DB cluster has an alarm",
        }
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TLS protocol version, ordered oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "TLSv1")]
    V1_0,
    #[serde(rename = "TLSv1.1")]
    V1_1,
    #[serde(rename = "TLSv1.2")]
    V1_2,
    #[serde(rename = "TLSv1.3")]
    V1_3,
}

impl TlsVersion {
    /// Every version, oldest first.
    pub const ALL: [TlsVersion; 4] = [
        TlsVersion::V1_0,
        TlsVersion::V1_1,
        TlsVersion::V1_2,
        TlsVersion::V1_3,
    ];

    /// `TLSv1.2`: how PostgreSQL's `ssl_min_protocol_version` and MySQL's `tls_version` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_0 => "TLSv1",
            TlsVersion::V1_1 => "TLSv1.1",
            TlsVersion::V1_2 => "TLSv1.2",
            TlsVersion::V1_3 => "TLSv1.3",
        }
    }

    /// `TLSv1.2`, `TLSv1_2`, `1.2` (any case); `TLSv1`, `TLSv1.0` and `1.0` are 1.0.
    pub fn parse(text: &str) -> Option<TlsVersion> {
        let lower = text.trim().to_ascii_lowercase().replace('_', ".");
        let number = lower.strip_prefix("tlsv").unwrap_or(&lower);
        match number {
            "1" | "1.0" => Some(TlsVersion::V1_0),
            "1.1" => Some(TlsVersion::V1_1),
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which environments deletion protection is required in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectionScope {
    /// Environments with `protected = true`.
    Protected,
    /// Every environment.
    All,
}

/// What one rule asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSetting {
    /// Minimum version by engine (`aurora-postgresql = "15.4"`).
    MinEngineVersion(BTreeMap<String, String>),
    RequireStorageEncrypted,
    RequireTls(TlsVersion),
    RequireMonitoring,
    /// World ingress allowed only on these ports (tcp or udp).
    ForbidWorldIngress {
        except_ports: Vec<i32>,
    },
    MinBackupRetentionDays(i64),
    RequireDeletionProtection(ProtectionScope),
    RequireAlarms,
}

impl RuleSetting {
    /// The rule this setting belongs to.
    pub fn rule(&self) -> RuleName {
        match self {
            RuleSetting::MinEngineVersion(_) => RuleName::MinEngineVersion,
            RuleSetting::RequireStorageEncrypted => RuleName::RequireStorageEncrypted,
            RuleSetting::RequireTls(_) => RuleName::RequireTls,
            RuleSetting::RequireMonitoring => RuleName::RequireMonitoring,
            RuleSetting::ForbidWorldIngress { .. } => RuleName::ForbidWorldIngress,
            RuleSetting::MinBackupRetentionDays(_) => RuleName::MinBackupRetentionDays,
            RuleSetting::RequireDeletionProtection(_) => RuleName::RequireDeletionProtection,
            RuleSetting::RequireAlarms => RuleName::RequireAlarms,
        }
    }
}

/// One rule of `[compliance]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRule {
    pub setting: RuleSetting,
    pub severity: ComplianceSeverity,
    /// Where the rule is written.
    pub span: Span,
    /// Environments with their own setting, from declared differences; `None` waives the
    /// rule in that environment.
    pub exceptions: BTreeMap<String, Option<RuleSetting>>,
}

impl ComplianceRule {
    pub fn name(&self) -> RuleName {
        self.setting.rule()
    }

    /// The setting in force in `environment` (`None`: waived there).
    pub fn setting_in(&self, environment: &str) -> Option<&RuleSetting> {
        match self.exceptions.get(environment) {
            Some(exception) => exception.as_ref(),
            None => Some(&self.setting),
        }
    }
}

/// The validated `[compliance]` table; empty when the spec has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compliance {
    /// Each rule the spec turns on, in [`RuleName::ALL`] order.
    pub rules: Vec<ComplianceRule>,
}

/// One resource as the checker sees it: a desired or a live one.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub address: &'a Address,
    pub fields: &'a BTreeMap<String, Value>,
}

/// One rule one resource breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: RuleName,
    pub severity: ComplianceSeverity,
    pub environment: String,
    /// The resource that breaks it (`security_group.db`, `instance.app[1]`).
    pub resource: String,
    /// The field that breaks it.
    pub field: String,
    /// What is wrong, in words (`allows tcp/22 from 0.0.0.0/0`).
    pub detail: String,
}

impl fmt::Display for Violation {
    /// `[critical] production: forbid_world_ingress (security_group.db allows tcp/22 from
    /// 0.0.0.0/0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: {} ({} {})",
            self.severity, self.environment, self.rule, self.resource, self.detail
        )
    }
}

/// Orders violations most severe first, then by environment, resource and rule.
pub fn rank(violations: &mut [Violation]) {
    violations.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.environment.cmp(&b.environment))
            .then_with(|| a.resource.cmp(&b.resource))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.detail.cmp(&b.detail))
    });
}

impl Compliance {
    /// Whether the spec has no rule at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule named `name`, if the spec turns it on.
    pub fn rule(&self, name: RuleName) -> Option<&ComplianceRule> {
        self.rules.iter().find(|r| r.name() == name)
    }

    /// Every rule `resources` break in `environment` (`protected`: whether it is a protected
    /// environment), ranked.
    pub fn check<'a>(
        &self,
        environment: &str,
        protected: bool,
        resources: impl IntoIterator<Item = Subject<'a>>,
    ) -> Vec<Violation> {
        let resources: Vec<Subject<'a>> = resources.into_iter().collect();
        let mut violations = Vec::new();
        for rule in &self.rules {
            let Some(setting) = rule.setting_in(environment) else {
                continue;
            };
            let mut found = Vec::new();
            check_rule(setting, protected, &resources, &mut found);
            violations.extend(
                found
                    .into_iter()
                    .map(|(resource, field, detail)| Violation {
                        rule: rule.name(),
                        severity: rule.severity,
                        environment: environment.to_string(),
                        resource,
                        field: field.to_string(),
                        detail,
                    }),
            );
        }
        rank(&mut violations);
        violations.dedup();
        violations
    }
}

/// `(resource, field, detail)` of a violation.
type Found = (String, &'static str, String);

fn of_kind<'s, 'a>(
    resources: &'s [Subject<'a>],
    kind: ResourceKind,
) -> impl Iterator<Item = &'s Subject<'a>> {
    resources.iter().filter(move |r| r.address.kind == kind)
}

fn text<'a>(subject: &Subject<'a>, field: &str) -> Option<&'a str> {
    subject.fields.get(field).and_then(Value::as_str)
}

fn flag(subject: &Subject<'_>, field: &str) -> Option<bool> {
    subject.fields.get(field).and_then(Value::as_bool)
}

fn check_rule(
    setting: &RuleSetting,
    protected: bool,
    resources: &[Subject<'_>],
    found: &mut Vec<Found>,
) {
    let clusters = || of_kind(resources, ResourceKind::DbCluster);
    match setting {
        RuleSetting::MinEngineVersion(minimums) => {
            for cluster in clusters() {
                let engine = text(cluster, "engine").unwrap_or_default();
                let Some(minimum) = minimums.get(engine) else {
                    continue;
                };
                let version = text(cluster, "engine_version").unwrap_or_default();
                if compare_versions(version, minimum).is_lt() {
                    found.push((
                        cluster.address.to_string(),
                        "engine_version",
                        format!("runs {engine} {version}, below the minimum {minimum}"),
                    ));
                }
            }
        }
        RuleSetting::RequireStorageEncrypted => {
            for cluster in clusters() {
                if flag(cluster, "storage_encrypted") != Some(true) {
                    found.push((
                        cluster.address.to_string(),
                        "storage_encrypted",
                        "does not encrypt its storage".to_string(),
                    ));
                }
            }
        }
        RuleSetting::RequireTls(minimum) => {
            for cluster in clusters() {
                let settings = cluster_parameters(cluster, resources);
                let engine = text(cluster, "engine").unwrap_or_default();
                if let Some(detail) = tls_gap(engine, &settings, *minimum) {
                    found.push((cluster.address.to_string(), "parameters", detail));
                }
            }
        }
        RuleSetting::RequireMonitoring => {
            for instance in of_kind(resources, ResourceKind::Instance) {
                if flag(instance, "monitoring") != Some(true) {
                    found.push((
                        instance.address.to_string(),
                        "monitoring",
                        "has detailed monitoring off".to_string(),
                    ));
                }
            }
        }
        RuleSetting::ForbidWorldIngress { except_ports } => {
            for group in of_kind(resources, ResourceKind::SecurityGroup) {
                let Some(ingress) = group.fields.get("ingress") else {
                    continue;
                };
                for rule in ingress.rules() {
                    let world = match &rule.peer {
                        Peer::Cidr(cidr) => cidr == "0.0.0.0/0",
                        Peer::Cidr6(cidr) => cidr == "::/0",
                        _ => false,
                    };
                    let allowed = matches!(rule.protocol.as_str(), "tcp" | "udp")
                        && rule.ports.is_some_and(|(from, to)| {
                            from <= to && (from..=to).all(|port| except_ports.contains(&port))
                        });
                    if world && !allowed {
                        let peer = match &rule.peer {
                            Peer::Cidr6(_) => "::/0",
                            _ => "0.0.0.0/0",
                        };
                        let ports = match rule.ports {
                            Some((from, to)) if from == to => format!("/{from}"),
                            Some((from, to)) => format!("/{from}-{to}"),
                            None => " on every port".to_string(),
                        };
                        found.push((
                            group.address.to_string(),
                            "ingress",
                            format!("allows {}{ports} from {peer}", rule.protocol),
                        ));
                    }
                }
            }
        }
        RuleSetting::MinBackupRetentionDays(minimum) => {
            for cluster in clusters() {
                let days = cluster
                    .fields
                    .get("backup_retention_days")
                    .and_then(Value::as_int)
                    .unwrap_or(0);
                if days < *minimum {
                    found.push((
                        cluster.address.to_string(),
                        "backup_retention_days",
                        format!("keeps backups {days} days, fewer than {minimum}"),
                    ));
                }
            }
        }
        RuleSetting::RequireDeletionProtection(scope) => {
            if *scope == ProtectionScope::Protected && !protected {
                return;
            }
            for cluster in clusters() {
                if flag(cluster, "deletion_protection") != Some(true) {
                    found.push((
                        cluster.address.to_string(),
                        "deletion_protection",
                        "has deletion protection off".to_string(),
                    ));
                }
            }
        }
        RuleSetting::RequireAlarms => {
            let watched: Vec<&Address> = of_kind(resources, ResourceKind::Alarm)
                .flat_map(|alarm| {
                    ["instance", "db_cluster"]
                        .into_iter()
                        .filter_map(|field| alarm.fields.get(field).and_then(Value::as_ref))
                })
                .collect();
            let mut groups: Vec<(ResourceKind, &str)> = resources
                .iter()
                .filter(|r| {
                    matches!(
                        r.address.kind,
                        ResourceKind::Instance | ResourceKind::DbCluster
                    )
                })
                .filter(|r| !r.address.name.contains(':'))
                .map(|r| (r.address.kind, r.address.name.as_str()))
                .collect();
            groups.sort_unstable();
            groups.dedup();
            for (kind, name) in groups {
                if !watched.iter().any(|w| w.kind == kind && w.name == name) {
                    found.push((
                        Address::new(kind, name).to_string(),
                        "alarms",
                        "has no alarm".to_string(),
                    ));
                }
            }
        }
    }
}

/// The settings (`name=value`) of the parameter group a cluster names, when envctl owns it;
/// none for the engine's default group.
fn cluster_parameters<'a>(
    cluster: &Subject<'a>,
    resources: &[Subject<'a>],
) -> Vec<(String, String)> {
    let Some(group) = cluster
        .fields
        .get("parameter_group")
        .and_then(Value::as_ref)
    else {
        return Vec::new();
    };
    resources
        .iter()
        .filter(|r| r.address == group)
        .filter_map(|r| r.fields.get("parameters"))
        .flat_map(|settings| match settings {
            Value::List(items) => items.clone(),
            _ => Vec::new(),
        })
        .filter_map(|item| {
            let text = item.as_str()?;
            let (name, value) = text.split_once('=')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// What keeps a cluster's settings from enforcing TLS `minimum`, if anything. The engines'
/// defaults: no TLS enforced; at least TLS 1.2 once it is.
fn tls_gap(engine: &str, settings: &[(String, String)], minimum: TlsVersion) -> Option<String> {
    let get = |name: &str| {
        settings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (enforce, enforced, version_name) = if engine.contains("mysql") {
        (
            "require_secure_transport",
            get("require_secure_transport")
                .is_some_and(|v| v.eq_ignore_ascii_case("on") || v == "1"),
            "tls_version",
        )
    } else {
        (
            "rds.force_ssl",
            get("rds.force_ssl") == Some("1"),
            "ssl_min_protocol_version",
        )
    };
    if !enforced {
        return Some(format!(
            "does not enforce TLS (set `{enforce}` in its parameters)"
        ));
    }
    let lowest = match get(version_name) {
        // MySQL lists every version it accepts; the oldest counts.
        Some(list) => list.split(',').filter_map(TlsVersion::parse).min(),
        None => Some(TlsVersion::V1_2),
    };
    match lowest {
        Some(lowest) if lowest >= minimum => None,
        Some(lowest) => Some(format!(
            "accepts {lowest}, older than {minimum} (`{version_name}`)"
        )),
        None => Some(format!("`{version_name}` names no TLS version")),
    }
}

/// Compares two dotted versions part by part, numbers as numbers (`15.10` > `15.4`); a
/// missing part is lower than any (`15` < `15.4`).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order.is_ne() {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Rule;

    fn rule(setting: RuleSetting) -> ComplianceRule {
        ComplianceRule {
            severity: setting.rule().default_severity(),
            setting,
            span: Span::default(),
            exceptions: BTreeMap::new(),
        }
    }

    fn fields(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    fn ingress(rules: &[&str]) -> Value {
        Value::set(
            rules
                .iter()
                .filter_map(|r| r.parse::<Rule>().ok())
                .map(Value::Rule),
        )
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(compare_versions("15.10", "15.4").is_gt());
        assert!(compare_versions("14.9", "15.4").is_lt());
        assert!(compare_versions("15.4", "15.4").is_eq());
        assert!(compare_versions("15", "15.4").is_lt());
        assert!(compare_versions("8.0.mysql_aurora.3.04.0", "8.0.mysql_aurora.3.4.0").is_eq());
    }

    #[test]
    fn world_ingress_outside_the_allowed_ports_is_critical() {
        let compliance = Compliance {
            rules: vec![rule(RuleSetting::ForbidWorldIngress {
                except_ports: vec![443],
            })],
        };
        let web = Address::new(ResourceKind::SecurityGroup, "web");
        let web_fields = fields(&[(
            "ingress",
            ingress(&[
                "tcp:443-443:cidr=0.0.0.0/0",
                "tcp:22-22:cidr=0.0.0.0/0",
                "tcp:5432-5432:cidr=10.0.0.0/8",
                "all:all:cidr6=::/0",
            ]),
        )]);
        let found = compliance.check(
            "production",
            true,
            [Subject {
                address: &web,
                fields: &web_fields,
            }],
        );
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "[critical] production: forbid_world_ingress (security_group.web allows all on every port from ::/0)",
                "[critical] production: forbid_world_ingress (security_group.web allows tcp/22 from 0.0.0.0/0)",
            ]
        );
    }

    #[test]
    fn an_exception_waives_a_rule_in_one_environment_only() {
        let mut monitoring = rule(RuleSetting::RequireMonitoring);
        monitoring.exceptions.insert("staging".to_string(), None);
        let compliance = Compliance {
            rules: vec![monitoring],
        };
        let app = Address::indexed(ResourceKind::Instance, "app", 0);
        let off = fields(&[("monitoring", Value::Bool(false))]);
        let subject = Subject {
            address: &app,
            fields: &off,
        };
        assert!(compliance.check("staging", false, [subject]).is_empty());
        let found = compliance.check("production", true, [subject]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, ComplianceSeverity::High);
        assert_eq!(found[0].resource, "instance.app[0]");
    }

    #[test]
    fn tls_is_read_from_the_clusters_own_parameter_group() {
        let compliance = Compliance {
            rules: vec![rule(RuleSetting::RequireTls(TlsVersion::V1_2))],
        };
        let cluster = Address::new(ResourceKind::DbCluster, "main");
        let group = Address::new(ResourceKind::DbClusterParameterGroup, "main");
        let cluster_fields = fields(&[
            ("engine", Value::Str("aurora-postgresql".into())),
            ("parameter_group", Value::Ref(group.clone())),
        ]);
        let enforced = fields(&[(
            "parameters",
            Value::string_set(["rds.force_ssl=1".to_string()]),
        )]);
        let weak = fields(&[(
            "parameters",
            Value::string_set([
                "rds.force_ssl=1".to_string(),
                "ssl_min_protocol_version=TLSv1.1".to_string(),
            ]),
        )]);
        let check = |group_fields: &BTreeMap<String, Value>| {
            compliance.check(
                "staging",
                false,
                [
                    Subject {
                        address: &cluster,
                        fields: &cluster_fields,
                    },
                    Subject {
                        address: &group,
                        fields: group_fields,
                    },
                ],
            )
        };
        assert!(check(&enforced).is_empty());
        let found = check(&weak);
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains("TLSv1.1"), "{}", found[0].detail);
        // The engine's default group enforces nothing.
        let default = fields(&[
            ("engine", Value::Str("aurora-postgresql".into())),
            (
                "parameter_group",
                Value::Str("default.aurora-postgresql15".into()),
            ),
        ]);
        let found = compliance.check(
            "staging",
            false,
            [Subject {
                address: &cluster,
                fields: &default,
            }],
        );
        assert!(
            found[0].detail.contains("rds.force_ssl"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn deletion_protection_scope_protected_skips_other_environments() {
        let compliance = Compliance {
            rules: vec![rule(RuleSetting::RequireDeletionProtection(
                ProtectionScope::Protected,
            ))],
        };
        let cluster = Address::new(ResourceKind::DbCluster, "main");
        let off = fields(&[("deletion_protection", Value::Bool(false))]);
        let subject = Subject {
            address: &cluster,
            fields: &off,
        };
        assert!(compliance.check("staging", false, [subject]).is_empty());
        assert_eq!(compliance.check("production", true, [subject]).len(), 1);
    }

    #[test]
    fn groups_without_an_alarm_are_named_once() {
        let compliance = Compliance {
            rules: vec![rule(RuleSetting::RequireAlarms)],
        };
        let app0 = Address::indexed(ResourceKind::Instance, "app", 0);
        let app1 = Address::indexed(ResourceKind::Instance, "app", 1);
        let db = Address::new(ResourceKind::DbCluster, "main");
        let alarm = Address::new(ResourceKind::Alarm, "db-cpu");
        let empty = BTreeMap::new();
        let watches_db = fields(&[("db_cluster", Value::Ref(db.clone()))]);
        let found = compliance.check(
            "staging",
            false,
            [
                Subject {
                    address: &app0,
                    fields: &empty,
                },
                Subject {
                    address: &app1,
                    fields: &empty,
                },
                Subject {
                    address: &db,
                    fields: &empty,
                },
                Subject {
                    address: &alarm,
                    fields: &watches_db,
                },
            ],
        );
        let shown: Vec<&str> = found.iter().map(|v| v.resource.as_str()).collect();
        assert_eq!(shown, ["instance.app"]);
    }
}
