//! Stage one: the TOML document, walked by hand into spanned raw types that mirror it.
//!
//! Owns the structure of a spec file: which top-level tables exist, the keys of `[project]`,
//! `[environments.NAME]` and `[[differences]]` (the [`TableKey`] tables, with the type the
//! reader checks for each, from which the JSON Schema is generated), and which field names each
//! resource kind has (asked of [`crate::kinds`]). Invariants:
//! - the key tables list exactly the keys the reader accepts, with the types it checks
//!   (`tests/schema.rs` holds the reader and the generated schema to that);
//! - every TOML syntax error becomes a diagnostic, and then nothing else is read: the rest of a
//!   broken document would only give misleading follow-up errors;
//! - every unknown key becomes a diagnostic (with a did-you-mean hint when one is close) and is
//!   dropped; every value of the wrong type becomes a diagnostic and is dropped, so later
//!   stages see only keys they know, with values of the right TOML type;
//! - resource field values stay untyped ([`RawValue`]): their types and checks belong to the
//!   field schema, which also reads them in overrides and declared differences.
//!
//! The document is parsed with `toml::de::DeTable::parse_recoverable`, which reports every
//! syntax error with its span; no serde deserialisation is involved, so one problem never hides
//! the next.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::date::CivilDate;
use crate::diagnostic::Diagnostic;
use crate::kinds::{self, FieldDef, SpecKind};
use crate::model::Span;
use crate::source::SourceFile;
use crate::suggest;

/// A value and where it was written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub(crate) fn new(value: T, span: Span) -> Sp<T> {
        Sp { value, span }
    }
}

/// A TOML value, owned and spanned, with nothing interpreted yet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    String(String),
    /// `None` when the integer does not fit in an `i64`.
    Integer(Option<i64>),
    /// `None` when it is not finite (`inf`, `nan`).
    Float(Option<f64>),
    Boolean(bool),
    /// A local date such as `2027-06-30`.
    Date(CivilDate),
    /// Any other date-time form; the text says which ("a date-time", "a time").
    OtherDatetime(&'static str),
    Array(Vec<Sp<RawValue>>),
    Table(Vec<RawEntry>),
}

impl RawValue {
    /// "a string", "an integer", ...: how messages name the type found.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            RawValue::String(_) => "a string",
            RawValue::Integer(_) => "an integer",
            RawValue::Float(_) => "a float",
            RawValue::Boolean(_) => "a boolean",
            RawValue::Date(_) => "a date",
            RawValue::OtherDatetime(what) => what,
            RawValue::Array(_) => "an array",
            RawValue::Table(_) => "a table",
        }
    }
}

/// One `key = value` of a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawEntry {
    pub key: Sp<String>,
    pub value: Sp<RawValue>,
}

/// The error for a value of the wrong TOML type.
pub(crate) fn wrong_type(
    subject: &str,
    expected: &str,
    found: &RawValue,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(format!("wrong type for {subject}")).at(
        span,
        format!("expected {expected}, found {}", found.describe()),
    )
}

/// The whole spec, as written.
#[derive(Debug, Default)]
pub(crate) struct RawSpec {
    pub project: Option<RawProject>,
    /// `None` when there is no `[environments]` table at all.
    pub environments: Option<Sp<Vec<RawEnvironment>>>,
    pub differences: Vec<RawDifference>,
    pub resources: Vec<RawResource>,
    /// `[compliance]`, as written (checked by `validate::compliance`).
    pub compliance: Option<Sp<RawValue>>,
    /// `[[probes]]`, as written (checked by `validate::compliance`).
    pub probes: Option<Sp<RawValue>>,
}

#[derive(Debug, Default)]
pub(crate) struct RawProject {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub region: Option<Sp<String>>,
    pub tags: Vec<(Sp<String>, Sp<String>)>,
    pub lock_bucket: Option<Sp<String>>,
}

/// `[environments.NAME]`.
#[derive(Debug)]
pub(crate) struct RawEnvironment {
    pub name: Sp<String>,
    pub protected: Option<Sp<bool>>,
    pub promote_from: Option<Sp<String>>,
    pub require_verified: Option<Sp<bool>>,
    /// Where the environment lives and how it is reached (`account_id`, `region`, `role_arn`,
    /// `external_id`, `session_name`, `profile`, `lock_bucket`), by key.
    pub placement: BTreeMap<&'static str, Sp<String>>,
    pub overrides: Vec<RawOverride>,
}

/// `KIND.RES = { field = value, ... }` inside an environment.
#[derive(Debug)]
pub(crate) struct RawOverride {
    pub kind: SpecKind,
    pub resource: Sp<String>,
    /// Covers `KIND.RES` when both are written on one line, else `RES`.
    pub address_span: Span,
    pub fields: Vec<RawField>,
}

/// A field whose name the kind knows, with its value untyped.
#[derive(Debug)]
pub(crate) struct RawField {
    pub def: &'static FieldDef,
    pub key: Sp<String>,
    pub value: Sp<RawValue>,
}

/// One `[[differences]]` entry; each part is `None` when missing (or of the wrong type).
#[derive(Debug, Default)]
pub(crate) struct RawDifference {
    pub span: Span,
    /// Every key written in the entry, known or not, valid or not.
    pub keys: Vec<String>,
    pub resource: Option<Sp<String>>,
    pub field: Option<Sp<String>>,
    pub values: Option<Sp<Vec<RawEntry>>>,
    pub reason: Option<Sp<String>>,
    pub risk: Option<Sp<String>>,
    pub owner: Option<Sp<String>>,
    pub expires: Option<Sp<CivilDate>>,
}

/// `[KIND.NAME]`.
#[derive(Debug)]
pub(crate) struct RawResource {
    pub kind: SpecKind,
    pub name: Sp<String>,
    pub span: Span,
    pub fields: Vec<RawField>,
    /// Fields an unknown key was probably meant to be (`ami` for `amii`): already reported,
    /// so not reported again as missing.
    pub misspelt: Vec<&'static str>,
}

/// The top-level keys besides the resource kinds.
pub(crate) const TOP_LEVEL: [&str; 5] = [
    "project",
    "environments",
    "differences",
    "compliance",
    "probes",
];

/// The TOML type the reader expects for a key of a fixed table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    /// A string.
    Text,
    /// A boolean.
    Flag,
    /// A table whose values are strings (`tags`).
    TextTable,
    /// A table of field values by environment name (`values` of a difference).
    ValuesByEnvironment,
    /// A local date such as `2027-06-30`.
    Date,
}

/// A key of `[project]`, `[environments.NAME]` or `[[differences]]`: what the reader accepts
/// there, with the type it checks (the JSON Schema is generated from these tables).
#[derive(Debug)]
pub(crate) struct TableKey {
    pub name: &'static str,
    pub value: KeyType,
    /// Whether leaving the key out is an error.
    pub required: bool,
    /// What the key is for, in one line.
    pub about: &'static str,
}

/// The keys of `[project]`.
pub(crate) const PROJECT_KEYS: [TableKey; 4] = [
    TableKey {
        name: "name",
        value: KeyType::Text,
        required: true,
        about: "the project's name, part of every cloud name",
    },
    TableKey {
        name: "region",
        value: KeyType::Text,
        required: true,
        about: "the AWS region of every environment, such as `us-east-1`",
    },
    TableKey {
        name: "tags",
        value: KeyType::TextTable,
        required: false,
        about: "tags put on every resource, such as `{ team = \"platform\" }`",
    },
    TableKey {
        name: "lock_bucket",
        value: KeyType::Text,
        required: false,
        about: "an S3 bucket holding one lock per environment, so that two runs never change \
                an environment at once",
    },
];

/// The keys of `[environments.NAME]` besides the scale overrides (`KIND.NAME = { ... }`).
pub(crate) const ENVIRONMENT_KEYS: [TableKey; 10] = [
    TableKey {
        name: "protected",
        value: KeyType::Flag,
        required: false,
        about: "destroy, replace and delete need the environment's name typed or `--confirm ENV`",
    },
    TableKey {
        name: "promote_from",
        value: KeyType::Text,
        required: false,
        about: "an environment that must have converged on the same spec before this one changes",
    },
    TableKey {
        name: "require_verified",
        value: KeyType::Flag,
        required: false,
        about: "with `promote_from`: the upstream environment must also hold a passed `envctl \
                verify` at this spec's parity digest, newer than its last change (default true)",
    },
    TableKey {
        name: "account_id",
        value: KeyType::Text,
        required: false,
        about: "the AWS account the environment lives in (12 digits): credentials for another \
                account are refused before any change",
    },
    TableKey {
        name: "region",
        value: KeyType::Text,
        required: false,
        about: "the environment's region, when it is not the project's (a declared difference \
                of `project` `region`)",
    },
    TableKey {
        name: "role_arn",
        value: KeyType::Text,
        required: false,
        about: "an IAM role assumed for every call to the environment",
    },
    TableKey {
        name: "external_id",
        value: KeyType::Text,
        required: false,
        about: "the external id the role's trust policy asks for (with `role_arn`)",
    },
    TableKey {
        name: "session_name",
        value: KeyType::Text,
        required: false,
        about: "the role session's name, as CloudTrail shows it (with `role_arn`)",
    },
    TableKey {
        name: "profile",
        value: KeyType::Text,
        required: false,
        about: "an AWS CLI profile whose credentials reach the environment",
    },
    TableKey {
        name: "lock_bucket",
        value: KeyType::Text,
        required: false,
        about: "the S3 bucket holding the environment's lock, in its own account (default: the \
                project's)",
    },
];

/// The keys of [`ENVIRONMENT_KEYS`] that say where an environment lives and how it is
/// reached.
pub(crate) const PLACEMENT_KEYS: [&str; 7] = [
    "account_id",
    "region",
    "role_arn",
    "external_id",
    "session_name",
    "profile",
    "lock_bucket",
];

/// The keys of a `[[differences]]` entry, all required.
pub(crate) const DIFFERENCE_KEYS: [TableKey; 7] = [
    TableKey {
        name: "resource",
        value: KeyType::Text,
        required: true,
        about: "the resource whose field differs, such as `db_cluster.main`",
    },
    TableKey {
        name: "field",
        value: KeyType::Text,
        required: true,
        about: "the field that differs, such as `backup_retention_days`",
    },
    TableKey {
        name: "values",
        value: KeyType::ValuesByEnvironment,
        required: true,
        about: "the field's value in each environment that departs from the spec",
    },
    TableKey {
        name: "reason",
        value: KeyType::Text,
        required: true,
        about: "why the environments must differ",
    },
    TableKey {
        name: "risk",
        value: KeyType::Text,
        required: true,
        about: "what could go wrong because they differ",
    },
    TableKey {
        name: "owner",
        value: KeyType::Text,
        required: true,
        about: "who answers for the difference",
    },
    TableKey {
        name: "expires",
        value: KeyType::Date,
        required: true,
        about: "when the difference must end: after it the spec is rejected",
    },
];

/// The names of `keys`.
pub(crate) fn key_names(keys: &[TableKey]) -> Vec<&'static str> {
    keys.iter().map(|key| key.name).collect()
}

/// Reads the document; `None` when it has syntax errors or is empty (both reported).
pub(crate) fn read(source: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Option<RawSpec> {
    let (document, errors) = DeTable::parse_recoverable(&source.text);
    if !errors.is_empty() {
        diagnostics.extend(errors.iter().map(|e| syntax_error(e, source)));
        return None;
    }
    let root = convert_table(document.get_ref());
    if root.is_empty() {
        diagnostics.push(Diagnostic::error("the spec is empty").with_hint(
            "a minimal spec:\n[project]\nname = \"webapp\"\nregion = \"us-east-1\"\n\n\
                 [environments.staging]",
        ));
        return None;
    }
    let mut reader = Reader {
        source,
        diagnostics,
        spec: RawSpec::default(),
    };
    for entry in &root {
        reader.top_level(entry);
    }
    Some(reader.spec)
}

fn syntax_error(error: &toml::de::Error, source: &SourceFile) -> Diagnostic {
    let message = error
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .trim();
    let message = message.trim_end_matches('.');
    let mut chars = message.chars();
    let summary = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect::<String>(),
        None => "invalid TOML".to_string(),
    };
    let span = error.span().map(|range| {
        let end = range.end.min(source.text.len());
        Span {
            start: range.start.min(end),
            end,
        }
    });
    let key = span
        .filter(|_| summary == "duplicate key")
        .and_then(|span| source.slice(span))
        .filter(|key| !key.is_empty() && !key.contains('\n'));
    let diagnostic = match key {
        Some(key) => Diagnostic::error(format!("invalid TOML: duplicate key `{key}`"))
            .with_hint("a key may be set only once in a table"),
        None => Diagnostic::error(format!("invalid TOML: {summary}")),
    };
    match span {
        Some(span) => diagnostic.at_span(span),
        None => diagnostic,
    }
}

fn span_of<T>(value: &Spanned<T>) -> Span {
    let range = value.span();
    Span {
        start: range.start,
        end: range.end,
    }
}

fn convert(value: &Spanned<DeValue<'_>>) -> Sp<RawValue> {
    let raw = match value.get_ref() {
        DeValue::String(text) => RawValue::String(text.to_string()),
        DeValue::Integer(number) => {
            let radix = number.radix();
            RawValue::Integer(if (2..=36).contains(&radix) {
                i64::from_str_radix(number.as_str(), radix).ok()
            } else {
                None
            })
        }
        DeValue::Float(number) => RawValue::Float(
            number
                .as_str()
                .replace('_', "")
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite()),
        ),
        DeValue::Boolean(flag) => RawValue::Boolean(*flag),
        DeValue::Datetime(datetime) => match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => {
                match CivilDate::new(i32::from(date.year), date.month, date.day) {
                    Some(date) => RawValue::Date(date),
                    None => RawValue::OtherDatetime("an invalid date"),
                }
            }
            (None, Some(_), _) => RawValue::OtherDatetime("a time"),
            _ => RawValue::OtherDatetime("a date-time"),
        },
        DeValue::Array(items) => RawValue::Array(items.iter().map(convert).collect()),
        DeValue::Table(table) => RawValue::Table(convert_table(table)),
    };
    Sp::new(raw, span_of(value))
}

fn convert_table(table: &DeTable<'_>) -> Vec<RawEntry> {
    table
        .iter()
        .map(|(key, value)| RawEntry {
            key: Sp::new(key.get_ref().to_string(), span_of(key)),
            value: convert(value),
        })
        .collect()
}

struct Reader<'d> {
    source: &'d SourceFile,
    diagnostics: &'d mut Vec<Diagnostic>,
    spec: RawSpec,
}

impl Reader<'_> {
    /// `KIND.RES` as one span when the source has `KIND.` right before the resource key
    /// (`instance.app = ...`, `[environments.production.instance.app]`), else the key alone.
    fn address_span(&self, kind: SpecKind, resource_key: Span) -> Span {
        let prefix = format!("{}.", kind.as_str());
        let start = resource_key.start.saturating_sub(prefix.len());
        match self.source.text.get(start..resource_key.start) {
            Some(text) if text == prefix => Span {
                start,
                end: resource_key.end,
            },
            _ => resource_key,
        }
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The entries of a table, or a type error naming `subject` and what was `expected`.
    fn table<'v>(
        &mut self,
        value: &'v Sp<RawValue>,
        subject: &str,
        expected: &str,
    ) -> Option<&'v [RawEntry]> {
        match &value.value {
            RawValue::Table(entries) => Some(entries),
            other => {
                self.report(wrong_type(subject, expected, other, value.span));
                None
            }
        }
    }

    fn string(&mut self, value: &Sp<RawValue>, subject: &str) -> Option<Sp<String>> {
        match &value.value {
            RawValue::String(text) => Some(Sp::new(text.clone(), value.span)),
            other => {
                self.report(wrong_type(subject, "a string", other, value.span));
                None
            }
        }
    }

    fn top_level(&mut self, entry: &RawEntry) {
        let key = entry.key.value.as_str();
        match key {
            "project" => self.project(&entry.value),
            "environments" => self.environments(&entry.value),
            "differences" => self.differences(&entry.value),
            "compliance" => self.spec.compliance = Some(entry.value.clone()),
            "probes" => self.spec.probes = Some(entry.value.clone()),
            _ => match SpecKind::parse(key) {
                Some(kind) => self.resources(kind, entry),
                None => self.unknown_top_level(entry),
            },
        }
    }

    fn unknown_top_level(&mut self, entry: &RawEntry) {
        let key = entry.key.value.as_str();
        let span = entry.key.span;
        if let Some(diagnostic) = derived_kind(key, span) {
            self.report(diagnostic);
            return;
        }
        let kinds: Vec<&str> = SpecKind::ALL.iter().map(|k| k.as_str()).collect();
        let candidates = TOP_LEVEL.iter().copied().chain(kinds.iter().copied());
        let is_table = matches!(entry.value.value, RawValue::Table(_));
        let diagnostic = if is_table {
            Diagnostic::error(format!("unknown table `{key}`")).at(span, "not a resource kind")
        } else {
            Diagnostic::error(format!("unknown key `{key}` at the top of the spec"))
                .at(span, "not part of any table")
        };
        let diagnostic = diagnostic
            .with_optional_hint(suggest::did_you_mean(key, candidates))
            .with_optional_hint(
                PROJECT_KEYS
                    .iter()
                    .any(|known| known.name == key)
                    .then(|| format!("`{key}` belongs in the `[project]` table")),
            )
            .with_hint(format!(
                "the resource kinds are {}",
                suggest::backticked(&kinds)
            ));
        self.report(diagnostic);
    }

    fn project(&mut self, value: &Sp<RawValue>) {
        let Some(entries) = self.table(value, "`project`", "a table") else {
            return;
        };
        let mut project = RawProject {
            span: value.span,
            ..RawProject::default()
        };
        for entry in entries {
            let subject = format!("`{}` in `[project]`", entry.key.value);
            match entry.key.value.as_str() {
                "name" => project.name = self.string(&entry.value, &subject),
                "region" => project.region = self.string(&entry.value, &subject),
                "lock_bucket" => project.lock_bucket = self.string(&entry.value, &subject),
                "tags" => {
                    let expected = "a table of tags such as `{ team = \"platform\" }`";
                    let Some(tags) = self.table(&entry.value, &subject, expected) else {
                        continue;
                    };
                    for tag in tags {
                        let tag_subject = format!("tag `{}`", tag.key.value);
                        if let Some(value) = self.string(&tag.value, &tag_subject) {
                            project.tags.push((tag.key.clone(), value));
                        }
                    }
                }
                unknown => {
                    self.unknown_key(
                        &entry.key,
                        unknown,
                        "`[project]`",
                        &key_names(&PROJECT_KEYS),
                    );
                }
            }
        }
        self.spec.project = Some(project);
    }

    fn unknown_key(&mut self, key: &Sp<String>, name: &str, place: &str, known: &[&str]) {
        let hint = suggest::did_you_mean(name, known.iter().copied())
            .unwrap_or_else(|| format!("{place} may set {}", suggest::backticked(known)));
        self.report(
            Diagnostic::error(format!("unknown field `{name}` in {place}"))
                .at(key.span, "unknown field")
                .with_hint(hint),
        );
    }

    fn environments(&mut self, value: &Sp<RawValue>) {
        let expected = "a table of environments such as `[environments.staging]`";
        let Some(entries) = self.table(value, "`environments`", expected) else {
            return;
        };
        let mut environments = Vec::new();
        for entry in entries {
            let subject = format!("environment `{}`", entry.key.value);
            let Some(settings) = self.table(&entry.value, &subject, "a table") else {
                continue;
            };
            let mut environment = RawEnvironment {
                name: entry.key.clone(),
                protected: None,
                promote_from: None,
                require_verified: None,
                placement: BTreeMap::new(),
                overrides: Vec::new(),
            };
            for setting in settings {
                self.environment_setting(&mut environment, setting);
            }
            environments.push(environment);
        }
        self.spec.environments = Some(Sp::new(environments, value.span));
    }

    fn environment_setting(&mut self, environment: &mut RawEnvironment, setting: &RawEntry) {
        let key = setting.key.value.as_str();
        let subject = format!("`{key}` in environment `{}`", environment.name.value);
        match key {
            "protected" => match &setting.value.value {
                RawValue::Boolean(flag) => {
                    environment.protected = Some(Sp::new(*flag, setting.value.span));
                }
                other => self.report(wrong_type(&subject, "a boolean", other, setting.value.span)),
            },
            "promote_from" => environment.promote_from = self.string(&setting.value, &subject),
            "require_verified" => match &setting.value.value {
                RawValue::Boolean(flag) => {
                    environment.require_verified = Some(Sp::new(*flag, setting.value.span));
                }
                other => self.report(wrong_type(&subject, "a boolean", other, setting.value.span)),
            },
            _ if PLACEMENT_KEYS.contains(&key) => {
                if let (Some(known), Some(text)) = (
                    PLACEMENT_KEYS.iter().find(|k| **k == key),
                    self.string(&setting.value, &subject),
                ) {
                    environment.placement.insert(known, text);
                }
            }
            _ => match SpecKind::parse(key) {
                Some(kind) => self.overrides(environment, kind, setting),
                None => self.unknown_environment_setting(environment, setting),
            },
        }
    }

    fn unknown_environment_setting(&mut self, environment: &RawEnvironment, setting: &RawEntry) {
        let key = setting.key.value.as_str();
        let span = setting.key.span;
        if let Some(diagnostic) = derived_kind(key, span) {
            self.report(diagnostic);
            return;
        }
        let kinds = SpecKind::ALL.iter().map(|k| k.as_str());
        let candidates = ENVIRONMENT_KEYS.iter().map(|known| known.name).chain(kinds);
        let scale_kind = SpecKind::ALL
            .into_iter()
            .find(|kind| kind.field(key).is_some_and(|f| f.scale));
        let hint = match (suggest::did_you_mean(key, candidates), scale_kind) {
            (Some(hint), _) => hint,
            (None, Some(kind)) => format!(
                "scale is set per resource: `{}.NAME = {{ {key} = ... }}`",
                kind.as_str()
            ),
            (None, None) => "an environment sets `protected`, `promote_from`, \
                             `require_verified`, where it lives \
                             (`account_id`, `region`, `role_arn`, `external_id`, \
                             `session_name`, `profile`, `lock_bucket`) and scale overrides \
                             such as `instance.NAME = { count = 2 }`"
                .to_string(),
        };
        self.report(
            Diagnostic::error(format!(
                "unknown setting `{key}` in environment `{}`",
                environment.name.value
            ))
            .at(span, "unknown setting")
            .with_hint(hint),
        );
    }

    fn overrides(&mut self, environment: &mut RawEnvironment, kind: SpecKind, setting: &RawEntry) {
        let subject = format!(
            "`{}` in environment `{}`",
            kind.as_str(),
            environment.name.value
        );
        let expected = format!("a table such as `{}.NAME = {{ ... }}`", kind.as_str());
        let Some(resources) = self.table(&setting.value, &subject, &expected) else {
            return;
        };
        for resource in resources {
            let address = kinds::address(kind, &resource.key.value);
            let subject = format!("`{address}` in environment `{}`", environment.name.value);
            let Some(entries) = self.table(&resource.value, &subject, "a table of scale fields")
            else {
                continue;
            };
            let (fields, _) = self.fields(kind, &address, entries);
            environment.overrides.push(RawOverride {
                kind,
                resource: resource.key.clone(),
                address_span: self.address_span(kind, resource.key.span),
                fields,
            });
        }
    }

    /// The entries whose names `kind` knows; the others are reported, and the fields they
    /// were probably meant to be are returned too.
    fn fields(
        &mut self,
        kind: SpecKind,
        address: &str,
        entries: &[RawEntry],
    ) -> (Vec<RawField>, Vec<&'static str>) {
        let mut fields = Vec::new();
        let mut misspelt = Vec::new();
        for entry in entries {
            let name = entry.key.value.as_str();
            match kind.field(name) {
                Some(def) => fields.push(RawField {
                    def,
                    key: entry.key.clone(),
                    value: entry.value.clone(),
                }),
                None => {
                    let known: Vec<&'static str> = kind.fields().iter().map(|f| f.name).collect();
                    let closest = suggest::closest(name, known.iter().copied());
                    misspelt.extend(closest);
                    let hint = match closest {
                        Some(field) => format!("did you mean `{field}`?"),
                        None => format!("`{}` has {}", kind.as_str(), suggest::backticked(&known)),
                    };
                    self.report(
                        Diagnostic::error(format!("unknown field `{name}` in `{address}`"))
                            .at(entry.key.span, "unknown field")
                            .with_hint(hint),
                    );
                }
            }
        }
        (fields, misspelt)
    }

    fn differences(&mut self, value: &Sp<RawValue>) {
        let items = match &value.value {
            RawValue::Array(items) => items,
            other => {
                self.report(
                    wrong_type("`differences`", "an array of tables", other, value.span).with_hint(
                        "write each entry under its own `[[differences]]` (two brackets)",
                    ),
                );
                return;
            }
        };
        for item in items {
            let Some(entries) = self.table(item, "a `[[differences]]` entry", "a table") else {
                continue;
            };
            let mut difference = RawDifference {
                span: item.span,
                ..RawDifference::default()
            };
            for entry in entries {
                self.difference_part(&mut difference, entry);
            }
            self.spec.differences.push(difference);
        }
    }

    fn difference_part(&mut self, difference: &mut RawDifference, entry: &RawEntry) {
        let key = entry.key.value.as_str();
        difference.keys.push(key.to_string());
        let subject = format!("`{key}` in `[[differences]]`");
        let value = &entry.value;
        match key {
            "resource" => difference.resource = self.string(value, &subject),
            "field" => difference.field = self.string(value, &subject),
            "reason" => difference.reason = self.string(value, &subject),
            "risk" => difference.risk = self.string(value, &subject),
            "owner" => difference.owner = self.string(value, &subject),
            "values" => {
                let expected = "a table of values by environment, such as `{ production = 30 }`";
                if let Some(entries) = self.table(value, &subject, expected) {
                    difference.values = Some(Sp::new(entries.to_vec(), value.span));
                }
            }
            "expires" => match &value.value {
                RawValue::Date(date) => difference.expires = Some(Sp::new(*date, value.span)),
                other => {
                    let unquoted = match other {
                        RawValue::String(text) if text.parse::<CivilDate>().is_ok() => {
                            Some(format!("write the date without quotes: `expires = {text}`"))
                        }
                        RawValue::String(text) if text == crate::draft::TODO => Some(
                            "`envctl import` drafted this difference: write the date it is to be gone by, such as `expires = 2027-06-30`"
                                .to_string(),
                        ),
                        _ => None,
                    };
                    self.report(
                        wrong_type(&subject, "a date such as `2027-06-30`", other, value.span)
                            .with_optional_hint(unquoted),
                    );
                }
            },
            unknown => self.unknown_key(
                &entry.key,
                unknown,
                "`[[differences]]`",
                &key_names(&DIFFERENCE_KEYS),
            ),
        }
    }

    fn resources(&mut self, kind: SpecKind, entry: &RawEntry) {
        let RawValue::Table(resources) = &entry.value.value else {
            self.report(wrong_type(
                &format!("`{}`", kind.as_str()),
                &format!("resources written `[{}.NAME]`", kind.as_str()),
                &entry.value.value,
                entry.value.span,
            ));
            return;
        };
        for resource in resources {
            let address = kinds::address(kind, &resource.key.value);
            let RawValue::Table(entries) = &resource.value.value else {
                self.report(
                    Diagnostic::error(format!(
                        "`{}` is not a resource: resources are tables",
                        address
                    ))
                    .at(
                        resource.key.span,
                        format!(
                            "expected a table, found {}",
                            resource.value.value.describe()
                        ),
                    )
                    .with_hint(format!(
                        "declare a resource as `[{}.NAME]` followed by its fields",
                        kind.as_str()
                    )),
                );
                continue;
            };
            let (fields, misspelt) = self.fields(kind, &address, entries);
            self.spec.resources.push(RawResource {
                kind,
                name: resource.key.clone(),
                span: resource.value.span,
                fields,
                misspelt,
            });
        }
    }
}

/// The error for declaring a kind that expansion derives, if `key` names one.
fn derived_kind(key: &str, span: Span) -> Option<Diagnostic> {
    let (owner, derived) = kinds::derived(key)?;
    Some(
        Diagnostic::error(format!("`{key}` cannot be declared"))
            .at(
                span,
                format!(
                    "envctl derives {} from each `{}`",
                    derived.plural,
                    owner.as_str()
                ),
            )
            .with_hint(derived.hint),
    )
}
