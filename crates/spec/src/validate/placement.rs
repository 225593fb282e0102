//! Where each environment lives and how it is reached: `account_id`, `region`, `role_arn`
//! (with `external_id`, `session_name`), `profile` and `lock_bucket` of
//! `[environments.NAME]`, and the one declared difference that is not a resource's:
//! `resource = "project"`, `field = "region"`.
//!
//! Invariants: an environment whose region is not the project's is rejected unless the
//! region difference is declared with that region for it; a subnet zone written in full must
//! belong to the region of every environment (else the suffix form `zone = "a"` is the
//! hint); account, role, profile and lock bucket are where an environment lives, not what it
//! is, so they are never differences and never reach the parity digest.

use std::collections::BTreeMap;

use super::Validator;
use crate::diagnostic::Diagnostic;
use crate::formats;
use crate::kinds::FieldValue;
use crate::model::Value;
use crate::raw::{RawDifference, RawEnvironment, RawValue, Sp};
use crate::spec::{Difference, Environment, Resource};

impl Validator<'_> {
    /// The valid placement settings of `env`, by key; each invalid one is reported at its
    /// value.
    pub(super) fn placement(&mut self, env: &RawEnvironment) -> BTreeMap<&'static str, String> {
        let name = env.name.value.as_str();
        let mut valid = BTreeMap::new();
        for (key, value) in &env.placement {
            let text = value.value.as_str();
            let problem: Option<(String, String)> = match *key {
                "account_id" => (!formats::is_account_id(text)).then(|| {
                    (
                        format!("`{text}` is not an AWS account id"),
                        "expected 12 digits, such as \"111111111111\"".to_string(),
                    )
                }),
                "region" => (!formats::is_region(text)).then(|| {
                    (
                        format!("`{text}` is not an AWS region"),
                        "expected a region such as `us-west-2`".to_string(),
                    )
                }),
                "role_arn" => formats::role_arn_account(text).is_none().then(|| {
                    (
                        format!("`{text}` is not an IAM role ARN"),
                        "expected `arn:aws:iam::ACCOUNT:role/NAME`".to_string(),
                    )
                }),
                "external_id" => (!formats::is_sts_text(text, 2, 1224, "_+=,.@:/-")).then(|| {
                    (
                        format!("`{text}` is not an external id"),
                        "expected 2 to 1224 letters, digits or `_+=,.@:/-`".to_string(),
                    )
                }),
                "session_name" => (!formats::is_sts_text(text, 2, 64, "_+=,.@-")).then(|| {
                    (
                        format!("`{text}` is not a role session name"),
                        "expected 2 to 64 letters, digits or `_+=,.@-`".to_string(),
                    )
                }),
                "profile" => text.trim().is_empty().then(|| {
                    (
                        "the profile of an environment is empty".to_string(),
                        "name a profile of the AWS CLI's config".to_string(),
                    )
                }),
                "lock_bucket" => formats::check_bucket_name(text)
                    .err()
                    .map(|label| (format!("`{text}` is not an S3 bucket name"), label)),
                _ => None,
            };
            match problem {
                Some((message, label)) => self.report(
                    Diagnostic::error(format!("{message} (in environment `{name}`)"))
                        .at(value.span, label),
                ),
                None => {
                    valid.insert(*key, text.to_string());
                }
            }
        }
        for key in ["external_id", "session_name"] {
            if let Some(value) = env.placement.get(key)
                && !env.placement.contains_key("role_arn")
            {
                self.report(
                    Diagnostic::error(format!(
                        "`{key}` of environment `{name}` is for a role, and it assumes none"
                    ))
                    .at(value.span, "used only with `role_arn`")
                    .with_hint("add `role_arn = \"arn:aws:iam::ACCOUNT:role/NAME\"`, or drop it"),
                );
                valid.remove(key);
            }
        }
        if let (Some(account), Some(role)) =
            (valid.get("account_id"), env.placement.get("role_arn"))
            && let Some(role_account) = formats::role_arn_account(&role.value)
            && role_account != account
        {
            self.report(
                Diagnostic::error(format!(
                    "the role of environment `{name}` is in account {role_account}, but the environment lives in {account}"
                ))
                .at(role.span, format!("a role of account {role_account}"))
                .with_hint(format!(
                    "use a role of account {account}, or correct `account_id`"
                )),
            );
            valid.remove("role_arn");
        }
        valid
    }

    /// The declared difference of `project` `region`: its field, and a valid region for each
    /// environment it names. `before` is where this entry's diagnostics start.
    pub(super) fn project_difference(
        &mut self,
        raw: &RawDifference,
        environments: &[Environment],
        before: usize,
    ) {
        if let Some(field) = &raw.field
            && field.value != "region"
        {
            self.report(
                Diagnostic::error(format!(
                    "`{}` of `project` cannot differ between environments",
                    field.value
                ))
                .at(field.span, "only `region` of `project` may differ")
                .with_hint("declare differences of resources as `resource = \"KIND.NAME\"`"),
            );
            return;
        }
        let mut regions = BTreeMap::new();
        for entry in raw.values.iter().flat_map(|values| values.value.iter()) {
            let env = entry.key.value.as_str();
            if !environments.iter().any(|e| e.settings.name == env) {
                self.report(
                    Diagnostic::error(format!(
                        "unknown environment `{env}` in the difference of `region` of `project`"
                    ))
                    .at(entry.key.span, "no such environment"),
                );
                continue;
            }
            match &entry.value.value {
                RawValue::String(text) if formats::is_region(text) => {
                    regions.insert(env.to_string(), Sp::new(text.clone(), entry.value.span));
                }
                _ => self.report(
                    Diagnostic::error(format!("the region of `{env}` is not an AWS region"))
                        .at(entry.value.span, "expected a region such as `us-west-2`"),
                ),
            }
        }
        let complete = self.diagnostics[before..].iter().all(|d| !d.is_error());
        if let (Some(reason), Some(risk), Some(owner), Some(expires), true) =
            (&raw.reason, &raw.risk, &raw.owner, &raw.expires, complete)
        {
            let difference = Difference {
                resource: "project".to_string(),
                field: "region".to_string(),
                values: regions
                    .iter()
                    .map(|(env, region)| (env.clone(), Value::Str(region.value.clone())))
                    .collect(),
                reason: reason.value.clone(),
                risk: risk.value.clone(),
                owner: owner.value.clone(),
                expires: expires.value,
            };
            self.region_difference = Some((difference, regions));
        }
    }

    /// Each environment's region is the project's or declared; full zone names fit every
    /// environment's region.
    pub(super) fn check_regions(
        &mut self,
        environments: &mut [Environment],
        own_regions: &[(String, Sp<String>)],
        resources: &[Resource],
        project_region: Option<&str>,
    ) {
        let declared = self
            .region_difference
            .as_ref()
            .map(|(_, regions)| regions.clone())
            .unwrap_or_default();
        for (env, own) in own_regions {
            if !formats::is_region(&own.value) || Some(own.value.as_str()) == project_region {
                if let Some(declared) = declared.get(env)
                    && declared.value != own.value
                {
                    self.region_mismatch(env, own, declared);
                }
                continue;
            }
            match declared.get(env) {
                Some(declared) if declared.value == own.value => {}
                Some(declared) => self.region_mismatch(env, own, declared),
                None => self.report(
                    Diagnostic::error(format!(
                        "environment `{env}` is in region `{}`, but the project's is `{}`: a difference that is not declared",
                        own.value,
                        project_region.unwrap_or_default()
                    ))
                    .at(own.span, "not the project's region")
                    .with_hint(format!(
                        "declare it:\n[[differences]]\nresource = \"project\"\nfield = \"region\"\nvalues = {{ {env} = \"{}\" }}\nreason = \"...\"\nrisk = \"...\"\nowner = \"...\"\nexpires = {}",
                        own.value,
                        self.today.plus_days(90)
                    )),
                ),
            }
        }
        // A region declared for an environment that does not set it is its region.
        for environment in environments.iter_mut() {
            if !own_regions
                .iter()
                .any(|(env, _)| *env == environment.settings.name)
                && let Some(declared) = declared.get(&environment.settings.name)
            {
                environment.settings.region = declared.value.clone();
            }
        }
        let regions: Vec<(String, String)> = environments
            .iter()
            .map(|e| (e.settings.name.clone(), e.settings.region.clone()))
            .collect();
        for resource in resources
            .iter()
            .filter(|r| r.kind == crate::kinds::subnet::KIND)
        {
            let Some(zone) = resource.fields.get("zone") else {
                continue;
            };
            let FieldValue::Text(text) = &zone.value else {
                continue;
            };
            if formats::is_zone_suffix(text) {
                continue;
            }
            if let Some((env, region)) = regions
                .iter()
                .find(|(_, region)| !formats::is_zone_of(text, region))
            {
                let suffix = text.chars().last().unwrap_or('a');
                self.report(
                    Diagnostic::error(format!(
                        "zone `{text}` of `subnet.{}` is not in region `{region}` of environment `{env}`",
                        resource.name
                    ))
                    .at(zone.span, "a zone of one region")
                    .with_hint(format!(
                        "environments differ in region: write the zone as a suffix: zone = \"{suffix}\""
                    )),
                );
            }
        }
    }

    /// Environments in different accounts never share a lock bucket: S3 bucket names are
    /// global, so only one account can have it.
    pub(super) fn check_lock_buckets(
        &mut self,
        environments: &[Environment],
        project_bucket: Option<crate::model::Span>,
    ) {
        let Some(span) = project_bucket else {
            return;
        };
        let mut owners: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for environment in environments {
            let settings = &environment.settings;
            let (Some(bucket), Some(account)) = (&settings.lock_bucket, &settings.account_id)
            else {
                continue;
            };
            match owners.get(bucket.as_str()) {
                Some((first, first_account)) if first_account != account => {
                    self.report(
                        Diagnostic::error(format!(
                            "environments `{first}` and `{}` live in accounts {first_account} and {account} but share lock bucket `{bucket}`",
                            settings.name
                        ))
                        .at(span, "one bucket for both")
                        .with_hint(format!(
                            "S3 bucket names are global, so only one account can have it: give each environment its own `lock_bucket` in its account (`lock_bucket = \"{bucket}-{}\"` in `[environments.{}]`)",
                            settings.name, settings.name
                        )),
                    );
                    return;
                }
                Some(_) => {}
                None => {
                    owners.insert(bucket, (&settings.name, account));
                }
            }
        }
    }

    fn region_mismatch(&mut self, env: &str, own: &Sp<String>, declared: &Sp<String>) {
        self.report(
            Diagnostic::error(format!(
                "environment `{env}` is in region `{}`, but its declared region is `{}`",
                own.value, declared.value
            ))
            .at(own.span, "not the declared region")
            .with_hint(format!(
                "make the two agree (the declared one is at line {})",
                self.source.line_col(declared.span.start).0
            )),
        );
    }
}
