//! A validated spec, and the configuration each environment gets from it.
//!
//! Owns [`Spec`] (what [`crate::check`] returns when there is no error), its public views
//! ([`EnvironmentSettings`], [`Difference`]), the internal model that validation builds, and
//! [`Configuration`]: the base resources with one environment's scale overrides and declared
//! difference values laid over them. Invariants of a `Spec`: every reference resolves, every
//! environment's configuration passed every check, resources are sorted by kind (creation
//! order) then name, environments are in source order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::compliance::{Compliance, ComplianceSeverity, RuleName, Subject, Violation};
use crate::date::CivilDate;
use crate::diagnostic::Diagnostic;
use crate::kinds::{DeclaredRule, FieldValue, SpecKind};
use crate::model::{Address, DesiredState, Span, Value};
use crate::net::Cidr;
use crate::probe::Probe;
use crate::raw::Sp;
use crate::suggest;

/// The settings of one environment other than its scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentSettings {
    pub name: String,
    /// Destroy and replace need the environment's name typed.
    pub protected: bool,
    /// The environment that must have converged on the same spec before this one is applied.
    pub promote_from: Option<String>,
    /// With `promote_from`: the upstream must also hold a passed verification at this spec's
    /// parity digest, newer than its last change (`require_verified`, default true).
    pub require_verified: bool,
    /// The region it lives in: its own `region` (a declared difference), else the project's.
    pub region: String,
    /// The account it lives in, when the spec names one: credentials for another are refused.
    pub account_id: Option<String>,
    /// A role assumed for every call to it.
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
    /// The role session's name.
    pub session_name: Option<String>,
    /// An AWS CLI profile whose credentials reach it.
    pub profile: Option<String>,
    /// The bucket of its lock: its own `lock_bucket`, else the project's.
    pub lock_bucket: Option<String>,
}

/// A declared, justified, owned and expiring difference in a non-scale field.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The resource's address, `db_cluster.main`.
    pub resource: String,
    pub field: String,
    /// The value per environment, as expansion writes it; environments not named keep the
    /// base value.
    pub values: BTreeMap<String, Value>,
    pub reason: String,
    pub risk: String,
    pub owner: String,
    pub expires: CivilDate,
}

/// [`Spec::expand`] was asked for an environment the spec does not declare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment `{name}`; {}", self.help())]
pub struct UnknownEnvironment {
    pub name: String,
    /// Every environment the spec declares, in source order.
    pub known: Vec<String>,
    /// The known name closest to `name`, if one is close.
    pub suggestion: Option<String>,
}

impl UnknownEnvironment {
    fn help(&self) -> String {
        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
        let declared = format!("the spec declares {}", suggest::and_list(&known));
        match &self.suggestion {
            Some(name) => format!("did you mean `{name}`? ({declared})"),
            None => declared,
        }
    }
}

/// A spec that passed every check.
#[derive(Debug, Clone)]
pub struct Spec {
    pub(crate) model: Model,
    pub(crate) differences: Vec<Difference>,
    pub(crate) parity_digest: String,
    pub(crate) compliance: Compliance,
    pub(crate) probes: Vec<Probe>,
}

impl Spec {
    pub fn project(&self) -> &str {
        &self.model.project.name
    }

    pub fn region(&self) -> &str {
        &self.model.project.region
    }

    /// The S3 bucket holding envctl's locks, when the spec names one.
    pub fn lock_bucket(&self) -> Option<&str> {
        self.model.project.lock_bucket.as_deref()
    }

    /// The project tags put on every resource.
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.model.project.tags
    }

    /// Every environment's name, in source order.
    pub fn environment_names(&self) -> Vec<&str> {
        self.model
            .environments
            .iter()
            .map(|e| e.settings.name.as_str())
            .collect()
    }

    pub fn environment(&self, name: &str) -> Option<&EnvironmentSettings> {
        self.model.environment(name).map(|e| &e.settings)
    }

    /// The declared differences, in source order.
    pub fn differences(&self) -> &[Difference] {
        &self.differences
    }

    /// `sha256:<hex>` of every setting that is neither scale nor a declared difference: the
    /// same for every environment, changed by any non-scale edit.
    pub fn parity_digest(&self) -> &str {
        &self.parity_digest
    }

    /// The `[compliance]` rules, with each environment's declared exceptions.
    pub fn compliance(&self) -> &Compliance {
        &self.compliance
    }

    /// The `[[probes]]`, in source order.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }

    /// The rules `desired` (an expansion of this spec) breaks, ranked, each with where the
    /// spec sets what breaks it.
    pub fn compliance_of(&self, desired: &DesiredState) -> Vec<(Violation, Option<Span>)> {
        let environment = self.model.environment(&desired.environment);
        let configuration = self.model.configuration(environment);
        let subjects = desired.resources.iter().map(|r| Subject {
            address: &r.address,
            fields: &r.fields,
        });
        self.compliance
            .check(&desired.environment, desired.protected, subjects)
            .into_iter()
            .map(|violation| {
                let span = violation
                    .resource
                    .parse::<Address>()
                    .ok()
                    .and_then(|address| {
                        let (kind, _) = crate::kinds::expanded(address.kind)?;
                        let configured = configuration.get(kind, &address.name)?;
                        Some(
                            configured
                                .field(&violation.field)
                                .map_or(configured.resource.name_span, |f| f.span),
                        )
                    });
                (violation, span)
            })
            .collect()
    }

    /// Every rule the spec breaks, in any environment, as diagnostics at what breaks it: one per
    /// spec resource and problem, naming every environment it is found in, most severe first.
    /// All are warnings: the spec is valid, but `apply` refuses an environment that breaks a
    /// `critical` rule.
    pub fn compliance_diagnostics(&self) -> Vec<Diagnostic> {
        type Key = (ComplianceSeverity, RuleName, String, String);
        let mut found: BTreeMap<Key, (Vec<String>, Option<Span>)> = BTreeMap::new();
        for name in self.environment_names() {
            let Ok(desired) = self.expand(name) else {
                continue;
            };
            for (violation, span) in self.compliance_of(&desired) {
                let resource = violation
                    .resource
                    .parse::<Address>()
                    .ok()
                    .and_then(|a| {
                        let (kind, _) = crate::kinds::expanded(a.kind)?;
                        Some(crate::kinds::address(kind, &a.name))
                    })
                    .unwrap_or(violation.resource.clone());
                let detail = violation.detail.clone();
                let entry = found
                    .entry((violation.severity, violation.rule, resource, detail))
                    .or_insert_with(|| (Vec::new(), span));
                if !entry.0.contains(&violation.environment) {
                    entry.0.push(violation.environment);
                }
            }
        }
        found
            .into_iter()
            .rev()
            .map(
                |((severity, rule, resource, detail), (environments, span))| {
                    let summary = format!(
                        "[{severity}] {}: {rule} ({resource} {detail})",
                        environments.join(", ")
                    );
                    let example = environments.first().map_or("production", String::as_str);
                    let mut diagnostic = Diagnostic::warning(summary);
                    if severity == ComplianceSeverity::Critical {
                        diagnostic = diagnostic.with_hint(format!(
                            "`apply` refuses a critical violation: fix it, or declare an exception \
                         with a reason, risk, owner and expiry:\n[[differences]]\nresource = \
                         \"compliance\"\nfield = \"{rule}\"\nvalues = {{ {example} = false }}"
                        ));
                    }
                    match span {
                        Some(span) => diagnostic.at(span, format!("breaks `{rule}`")),
                        None => diagnostic,
                    }
                },
            )
            .collect()
    }

    /// The desired state of one environment.
    pub fn expand(&self, environment: &str) -> Result<DesiredState, UnknownEnvironment> {
        match self.model.environment(environment) {
            Some(env) => Ok(crate::expand::expand(self, env)),
            None => {
                let known: Vec<String> = self
                    .environment_names()
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                let suggestion = suggest::closest(environment, known.iter().map(String::as_str))
                    .map(str::to_string);
                Err(UnknownEnvironment {
                    name: environment.to_string(),
                    known,
                    suggestion,
                })
            }
        }
    }
}

/// The project settings, validated.
#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub name: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    pub lock_bucket: Option<String>,
}

/// Everything validation learned about a spec.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub project: Project,
    pub environments: Vec<Environment>,
    /// Sorted by kind, then name.
    pub resources: Vec<Resource>,
    pub differences: Vec<DeclaredDifference>,
}

impl Model {
    pub(crate) fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.settings.name == name)
    }

    /// The configuration of `environment`, or the base configuration for `None`.
    pub(crate) fn configuration<'m>(
        &'m self,
        environment: Option<&'m Environment>,
    ) -> Configuration<'m> {
        Configuration::new(&self.resources, environment, &self.differences)
    }
}

/// A resource as declared, with defaults filled in.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub kind: SpecKind,
    pub name: String,
    pub name_span: Span,
    /// The resource's table in the source.
    pub span: Span,
    /// Every field that has a value (given or default); fields that failed their own checks
    /// are absent, so later checks skip them instead of repeating the error.
    pub fields: BTreeMap<&'static str, Sp<FieldValue>>,
    /// The fields written in the spec whose value failed its own checks (or whose name was
    /// misspelt): a check that asks whether a field was given asks here too.
    pub failed: BTreeSet<&'static str>,
}

/// The resource `kind.name` among `resources`, which must be sorted by kind, then name.
pub(crate) fn find_resource<'r>(
    resources: &'r [Resource],
    kind: SpecKind,
    name: &str,
) -> Option<&'r Resource> {
    resources
        .binary_search_by(|r| (r.kind, r.name.as_str()).cmp(&(kind, name)))
        .ok()
        .and_then(|i| resources.get(i))
}

/// One scale field set by an environment.
#[derive(Debug, Clone)]
pub(crate) struct Override {
    pub kind: SpecKind,
    pub resource: String,
    pub field: &'static str,
    pub value: Sp<FieldValue>,
}

#[derive(Debug, Clone)]
pub(crate) struct Environment {
    pub settings: EnvironmentSettings,
    pub overrides: Vec<Override>,
}

/// A `[[differences]]` entry that resolved to a real resource and field.
#[derive(Debug, Clone)]
pub(crate) struct DeclaredDifference {
    pub kind: SpecKind,
    pub resource: String,
    pub field: &'static str,
    /// Valid values by environment name.
    pub values: Vec<(String, Sp<FieldValue>)>,
}

/// The resources of one environment (or the base), each with its effective field values.
#[derive(Debug)]
pub(crate) struct Configuration<'m> {
    /// Environment name; `None` for the base configuration.
    pub environment: Option<&'m str>,
    pub resources: Vec<Configured<'m>>,
    index: HashMap<(SpecKind, &'m str), usize>,
}

/// One resource with its effective fields.
#[derive(Debug)]
pub(crate) struct Configured<'m> {
    pub resource: &'m Resource,
    pub fields: BTreeMap<&'static str, &'m Sp<FieldValue>>,
}

impl<'m> Configuration<'m> {
    pub(crate) fn new(
        resources: &'m [Resource],
        environment: Option<&'m Environment>,
        differences: &'m [DeclaredDifference],
    ) -> Configuration<'m> {
        let mut configured: Vec<Configured<'m>> = resources
            .iter()
            .map(|resource| Configured {
                resource,
                fields: resource.fields.iter().map(|(k, v)| (*k, v)).collect(),
            })
            .collect();
        let index: HashMap<(SpecKind, &'m str), usize> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.kind, r.name.as_str()), i))
            .collect();
        if let Some(environment) = environment {
            let name = environment.settings.name.as_str();
            for o in &environment.overrides {
                if let Some(target) = index
                    .get(&(o.kind, o.resource.as_str()))
                    .and_then(|&i| configured.get_mut(i))
                {
                    target.fields.insert(o.field, &o.value);
                }
            }
            for difference in differences {
                let value = difference.values.iter().find(|(env, _)| env == name);
                let target = index
                    .get(&(difference.kind, difference.resource.as_str()))
                    .and_then(|&i| configured.get_mut(i));
                if let (Some((_, value)), Some(target)) = (value, target) {
                    target.fields.insert(difference.field, value);
                }
            }
        }
        Configuration {
            environment: environment.map(|e| e.settings.name.as_str()),
            resources: configured,
            index,
        }
    }

    pub(crate) fn get(&self, kind: SpecKind, name: &str) -> Option<&Configured<'m>> {
        self.index
            .get(&(kind, name))
            .and_then(|&i| self.resources.get(i))
    }

    /// The names of every resource of `kind`, in name order.
    pub(crate) fn names(&self, kind: SpecKind) -> Vec<&'m str> {
        self.resources
            .iter()
            .filter(|c| c.resource.kind == kind)
            .map(|c| c.resource.name.as_str())
            .collect()
    }

    pub(crate) fn of_kind(&self, kind: SpecKind) -> impl Iterator<Item = &Configured<'m>> {
        self.resources
            .iter()
            .filter(move |c| c.resource.kind == kind)
    }
}

impl<'m> Configured<'m> {
    pub(crate) fn kind(&self) -> SpecKind {
        self.resource.kind
    }

    pub(crate) fn name(&self) -> &'m str {
        &self.resource.name
    }

    pub(crate) fn field(&self, name: &str) -> Option<&'m Sp<FieldValue>> {
        self.fields.get(name).copied()
    }

    pub(crate) fn text(&self, name: &str) -> Option<&'m str> {
        match self.field(name).map(|f| &f.value) {
            Some(FieldValue::Text(text)) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        match self.field(name).map(|f| &f.value) {
            Some(FieldValue::Int(number)) => Some(*number),
            _ => None,
        }
    }

    pub(crate) fn cidr(&self, name: &str) -> Option<Sp<Cidr>> {
        let field = self.field(name)?;
        match &field.value {
            FieldValue::Cidr(cidr) => Some(Sp::new(*cidr, field.span)),
            _ => None,
        }
    }

    /// The name a single-reference field holds.
    pub(crate) fn reference(&self, name: &str) -> Option<&'m Sp<String>> {
        match self.field(name).map(|f| &f.value) {
            Some(FieldValue::Ref { name, .. }) => Some(name),
            _ => None,
        }
    }

    /// The names a reference-list field holds (empty when unset).
    pub(crate) fn references(&self, name: &str) -> &'m [Sp<String>] {
        match self.field(name).map(|f| &f.value) {
            Some(FieldValue::RefList { names, .. }) => names,
            _ => &[],
        }
    }

    pub(crate) fn rules(&self, name: &str) -> &'m [DeclaredRule] {
        match self.field(name).map(|f| &f.value) {
            Some(FieldValue::Rules(rules)) => rules,
            _ => &[],
        }
    }

    /// How many cloud resources this one becomes (1 for uncounted kinds).
    pub(crate) fn count(&self) -> i64 {
        match self.kind().count_field() {
            Some(field) => self.int(field).unwrap_or(0),
            None => 1,
        }
    }
}
