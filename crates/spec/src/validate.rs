//! Stage two: from the raw spec to a validated [`Spec`].
//!
//! Owns every rule that needs more than one value: required fields and defaults, names,
//! scale-only overrides, declared differences, promotion chains, and running the checks of each
//! configuration: the generic ones here (references resolve, cloud names within AWS limits),
//! then each kind's own through the registry (the right VPC, subnets inside their VPC and apart,
//! database subnets in two zones, no security group cycles: see `crate::kinds`).
//! Invariants:
//! - every problem is reported, none stops the others: a value that failed its own checks is
//!   left out, and later checks skip what is missing rather than report it again;
//! - configuration checks run on the base configuration and on each environment's (with its
//!   overrides and declared differences applied); a problem found in several is reported once;
//! - a `Spec` is returned only when no error was reported, by this stage or the one before.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::date::CivilDate;
use crate::diagnostic::Diagnostic;
use crate::digest;
use crate::formats;
use crate::kinds::{self, FieldSite, FieldValue, Presence, RuleTarget, SpecKind, security_group};
use crate::model::{Span, Value};
use crate::raw::{
    DIFFERENCE_KEYS, RawDifference, RawEnvironment, RawProject, RawResource, RawSpec, Sp,
};
use crate::source::SourceFile;
use crate::spec::{
    Configuration, Configured, DeclaredDifference, Difference, Environment, EnvironmentSettings,
    Model, Override, Project, Resource, Spec, find_resource,
};
use crate::suggest;

mod compliance;
mod placement;

/// Differences expiring within this many days get a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

pub(crate) fn validate(
    raw: RawSpec,
    source: &SourceFile,
    today: CivilDate,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Spec> {
    let mut validator = Validator {
        source,
        today,
        diagnostics,
        region_difference: None,
        rule_differences: Vec::new(),
    };
    let project = validator.project(raw.project);
    let region = project.valid_region.as_deref();
    let resources = validator.resources(raw.resources, region);
    let (mut environments, regions) = validator.environments(
        raw.environments,
        &resources,
        region,
        project.lock_bucket.as_deref(),
    );
    let mut compliance = validator.compliance(raw.compliance);
    let probes = validator.probes(raw.probes);
    let differences = validator.differences(
        raw.differences,
        &resources,
        &environments,
        region,
        (&mut compliance, &probes),
    );
    validator.check_regions(&mut environments, &regions, &resources, region);
    validator.check_lock_buckets(&environments, project.lock_bucket_span);
    let declared: Vec<DeclaredDifference> =
        differences.iter().map(|d| d.declared.clone()).collect();
    validator.check_configurations(
        project.name.as_deref(),
        &resources,
        &environments,
        &declared,
    );
    validator.warn_about_differences(&differences, &resources, &environments);
    if validator.diagnostics.iter().any(Diagnostic::is_error) {
        return None;
    }

    let project = Project {
        name: project.name?,
        region: project.valid_region?,
        tags: project.tags,
        lock_bucket: project.lock_bucket,
    };
    let mut public: Vec<Difference> = validator
        .region_difference
        .take()
        .map(|(difference, _)| difference)
        .into_iter()
        .collect();
    public.extend(differences.into_iter().filter_map(|d| d.public));
    public.append(&mut validator.rule_differences);
    let model = Model {
        project,
        environments,
        resources,
        differences: declared,
    };
    let parity_digest = digest::parity_digest(&model);
    Some(Spec {
        model,
        differences: public,
        parity_digest,
        compliance,
        probes,
    })
}

struct Validator<'a> {
    source: &'a SourceFile,
    today: CivilDate,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// The declared difference of `project` `region`, with its value per environment.
    region_difference: Option<(Difference, BTreeMap<String, Sp<String>>)>,
    /// The complete declared differences of compliance rules and probe keys.
    rule_differences: Vec<Difference>,
}

/// The project as far as it is valid.
#[derive(Default)]
struct ProjectDraft {
    name: Option<String>,
    valid_region: Option<String>,
    tags: BTreeMap<String, String>,
    lock_bucket: Option<String>,
    /// Where `lock_bucket` is written.
    lock_bucket_span: Option<Span>,
}

/// A difference as far as it resolved.
struct CheckedDifference {
    declared: DeclaredDifference,
    /// Where its values were written, for the all-equal warning.
    values_span: Span,
    expires: Option<Sp<CivilDate>>,
    owner: Option<String>,
    /// `Some` when every part is present and valid.
    public: Option<Difference>,
}

/// An error for missing fields: `what` names the table (`` `vpc.main` ``), `examples` are
/// lines to add.
fn missing_fields(what: &str, span: Option<Span>, names: &[&str], examples: &[&str]) -> Diagnostic {
    let diagnostic = Diagnostic::error(format!("{what} is missing {}", suggest::and_list(names)));
    let diagnostic = match span {
        Some(span) => diagnostic.at_span(span),
        None => diagnostic,
    };
    diagnostic.with_hint(format!("add:\n{}", examples.join("\n")))
}

impl Validator<'_> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn check_name(&mut self, name: &Sp<String>, what: &str) -> bool {
        match formats::check_identifier(&name.value) {
            Ok(()) => true,
            Err(label) => {
                let hint = formats::suggest_identifier(&name.value)
                    .map(|better| format!("try `{better}`"))
                    .unwrap_or_else(|| {
                        format!(
                            "{what} names go into AWS names: lowercase letters, digits and \
                             single `-`, starting with a letter, at most {} characters",
                            formats::MAX_NAME_LEN
                        )
                    });
                self.report(
                    Diagnostic::error(format!("invalid {what} name `{}`", name.value))
                        .at(name.span, label)
                        .with_hint(hint),
                );
                false
            }
        }
    }

    fn project(&mut self, raw: Option<RawProject>) -> ProjectDraft {
        let mut draft = ProjectDraft::default();
        let Some(raw) = raw else {
            self.report(missing_fields(
                "the spec",
                None,
                &["[project]"],
                &["[project]", "name = \"webapp\"", "region = \"us-east-1\""],
            ));
            return draft;
        };
        let mut missing = Vec::new();
        let mut examples = Vec::new();
        match raw.name {
            Some(name) => {
                if self.check_name(&name, "project") {
                    draft.name = Some(name.value);
                }
            }
            None => {
                missing.push("name");
                examples.push("name = \"webapp\"");
            }
        }
        match raw.region {
            Some(region) if formats::is_region(&region.value) => {
                draft.valid_region = Some(region.value);
            }
            Some(region) => self.report(
                Diagnostic::error(format!("`{}` is not an AWS region", region.value))
                    .at(region.span, "expected a region such as `us-east-1`"),
            ),
            None => {
                missing.push("region");
                examples.push("region = \"us-east-1\"");
            }
        }
        if !missing.is_empty() {
            self.report(missing_fields(
                "`[project]`",
                Some(raw.span),
                &missing,
                &examples,
            ));
        }
        for (key, value) in raw.tags {
            match formats::check_tag(&key.value, &value.value) {
                Ok(()) => {
                    draft.tags.insert(key.value, value.value);
                }
                Err((at_key, label)) => self.report(
                    Diagnostic::error(format!("invalid project tag `{}`", key.value))
                        .at(if at_key { key.span } else { value.span }, label),
                ),
            }
        }
        if let Some(bucket) = raw.lock_bucket {
            match formats::check_bucket_name(&bucket.value) {
                Ok(()) => {
                    draft.lock_bucket = Some(bucket.value);
                    draft.lock_bucket_span = Some(bucket.span);
                }
                Err(label) => self.report(
                    Diagnostic::error(format!("`{}` is not an S3 bucket name", bucket.value))
                        .at(bucket.span, label),
                ),
            }
        }
        draft
    }

    fn resources(&mut self, raw: Vec<RawResource>, region: Option<&str>) -> Vec<Resource> {
        let mut resources = Vec::new();
        for raw in raw {
            self.check_name(&raw.name, raw.kind.singular());
            let address = kinds::address(raw.kind, &raw.name.value);
            let source: &SourceFile = self.source;
            let site = FieldSite {
                owner: &address,
                region,
                files: &source.files,
            };
            let mut fields = BTreeMap::new();
            let mut failed: BTreeSet<&str> = raw.misspelt.iter().copied().collect();
            for field in &raw.fields {
                match kinds::parse_field(field.def, &field.value, site, self.diagnostics) {
                    Some(value) => {
                        fields.insert(field.def.name, value);
                    }
                    None => {
                        failed.insert(field.def.name);
                    }
                }
            }
            let mut missing = Vec::new();
            let mut examples = Vec::new();
            for def in raw.kind.fields() {
                if fields.contains_key(def.name) || failed.contains(def.name) {
                    continue;
                }
                match &def.presence {
                    Presence::Required => {
                        missing.push(def.name);
                        examples.push(def.example);
                    }
                    Presence::Optional => {}
                    Presence::Default(_) => {
                        if let Some(value) = def.default_value(&raw.name.value, raw.span) {
                            fields.insert(def.name, Sp::new(value, raw.span));
                        }
                    }
                }
            }
            if !missing.is_empty() {
                self.report(missing_fields(
                    &format!("`{address}`"),
                    Some(raw.span),
                    &missing,
                    &examples,
                ));
            }
            resources.push(Resource {
                kind: raw.kind,
                name: raw.name.value,
                name_span: raw.name.span,
                span: raw.span,
                fields,
                failed: failed.into_iter().collect(),
            });
        }
        resources.sort_by(|a, b| (a.kind, a.name.as_str()).cmp(&(b.kind, b.name.as_str())));
        resources
    }

    fn environments(
        &mut self,
        raw: Option<Sp<Vec<RawEnvironment>>>,
        resources: &[Resource],
        region: Option<&str>,
        lock_bucket: Option<&str>,
    ) -> (Vec<Environment>, Vec<(String, Sp<String>)>) {
        let hint =
            "declare one, for example:\n[environments.staging]\ninstance.app = { count = 1 }";
        let raw = match raw {
            None => {
                self.report(Diagnostic::error("the spec declares no environments").with_hint(hint));
                return (Vec::new(), Vec::new());
            }
            Some(raw) if raw.value.is_empty() => {
                self.report(
                    Diagnostic::error("the spec declares no environments")
                        .at(raw.span, "no environment in this table")
                        .with_hint(hint),
                );
                return (Vec::new(), Vec::new());
            }
            Some(raw) => raw.value,
        };
        let names: Vec<String> = raw.iter().map(|e| e.name.value.clone()).collect();
        let mut environments = Vec::new();
        let mut promotions = Vec::new();
        let mut regions = Vec::new();
        for env in raw {
            self.check_name(&env.name, "environment");
            let placement = self.placement(&env);
            if let Some(own) = env.placement.get("region") {
                regions.push((env.name.value.clone(), own.clone()));
            }
            let overrides = self.overrides(&env, resources, region);
            if let Some(from) = &env.promote_from {
                promotions.push((env.name.value.clone(), from.clone()));
            }
            if let (Some(required), None) = (&env.require_verified, &env.promote_from) {
                self.report(
                    Diagnostic::error(format!(
                        "`require_verified` in environment `{}` without `promote_from`",
                        env.name.value
                    ))
                    .at(
                        required.span,
                        "only a promoted environment has an upstream to verify",
                    )
                    .with_hint(
                        "set `promote_from = \"staging\"` (the upstream that must be verified), \
                         or remove `require_verified`",
                    ),
                );
            }
            environments.push(Environment {
                settings: EnvironmentSettings {
                    name: env.name.value,
                    protected: env.protected.is_some_and(|p| p.value),
                    require_verified: env.promote_from.is_some()
                        && env.require_verified.as_ref().is_none_or(|r| r.value),
                    promote_from: env.promote_from.map(|p| p.value),
                    region: placement
                        .get("region")
                        .cloned()
                        .or(region.map(str::to_string))
                        .unwrap_or_default(),
                    account_id: placement.get("account_id").cloned(),
                    role_arn: placement.get("role_arn").cloned(),
                    external_id: placement.get("external_id").cloned(),
                    session_name: placement.get("session_name").cloned(),
                    profile: placement.get("profile").cloned(),
                    lock_bucket: placement
                        .get("lock_bucket")
                        .cloned()
                        .or(lock_bucket.map(str::to_string)),
                },
                overrides,
            });
        }
        self.check_promotions(&names, &promotions);
        (environments, regions)
    }

    fn overrides(
        &mut self,
        env: &RawEnvironment,
        resources: &[Resource],
        region: Option<&str>,
    ) -> Vec<Override> {
        let env_name = env.name.value.as_str();
        let mut overrides = Vec::new();
        for raw in &env.overrides {
            let address = kinds::address(raw.kind, &raw.resource.value);
            if find_resource(resources, raw.kind, &raw.resource.value).is_none() {
                let known: Vec<String> = resources
                    .iter()
                    .filter(|r| r.kind == raw.kind)
                    .map(|r| kinds::address(r.kind, &r.name))
                    .collect();
                let hint = suggest::unknown_name_hint(
                    &address,
                    known.iter().map(String::as_str),
                    raw.kind.plural(),
                );
                self.report(
                    Diagnostic::error(format!(
                        "environment `{env_name}` overrides unknown resource `{address}`"
                    ))
                    .at(raw.address_span, format!("no `[{address}]` in the spec"))
                    .with_hint(hint),
                );
                continue;
            }
            let source: &SourceFile = self.source;
            let site = FieldSite {
                owner: &address,
                region,
                files: &source.files,
            };
            for field in &raw.fields {
                if !field.def.scale {
                    let written = self
                        .source
                        .slice(field.value.span)
                        .filter(|text| !text.contains('\n'))
                        .unwrap_or("...");
                    self.report(
                        Diagnostic::error(format!(
                            "environment `{env_name}` overrides `{}` of `{address}`, which is \
                             not a scale field",
                            field.def.name
                        ))
                        .at(field.key.span, "not a scale field")
                        .with_hint(format!(
                            "environments may override only the scale fields: {}",
                            kinds::scale_field_list()
                        ))
                        .with_hint(format!(
                            "if `{address}` must really differ, declare the difference:\n{}",
                            self.difference_template(
                                &address,
                                field.def.name,
                                &format!("{{ {env_name} = {written} }}")
                            )
                        )),
                    );
                    continue;
                }
                if let Some(value) =
                    kinds::parse_field(field.def, &field.value, site, self.diagnostics)
                {
                    overrides.push(Override {
                        kind: raw.kind,
                        resource: raw.resource.value.clone(),
                        field: field.def.name,
                        value,
                    });
                }
            }
        }
        overrides
    }

    fn difference_template(&self, resource: &str, field: &str, values: &str) -> String {
        format!(
            "[[differences]]\nresource = \"{resource}\"\nfield = \"{field}\"\nvalues = {values}\n\
             reason = \"why the environments must differ\"\n\
             risk = \"what could go wrong because they differ\"\n\
             owner = \"the team answering for it\"\nexpires = {}",
            self.today.plus_days(90)
        )
    }

    /// `promote_from` names an environment, not itself, and promotions form no cycle.
    fn check_promotions(&mut self, names: &[String], promotions: &[(String, Sp<String>)]) {
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        let mut edge_spans: HashMap<usize, Span> = HashMap::new();
        for (env, from) in promotions {
            let target = from.value.as_str();
            if env == target {
                self.report(
                    Diagnostic::error(format!("environment `{env}` promotes from itself"))
                        .at(from.span, "names its own environment")
                        .with_hint(
                            "`promote_from` names the environment that must converge first; \
                             remove it from the first environment of a chain",
                        ),
                );
                continue;
            }
            match (index.get(env.as_str()), index.get(target)) {
                (Some(&from_index), Some(&to_index)) => {
                    if let Some(list) = edges.get_mut(from_index) {
                        list.push(to_index);
                    }
                    edge_spans.insert(from_index, from.span);
                }
                _ => self.report(
                    Diagnostic::error(format!(
                        "environment `{env}` promotes from unknown environment `{target}`"
                    ))
                    .at(from.span, "no such environment")
                    .with_hint(suggest::unknown_name_hint(
                        target,
                        names.iter().map(String::as_str),
                        "environments",
                    )),
                ),
            }
        }
        for cycle in find_cycles(&edges) {
            let chain: Vec<&str> = cycle
                .iter()
                .chain(cycle.first())
                .filter_map(|&i| names.get(i).map(String::as_str))
                .collect();
            let Some(span) = cycle.first().and_then(|first| edge_spans.get(first)) else {
                continue;
            };
            self.report(
                Diagnostic::error(format!(
                    "environments promote from each other in a cycle: {}",
                    chain
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ))
                .at(*span, "part of the cycle")
                .with_hint(
                    "the first environment of a promotion chain must not set `promote_from`",
                ),
            );
        }
    }

    fn differences(
        &mut self,
        raw: Vec<RawDifference>,
        resources: &[Resource],
        environments: &[Environment],
        region: Option<&str>,
        (compliance, probes): (&mut crate::compliance::Compliance, &[crate::probe::Probe]),
    ) -> Vec<CheckedDifference> {
        let mut checked = Vec::new();
        let mut first_declared: HashMap<(SpecKind, String, &'static str), Span> = HashMap::new();
        for raw in raw {
            let before = self.diagnostics.len();
            self.report_missing_parts(&raw);
            for text in [&raw.reason, &raw.risk, &raw.owner].into_iter().flatten() {
                if text.value.trim() == crate::draft::TODO {
                    self.report(
                        Diagnostic::error("a declared difference is still a draft")
                            .at(text.span, "`envctl import` wrote `TODO` here")
                            .with_hint(
                                "decide whether the environments should differ: if so, say why, what it risks, who owns it and when it expires; if not, remove the difference from the spec and make the environments equal",
                            ),
                    );
                    continue;
                }
                if text.value.trim().is_empty() {
                    self.report(
                        Diagnostic::error("a part of a declared difference is empty")
                            .at(text.span, "write something here")
                            .with_hint(
                                "say why the environments differ, what it risks, and who owns it",
                            ),
                    );
                }
            }
            if let Some(expires) = &raw.expires {
                let owner = raw.owner.as_ref().map_or("its owner", |o| o.value.as_str());
                let plural = |n: i64| if n == 1 { "" } else { "s" };
                if expires.value < self.today {
                    // No cliff: the spec stays valid, read-only commands report it, and the
                    // commands that change an environment refuse unless told why not.
                    let days = expires.value.days_until(self.today);
                    self.report(
                        Diagnostic::warning(format!(
                            "{} expired on {}",
                            difference_subject(&raw),
                            expires.value
                        ))
                        .at(
                            expires.span,
                            format!("expired {days} day{} ago", plural(days)),
                        )
                        .with_hint(format!(
                            "make the environments converge and remove this entry, or agree on \
                             a new date with `{owner}`; until then changes to these \
                             environments need `--allow-expired REASON`"
                        )),
                    );
                }
            }
            if raw.resource.as_ref().is_some_and(|r| r.value == "project") {
                self.project_difference(&raw, environments, before);
                continue;
            }
            if raw
                .resource
                .as_ref()
                .is_some_and(|r| r.value == "compliance")
            {
                let public = self.compliance_difference(&raw, environments, compliance, before);
                self.rule_differences.extend(public);
                continue;
            }
            if raw
                .resource
                .as_ref()
                .is_some_and(|r| r.value.starts_with("probe."))
            {
                let public = self.probe_difference(&raw, environments, probes, before);
                self.rule_differences.extend(public);
                continue;
            }
            let Some((kind, resource, field)) = self.difference_target(&raw, resources) else {
                continue;
            };
            let key = (kind, resource.name.clone(), field.name);
            if let Some(first) = first_declared.get(&key) {
                let (line, _) = self.source.line_col(first.start);
                let field_span = raw.field.as_ref().map_or(raw.span, |f| f.span);
                self.report(
                    Diagnostic::error(format!(
                        "`{}` of `{}` is declared as a difference twice",
                        field.name,
                        kinds::address(kind, &resource.name)
                    ))
                    .at(field_span, "declared again here")
                    .with_hint(format!(
                        "it is first declared at line {line}; merge the two entries"
                    )),
                );
                continue;
            }
            first_declared.insert(key, raw.span);
            let address = kinds::address(kind, &resource.name);
            let source: &SourceFile = self.source;
            let site = FieldSite {
                owner: &address,
                region,
                files: &source.files,
            };
            let mut values = Vec::new();
            let values_span = raw.values.as_ref().map_or(raw.span, |v| v.span);
            if let Some(raw_values) = &raw.values {
                if raw_values.value.is_empty() {
                    self.report(
                        Diagnostic::error("a declared difference names no environment")
                            .at(raw_values.span, "no values")
                            .with_hint("give the value of each environment that differs, such as `{ production = 30 }`"),
                    );
                }
                for entry in &raw_values.value {
                    let env = entry.key.value.as_str();
                    if !environments.iter().any(|e| e.settings.name == env) {
                        self.report(
                            Diagnostic::error(format!(
                                "unknown environment `{env}` in the difference of `{}` of `{address}`",
                                field.name
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
                    if let Some(value) =
                        kinds::parse_field(field, &entry.value, site, self.diagnostics)
                    {
                        values.push((env.to_string(), value));
                    }
                }
            }
            // Warnings (an expired date) leave the entry in force; only errors void it.
            let complete = self.diagnostics[before..].iter().all(|d| !d.is_error());
            let public = match (&raw.reason, &raw.risk, &raw.owner, &raw.expires) {
                (Some(reason), Some(risk), Some(owner), Some(expires)) if complete => {
                    Some(Difference {
                        resource: address.clone(),
                        field: field.name.to_string(),
                        values: values
                            .iter()
                            .map(|(env, v)| (env.clone(), v.value.to_value()))
                            .collect(),
                        reason: reason.value.clone(),
                        risk: risk.value.clone(),
                        owner: owner.value.clone(),
                        expires: expires.value,
                    })
                }
                _ => None,
            };
            checked.push(CheckedDifference {
                declared: DeclaredDifference {
                    kind,
                    resource: resource.name.clone(),
                    field: field.name,
                    values,
                },
                values_span,
                expires: raw.expires,
                owner: raw.owner.map(|o| o.value),
                public,
            });
        }
        checked
    }

    fn report_missing_parts(&mut self, raw: &RawDifference) {
        let missing: Vec<&str> = DIFFERENCE_KEYS
            .iter()
            .map(|key| key.name)
            .filter(|key| !raw.keys.iter().any(|k| k == key))
            // A probe's values are what the service reports, not the spec's to give.
            .filter(|key| {
                *key != "values"
                    || !raw
                        .resource
                        .as_ref()
                        .is_some_and(|r| r.value.starts_with("probe."))
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        let expires = format!("expires = {}", self.today.plus_days(90));
        let examples: Vec<&str> = missing
            .iter()
            .map(|part| match *part {
                "resource" => "resource = \"db_cluster.main\"",
                "field" => "field = \"backup_retention_days\"",
                "values" => "values = { production = 30 }",
                "reason" => "reason = \"why the environments must differ\"",
                "risk" => "risk = \"what could go wrong because they differ\"",
                "owner" => "owner = \"the team answering for it\"",
                _ => expires.as_str(),
            })
            .collect();
        self.report(
            missing_fields(
                &difference_subject(raw),
                Some(raw.span),
                &missing,
                &examples,
            )
            .with_hint(
                "a difference between environments must say why, what it risks, who owns \
                     it and when it ends",
            ),
        );
    }

    /// The resource and field a difference names, if both exist and the field may differ.
    fn difference_target<'r>(
        &mut self,
        raw: &RawDifference,
        resources: &'r [Resource],
    ) -> Option<(SpecKind, &'r Resource, &'static kinds::FieldDef)> {
        let address = raw.resource.as_ref()?;
        let text = address.value.as_str();
        let Some((kind, name)) = text
            .split_once('.')
            .and_then(|(kind, name)| SpecKind::parse(kind).map(|k| (k, name)))
        else {
            let derived = text.split_once('.').and_then(|(kind, name)| {
                let (owner, derived) = kinds::derived(kind)?;
                Some(format!(
                    "differences of {} are declared on `{}`",
                    derived.whole,
                    kinds::address(owner, name)
                ))
            });
            self.report(
                Diagnostic::error(format!("`{text}` is not a resource address"))
                    .at(
                        address.span,
                        "expected `kind.name`, such as `db_cluster.main`",
                    )
                    .with_optional_hint(derived),
            );
            return None;
        };
        let Some(resource) = find_resource(resources, kind, name) else {
            let known: Vec<String> = resources
                .iter()
                .map(|r| kinds::address(r.kind, &r.name))
                .collect();
            self.report(
                Diagnostic::error(format!(
                    "a declared difference names unknown resource `{text}`"
                ))
                .at(address.span, format!("no `[{text}]` in the spec"))
                .with_hint(suggest::unknown_name_hint(
                    text,
                    known.iter().map(String::as_str),
                    "resources",
                )),
            );
            return None;
        };
        let field_name = raw.field.as_ref()?;
        let Some(field) = kind.field(&field_name.value) else {
            let known: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
            self.report(
                Diagnostic::error(format!(
                    "unknown field `{}` in the difference of `{text}`",
                    field_name.value
                ))
                .at(
                    field_name.span,
                    format!("`{}` has no such field", kind.as_str()),
                )
                .with_hint(
                    suggest::did_you_mean(&field_name.value, known.iter().copied()).unwrap_or_else(
                        || format!("`{}` has {}", kind.as_str(), suggest::backticked(&known)),
                    ),
                ),
            );
            return None;
        };
        if field.scale {
            self.report(
                Diagnostic::error(format!(
                    "`{}` is a scale field: environments set it without declaring a difference",
                    field.name
                ))
                .at(field_name.span, "a scale field")
                .with_hint(format!(
                    "remove this entry and set it per environment:\n[environments.production]\n\
                     {text} = {{ {} = ... }}",
                    field.name
                )),
            );
            return None;
        }
        Some((kind, resource, field))
    }

    fn check_configurations(
        &mut self,
        project: Option<&str>,
        resources: &[Resource],
        environments: &[Environment],
        differences: &[DeclaredDifference],
    ) {
        let mut seen: HashSet<(String, Option<(usize, usize)>)> = HashSet::new();
        let key = |d: &Diagnostic| (d.summary.clone(), d.span.map(|s| (s.start, s.end)));
        let base = Configuration::new(resources, None, differences);
        let mut found = Vec::new();
        check_configuration(&base, project, &mut found);
        for diagnostic in found {
            seen.insert(key(&diagnostic));
            self.report(diagnostic);
        }
        for environment in environments {
            let configuration = Configuration::new(resources, Some(environment), differences);
            let mut found = Vec::new();
            check_configuration(&configuration, project, &mut found);
            for diagnostic in found {
                if seen.insert(key(&diagnostic)) {
                    let hint = format!(
                        "found in environment `{}`, with its overrides and declared differences",
                        environment.settings.name
                    );
                    self.report(diagnostic.with_hint(hint));
                }
            }
        }
    }

    fn warn_about_differences(
        &mut self,
        differences: &[CheckedDifference],
        resources: &[Resource],
        environments: &[Environment],
    ) {
        for difference in differences {
            let declared = &difference.declared;
            let address = kinds::address(declared.kind, &declared.resource);
            if let Some(expires) = &difference.expires {
                let days = self.today.days_until(expires.value);
                if (0..=EXPIRY_WARNING_DAYS).contains(&days) {
                    let owner = difference.owner.as_deref().unwrap_or("its owner");
                    self.report(
                        Diagnostic::warning(format!(
                            "the difference in `{}` of `{address}` expires in {days} day{}",
                            declared.field,
                            if days == 1 { "" } else { "s" }
                        ))
                        .at(expires.span, format!("expires on {}", expires.value))
                        .with_hint(format!(
                            "make the environments converge, or agree on a new date with `{owner}`"
                        )),
                    );
                }
            }
            if declared.values.is_empty() || difference.public.is_none() {
                continue;
            }
            let base = find_resource(resources, declared.kind, &declared.resource)
                .and_then(|r| r.fields.get(declared.field))
                .map(|v| v.value.to_value());
            let effective: Vec<Option<Value>> = environments
                .iter()
                .map(|env| {
                    declared
                        .values
                        .iter()
                        .find(|(name, _)| *name == env.settings.name)
                        .map(|(_, v)| v.value.to_value())
                        .or_else(|| base.clone())
                })
                .collect();
            let Some(first) = effective.first() else {
                continue;
            };
            if effective.iter().all(|v| v == first) {
                let shown = first
                    .as_ref()
                    .map_or("no value".to_string(), |v| format!("`{v}`"));
                let fix = match (first, &base) {
                    (Some(value), base) if Some(value) != base.as_ref() => format!(
                        "set `{} = {}` on `[{address}]` and remove this entry",
                        declared.field,
                        declared
                            .values
                            .first()
                            .map_or(value.to_string(), |(_, v)| v.value.to_toml())
                    ),
                    _ => "remove this entry".to_string(),
                };
                self.report(
                    Diagnostic::warning(format!(
                        "the difference in `{}` of `{address}` declares no difference",
                        declared.field
                    ))
                    .at(
                        difference.values_span,
                        format!("every environment gets {shown}"),
                    )
                    .with_hint(fix),
                );
            }
        }
    }
}

/// "the difference in `field` of `resource`" when the entry names both, else "a declared
/// difference".
fn difference_subject(raw: &RawDifference) -> String {
    match (&raw.resource, &raw.field) {
        (Some(resource), Some(field)) => {
            format!(
                "the difference in `{}` of `{}`",
                field.value, resource.value
            )
        }
        _ => "a declared difference".to_string(),
    }
}

/// Every check that needs several resources, on one configuration: the generic ones here, each
/// kind's own in its file of [`crate::kinds`].
fn check_configuration(
    configuration: &Configuration<'_>,
    project: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    for resource in &configuration.resources {
        check_references(configuration, resource, out);
        resource.kind().check(configuration, resource, out);
        if let (Some(project), Some(environment)) = (project, configuration.environment) {
            check_cloud_name(project, environment, resource, out);
        }
    }
    for kind in SpecKind::ALL {
        kind.check_all(configuration, out);
    }
}

/// Every name a resource references exists.
fn check_references(
    configuration: &Configuration<'_>,
    resource: &Configured<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let address = kinds::address(resource.kind(), resource.name());
    for (field, value) in &resource.fields {
        let names: Vec<(SpecKind, &Sp<String>)> = match &value.value {
            FieldValue::Ref { kind, name, .. } => vec![(*kind, name)],
            FieldValue::RefList { kind, names, .. } => names.iter().map(|n| (*kind, n)).collect(),
            FieldValue::Rules(rules) => rules
                .iter()
                .filter_map(|rule| match &rule.target {
                    RuleTarget::Group(name) => Some((security_group::KIND, name)),
                    RuleTarget::Cidr(_) => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for (kind, name) in names {
            if configuration.get(kind, &name.value).is_some() {
                continue;
            }
            let written = name.value.as_str();
            let alone = written
                .strip_prefix(kind.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|alone| configuration.get(kind, alone).is_some())
                .map(|alone| format!("write the name alone: `{alone}`"));
            let hint = alone.unwrap_or_else(|| {
                suggest::unknown_name_hint(written, configuration.names(kind), kind.plural())
            });
            out.push(
                Diagnostic::error(format!(
                    "`{field}` of `{address}` names unknown {} `{written}`",
                    kind.singular()
                ))
                .at(
                    name.span,
                    format!("no `[{}]` in the spec", kinds::address(kind, written)),
                )
                .with_hint(hint),
            );
        }
    }
}

/// `{project}-{env}-{name}[-{i}]` stays within AWS's 63 characters.
fn check_cloud_name(
    project: &str,
    environment: &str,
    resource: &Configured<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let base = format!("{project}-{environment}-{}", resource.name());
    let longest = match resource.kind().count_field() {
        Some(_) if resource.count() >= 1 => format!("{base}-{}", resource.count() - 1),
        _ => base,
    };
    let length = longest.chars().count();
    if length > formats::MAX_CLOUD_NAME_LEN {
        out.push(
            Diagnostic::error(format!(
                "cloud name `{longest}` is {length} characters long"
            ))
            .at(
                resource.resource.name_span,
                format!("AWS allows at most {}", formats::MAX_CLOUD_NAME_LEN),
            )
            .with_hint("shorten the project, environment or resource name"),
        );
    }
}

/// Every cycle of a directed graph given as adjacency lists, each as its nodes in order,
/// starting where the search entered it. Iterative, so deep graphs cannot overflow the stack.
pub(crate) fn find_cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; edges.len()];
    let mut cycles = Vec::new();
    for root in 0..edges.len() {
        if state.get(root) != Some(&State::New) {
            continue;
        }
        // The current path, each node with the index of its next edge to follow.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        if let Some(s) = state.get_mut(root) {
            *s = State::OnPath;
        }
        while let Some((node, next)) = path.last().copied() {
            let target = edges
                .get(node)
                .and_then(|targets| targets.get(next))
                .copied();
            let Some(target) = target else {
                if let Some(s) = state.get_mut(node) {
                    *s = State::Done;
                }
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            match state.get(target) {
                Some(State::New) => {
                    if let Some(s) = state.get_mut(target) {
                        *s = State::OnPath;
                    }
                    path.push((target, 0));
                }
                Some(State::OnPath) => {
                    if let Some(start) = path.iter().position(|&(n, _)| n == target) {
                        cycles.push(path.iter().skip(start).map(|&(n, _)| n).collect());
                    }
                }
                _ => {}
            }
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::find_cycles;

    #[test]
    fn finds_each_cycle_once() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3 is not given (self edges are filtered out earlier), 4 -> 0.
        let edges = vec![vec![1], vec![2], vec![0], vec![], vec![0]];
        assert_eq!(find_cycles(&edges), vec![vec![0, 1, 2]]);
        assert!(find_cycles(&[vec![1], vec![2], vec![]]).is_empty());
    }

    #[test]
    fn deep_chains_do_not_overflow_the_stack() {
        let n = 200_000;
        let edges: Vec<Vec<usize>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
        assert_eq!(find_cycles(&edges).len(), 1);
    }
}
