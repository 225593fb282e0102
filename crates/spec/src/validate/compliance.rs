//! `[compliance]`, `[[probes]]`, and the declared differences that name them
//! (`resource = "compliance"`, `resource = "probe.NAME"`).
//!
//! Owns reading those tables into [`Compliance`] and [`Probe`]s. Invariants: every problem is
//! reported at the key or value that has it, with the rule's or probe's accepted forms in the
//! hint; a rule set to `false` is off; an exception to a rule is kept only when its declared
//! difference is complete (reason, risk, owner, expiry), so a half-written entry waives
//! nothing.

use std::collections::BTreeMap;

use super::Validator;
use crate::compliance::{
    Compliance, ComplianceRule, ComplianceSeverity, ProtectionScope, RuleName, RuleSetting,
    TlsVersion,
};
use crate::diagnostic::Diagnostic;
use crate::model::{Span, Value};
use crate::probe::Probe;
use crate::raw::{RawDifference, RawEntry, RawValue, Sp, wrong_type};
use crate::spec::{Difference, Environment};
use crate::suggest;
use crate::template;

/// The engines `min_engine_version` may name.
const ENGINES: [&str; 2] = ["aurora-postgresql", "aurora-mysql"];

/// The placeholders a probe URL may hold.
const PROBE_PLACEHOLDERS: [&str; 3] = ["project", "environment", "region"];

/// What a rule's value may be, for hints.
fn accepted(rule: RuleName) -> &'static str {
    match rule {
        RuleName::MinEngineVersion => {
            "a table of minimum versions, `{ aurora-postgresql = \"15.4\" }`"
        }
        RuleName::RequireTls => "a TLS version such as `\"TLSv1.2\"`, or `false`",
        RuleName::ForbidWorldIngress => {
            "`true`, `false`, or `{ except_ports = [443] }` (ports open to the world)"
        }
        RuleName::MinBackupRetentionDays => "a number of days from 1 to 35, or `false`",
        RuleName::RequireDeletionProtection => {
            "`\"protected\"` (protected environments), `\"all\"`, `true` (all) or `false`"
        }
        RuleName::RequireStorageEncrypted
        | RuleName::RequireMonitoring
        | RuleName::RequireAlarms => "`true` or `false`",
    }
}

impl Validator<'_> {
    /// The rule `name`'s setting written as `value`: `Some(None)` when it is off (`false`),
    /// `None` (reported) when the value is not one the rule accepts.
    pub(super) fn rule_setting(
        &mut self,
        rule: RuleName,
        value: &Sp<RawValue>,
    ) -> Option<Option<RuleSetting>> {
        let bad = |validator: &mut Self, span: Span, label: &str| {
            validator.report(
                Diagnostic::error(format!("invalid value for compliance rule `{rule}`"))
                    .at(span, label.to_string())
                    .with_hint(format!("`{rule}` takes {}", accepted(rule))),
            );
            None
        };
        if value.value == RawValue::Boolean(false) {
            return Some(None);
        }
        let setting = match (rule, &value.value) {
            (RuleName::RequireStorageEncrypted, RawValue::Boolean(true)) => {
                RuleSetting::RequireStorageEncrypted
            }
            (RuleName::RequireMonitoring, RawValue::Boolean(true)) => {
                RuleSetting::RequireMonitoring
            }
            (RuleName::RequireAlarms, RawValue::Boolean(true)) => RuleSetting::RequireAlarms,
            (RuleName::RequireTls, RawValue::String(text)) => match TlsVersion::parse(text) {
                Some(version) => RuleSetting::RequireTls(version),
                None => return bad(self, value.span, "not a TLS version"),
            },
            (RuleName::MinBackupRetentionDays, RawValue::Integer(Some(days))) => {
                if !(1..=35).contains(days) {
                    return bad(self, value.span, "RDS keeps backups 1 to 35 days");
                }
                RuleSetting::MinBackupRetentionDays(*days)
            }
            (RuleName::RequireDeletionProtection, RawValue::Boolean(true)) => {
                RuleSetting::RequireDeletionProtection(ProtectionScope::All)
            }
            (RuleName::RequireDeletionProtection, RawValue::String(text)) => match text.as_str() {
                "protected" => RuleSetting::RequireDeletionProtection(ProtectionScope::Protected),
                "all" => RuleSetting::RequireDeletionProtection(ProtectionScope::All),
                _ => return bad(self, value.span, "neither `protected` nor `all`"),
            },
            (RuleName::ForbidWorldIngress, RawValue::Boolean(true)) => {
                RuleSetting::ForbidWorldIngress {
                    except_ports: Vec::new(),
                }
            }
            (RuleName::ForbidWorldIngress, RawValue::Table(entries)) => {
                let mut except_ports = Vec::new();
                for entry in entries {
                    if entry.key.value != "except_ports" {
                        self.report(
                            Diagnostic::error(format!(
                                "unknown field `{}` in compliance rule `{rule}`",
                                entry.key.value
                            ))
                            .at(entry.key.span, "unknown field")
                            .with_hint("`forbid_world_ingress` may set `except_ports`"),
                        );
                        return None;
                    }
                    let RawValue::Array(items) = &entry.value.value else {
                        return bad(self, entry.value.span, "expected a list of ports");
                    };
                    for item in items {
                        match item.value {
                            RawValue::Integer(Some(port)) if (0..=65535).contains(&port) => {
                                except_ports.push(i32::try_from(port).unwrap_or_default());
                            }
                            _ => return bad(self, item.span, "not a port (0 to 65535)"),
                        }
                    }
                }
                except_ports.sort_unstable();
                except_ports.dedup();
                RuleSetting::ForbidWorldIngress { except_ports }
            }
            (RuleName::MinEngineVersion, RawValue::Table(entries)) => {
                let mut minimums = BTreeMap::new();
                for entry in entries {
                    let engine = entry.key.value.as_str();
                    if !ENGINES.contains(&engine) {
                        self.report(
                            Diagnostic::error(format!(
                                "`min_engine_version` names unknown engine `{engine}`"
                            ))
                            .at(entry.key.span, "not an engine envctl runs")
                            .with_hint(
                                suggest::did_you_mean(engine, ENGINES.iter().copied())
                                    .unwrap_or_else(|| {
                                        format!("the engines are {}", suggest::backticked(&ENGINES))
                                    }),
                            ),
                        );
                        continue;
                    }
                    match &entry.value.value {
                        RawValue::String(version)
                            if !version.is_empty()
                                && version.split('.').all(|part| !part.is_empty()) =>
                        {
                            minimums.insert(engine.to_string(), version.clone());
                        }
                        _ => {
                            bad(
                                self,
                                entry.value.span,
                                "expected a version such as \"15.4\"",
                            );
                        }
                    }
                }
                RuleSetting::MinEngineVersion(minimums)
            }
            _ => {
                return bad(
                    self,
                    value.span,
                    &format!("{} is not accepted here", value.value.describe()),
                );
            }
        };
        Some(Some(setting))
    }

    /// `[compliance]`: each rule with its severity (`severity.RULE` overrides the default).
    pub(super) fn compliance(&mut self, raw: Option<Sp<RawValue>>) -> Compliance {
        let Some(raw) = raw else {
            return Compliance::default();
        };
        let RawValue::Table(entries) = &raw.value else {
            self.report(wrong_type(
                "`compliance`",
                "a table such as `[compliance]`",
                &raw.value,
                raw.span,
            ));
            return Compliance::default();
        };
        let known: Vec<&str> = RuleName::ALL
            .iter()
            .map(|r| r.as_str())
            .chain(["severity"])
            .collect();
        let mut settings: BTreeMap<RuleName, (RuleSetting, Span)> = BTreeMap::new();
        let mut severities: BTreeMap<RuleName, ComplianceSeverity> = BTreeMap::new();
        for entry in entries {
            let key = entry.key.value.as_str();
            if key == "severity" {
                self.severities(entry, &mut severities);
                continue;
            }
            let Some(rule) = RuleName::parse(key) else {
                self.report(
                    Diagnostic::error(format!("unknown compliance rule `{key}`"))
                        .at(entry.key.span, "not a rule envctl checks")
                        .with_hint(
                            suggest::did_you_mean(key, known.iter().copied()).unwrap_or_else(
                                || format!("the rules are {}", suggest::backticked(&known)),
                            ),
                        ),
                );
                continue;
            };
            if let Some(Some(setting)) = self.rule_setting(rule, &entry.value) {
                let span = Span {
                    start: entry.key.span.start,
                    end: entry.value.span.end,
                };
                settings.insert(rule, (setting, span));
            }
        }
        Compliance {
            rules: settings
                .into_iter()
                .map(|(rule, (setting, span))| ComplianceRule {
                    setting,
                    severity: severities
                        .get(&rule)
                        .copied()
                        .unwrap_or_else(|| rule.default_severity()),
                    span,
                    exceptions: BTreeMap::new(),
                })
                .collect(),
        }
    }

    fn severities(
        &mut self,
        entry: &RawEntry,
        severities: &mut BTreeMap<RuleName, ComplianceSeverity>,
    ) {
        let RawValue::Table(items) = &entry.value.value else {
            self.report(wrong_type(
                "`severity` in `[compliance]`",
                "a table such as `{ require_monitoring = \"critical\" }`",
                &entry.value.value,
                entry.value.span,
            ));
            return;
        };
        let rules: Vec<&str> = RuleName::ALL.iter().map(|r| r.as_str()).collect();
        let levels: Vec<&str> = ComplianceSeverity::ALL.iter().map(|s| s.as_str()).collect();
        for item in items {
            let Some(rule) = RuleName::parse(&item.key.value) else {
                self.report(
                    Diagnostic::error(format!(
                        "`severity` names unknown compliance rule `{}`",
                        item.key.value
                    ))
                    .at(item.key.span, "not a rule envctl checks")
                    .with_hint(
                        suggest::did_you_mean(&item.key.value, rules.iter().copied())
                            .unwrap_or_else(|| {
                                format!("the rules are {}", suggest::backticked(&rules))
                            }),
                    ),
                );
                continue;
            };
            match &item.value.value {
                RawValue::String(text) if ComplianceSeverity::parse(text).is_some() => {
                    if let Some(level) = ComplianceSeverity::parse(text) {
                        severities.insert(rule, level);
                    }
                }
                _ => self.report(
                    Diagnostic::error(format!("invalid severity for `{rule}`"))
                        .at(item.value.span, "not a severity")
                        .with_hint(format!(
                            "the severities are {}",
                            suggest::backticked(&levels)
                        )),
                ),
            }
        }
    }

    /// `[[probes]]`: each with a unique name and an `http(s)://` or `file:` URL whose
    /// placeholders envctl knows.
    pub(super) fn probes(&mut self, raw: Option<Sp<RawValue>>) -> Vec<Probe> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let RawValue::Array(items) = &raw.value else {
            self.report(wrong_type(
                "`probes`",
                "a list of tables such as `[[probes]]`",
                &raw.value,
                raw.span,
            ));
            return Vec::new();
        };
        let mut probes: Vec<Probe> = Vec::new();
        for item in items {
            let RawValue::Table(entries) = &item.value else {
                self.report(wrong_type(
                    "an entry of `probes`",
                    "a table with `name` and `url`",
                    &item.value,
                    item.span,
                ));
                continue;
            };
            let mut name: Option<Sp<String>> = None;
            let mut url: Option<Sp<String>> = None;
            for entry in entries {
                let slot = match entry.key.value.as_str() {
                    "name" => &mut name,
                    "url" => &mut url,
                    other => {
                        self.report(
                            Diagnostic::error(format!("unknown field `{other}` in `[[probes]]`"))
                                .at(entry.key.span, "unknown field")
                                .with_hint("a probe sets `name` and `url`"),
                        );
                        continue;
                    }
                };
                match &entry.value.value {
                    RawValue::String(text) => *slot = Some(Sp::new(text.clone(), entry.value.span)),
                    other => self.report(wrong_type(
                        &format!("`{}` of a probe", entry.key.value),
                        "a string",
                        other,
                        entry.value.span,
                    )),
                }
            }
            let (Some(name), Some(url)) = (name, url) else {
                self.report(
                    Diagnostic::error("a probe needs a `name` and a `url`")
                        .at(item.span, "incomplete probe")
                        .with_hint(
                            "[[probes]]\nname = \"versions\"\nurl = \"https://${environment}.example.com/versions.json\"",
                        ),
                );
                continue;
            };
            let valid_name = !name.value.is_empty()
                && name
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                self.report(
                    Diagnostic::error(format!("invalid probe name `{}`", name.value))
                        .at(name.span, "letters, digits, `-` and `_` only")
                        .with_hint("the name is how differences refer to it: `probe.NAME`"),
                );
                continue;
            }
            if let Some(first) = probes.iter().find(|p| p.name == name.value) {
                let (line, _) = self.source.line_col(first.span.start);
                self.report(
                    Diagnostic::error(format!("two probes are named `{}`", name.value))
                        .at(name.span, "named again here")
                        .with_hint(format!("the first is at line {line}")),
                );
                continue;
            }
            let scheme_ok = ["https://", "http://", "file:"]
                .iter()
                .any(|scheme| url.value.starts_with(scheme) && url.value.len() > scheme.len());
            if !scheme_ok {
                self.report(
                    Diagnostic::error(format!(
                        "the URL of probe `{}` is not one envctl can read",
                        name.value
                    ))
                    .at(
                        url.span,
                        "expected `https://...`, `http://...` or `file:PATH`",
                    )
                    .with_hint("`file:` paths are relative to the spec's folder"),
                );
                continue;
            }
            let problems = template::check(&url.value, &PROBE_PLACEHOLDERS);
            for problem in &problems {
                // +1: past the opening quote of the string.
                let start = url.span.start + 1 + problem.start;
                self.report(
                    Diagnostic::error(format!(
                        "the URL of probe `{}` has a bad placeholder",
                        name.value
                    ))
                    .at(
                        Span {
                            start,
                            end: (url.span.start + 1 + problem.end).min(url.span.end),
                        },
                        problem.label.clone(),
                    )
                    .with_hint("a URL may hold `${project}`, `${environment}` and `${region}`"),
                );
            }
            if problems.is_empty() {
                probes.push(Probe {
                    name: name.value,
                    url: url.value,
                    span: item.span,
                });
            }
        }
        probes
    }

    /// A declared difference of `compliance`: an environment's own setting of one rule
    /// (`false`: waived there). Returns the public entry when it is complete.
    pub(super) fn compliance_difference(
        &mut self,
        raw: &RawDifference,
        environments: &[Environment],
        compliance: &mut Compliance,
        before: usize,
    ) -> Option<Difference> {
        let field = raw.field.as_ref()?;
        let Some(rule) = RuleName::parse(&field.value) else {
            let rules: Vec<&str> = RuleName::ALL.iter().map(|r| r.as_str()).collect();
            self.report(
                Diagnostic::error(format!("unknown compliance rule `{}`", field.value))
                    .at(field.span, "not a rule envctl checks")
                    .with_hint(
                        suggest::did_you_mean(&field.value, rules.iter().copied()).unwrap_or_else(
                            || format!("the rules are {}", suggest::backticked(&rules)),
                        ),
                    ),
            );
            return None;
        };
        if compliance.rule(rule).is_none() {
            self.report(
                Diagnostic::error(format!(
                    "a difference of compliance rule `{rule}`, which `[compliance]` does not set"
                ))
                .at(field.span, "no such rule in `[compliance]`")
                .with_hint(format!(
                    "set `{rule}` in `[compliance]`, or remove this entry"
                )),
            );
            return None;
        }
        let mut exceptions: BTreeMap<String, Option<RuleSetting>> = BTreeMap::new();
        for entry in raw.values.iter().flat_map(|values| values.value.iter()) {
            let env = entry.key.value.as_str();
            if !environments.iter().any(|e| e.settings.name == env) {
                self.report(
                    Diagnostic::error(format!(
                        "unknown environment `{env}` in the difference of compliance rule `{rule}`"
                    ))
                    .at(entry.key.span, "no such environment")
                    .with_hint(suggest::unknown_name_hint(
                        env,
                        environments.iter().map(|e| e.settings.name.as_str()),
                        "environments",
                    )),
                );
                continue;
            }
            if let Some(setting) = self.rule_setting(rule, &entry.value) {
                exceptions.insert(env.to_string(), setting);
            }
        }
        let complete = self.diagnostics[before..].iter().all(|d| !d.is_error());
        let (Some(reason), Some(risk), Some(owner), Some(expires), true) =
            (&raw.reason, &raw.risk, &raw.owner, &raw.expires, complete)
        else {
            return None;
        };
        let values = exceptions
            .iter()
            .map(|(env, setting)| {
                let shown = match setting {
                    None => Value::Bool(false),
                    Some(setting) => Value::Str(
                        serde_json::to_string(setting).unwrap_or_else(|_| rule.to_string()),
                    ),
                };
                (env.clone(), shown)
            })
            .collect();
        if let Some(target) = compliance.rules.iter_mut().find(|r| r.name() == rule) {
            target.exceptions.extend(exceptions);
        }
        Some(Difference {
            resource: "compliance".to_string(),
            field: rule.to_string(),
            values,
            reason: reason.value.clone(),
            risk: risk.value.clone(),
            owner: owner.value.clone(),
            expires: expires.value,
        })
    }

    /// A declared difference of a probe's key (`resource = "probe.versions"`,
    /// `field = "node"`): the environments may report different values there. `values` is
    /// optional (the service reports them, not the spec).
    pub(super) fn probe_difference(
        &mut self,
        raw: &RawDifference,
        environments: &[Environment],
        probes: &[Probe],
        before: usize,
    ) -> Option<Difference> {
        let resource = raw.resource.as_ref()?;
        let name = resource.value.strip_prefix("probe.").unwrap_or_default();
        if !probes.iter().any(|p| p.name == name) {
            self.report(
                Diagnostic::error(format!("unknown probe `{name}` in a declared difference"))
                    .at(resource.span, "no `[[probes]]` entry has this name")
                    .with_hint(suggest::unknown_name_hint(
                        name,
                        probes.iter().map(|p| p.name.as_str()),
                        "probes",
                    )),
            );
            return None;
        }
        let field = raw.field.as_ref()?;
        let mut values = BTreeMap::new();
        for entry in raw.values.iter().flat_map(|values| values.value.iter()) {
            let env = entry.key.value.as_str();
            if !environments.iter().any(|e| e.settings.name == env) {
                self.report(
                    Diagnostic::error(format!(
                        "unknown environment `{env}` in the difference of `{}` of `probe.{name}`",
                        field.value
                    ))
                    .at(entry.key.span, "no such environment"),
                );
                continue;
            }
            let value = match &entry.value.value {
                RawValue::String(text) => Value::Str(text.clone()),
                RawValue::Boolean(flag) => Value::Bool(*flag),
                RawValue::Integer(Some(number)) => Value::Int(*number),
                other => {
                    self.report(wrong_type(
                        &format!("the value of `{env}`"),
                        "a string, number or boolean",
                        other,
                        entry.value.span,
                    ));
                    continue;
                }
            };
            values.insert(env.to_string(), value);
        }
        let complete = self.diagnostics[before..].iter().all(|d| !d.is_error());
        let (Some(reason), Some(risk), Some(owner), Some(expires), true) =
            (&raw.reason, &raw.risk, &raw.owner, &raw.expires, complete)
        else {
            return None;
        };
        Some(Difference {
            resource: resource.value.clone(),
            field: field.value.clone(),
            values,
            reason: reason.value.clone(),
            risk: risk.value.clone(),
            owner: owner.value.clone(),
            expires: expires.value,
        })
    }
}
