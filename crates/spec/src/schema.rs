//! The JSON Schema (draft 2020-12) of a spec file, for editors: taplo and Even Better TOML
//! check and complete a TOML file against one.
//!
//! Owns [`json_schema`]. Invariants:
//! - generated from the reader's own tables ([`crate::raw`]'s keys of `[project]`,
//!   `[environments.NAME]` and `[[differences]]`, [`crate::kinds`]'s fields of each kind, rule
//!   keys, protocols and engines), never from a second list, so a key the reader learns shows
//!   up here by itself;
//! - it accepts every valid spec: it checks structure (keys, their TOML types, enums, ranges,
//!   required keys, name shapes), and leaves what needs other values (references, CIDR
//!   containment, zones of the region, dates) to `envctl validate`; a pattern here may be looser
//!   than the check it mirrors, never stricter;
//! - no IO, and the same value on every call.

use serde_json::{Map, Value as Json, json};

use crate::formats::MAX_NAME_LEN;
use crate::kinds::{
    DefaultValue, ENGINES, FieldDef, Presence, Protocol, RULE_FIELDS, Shape, SpecKind, TextFormat,
};
use crate::raw::{DIFFERENCE_KEYS, ENVIRONMENT_KEYS, KeyType, PROJECT_KEYS, TableKey};

/// The JSON Schema dialect of [`json_schema`].
pub const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Project, environment and resource names: a lowercase letter, then lowercase letters and
/// digits, single `-` between them (`formats::check_identifier`).
const NAME_PATTERN: &str = "^[a-z](-?[a-z0-9])*$";

/// The shape of an IPv4 CIDR block (`10.0.0.0/16`); octets and prefix are checked by envctl.
const CIDR_PATTERN: &str = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$";

/// A port (`"443"`) or a port range (`"1024-2048"`) written as a string.
const PORTS_PATTERN: &str = "^ *[0-9]+ *(- *[0-9]+ *)?$";

/// The JSON Schema of the spec file: point an editor at it (a `#:schema PATH` comment on the
/// first line of the spec, or taplo's configuration) to get completion and checks as you type.
pub fn json_schema() -> Json {
    let mut properties = Map::new();
    properties.insert("project".into(), fixed_table(&PROJECT_KEYS, "the project"));
    properties.insert(
        "environments".into(),
        json!({
            "description": "the environments, each written `[environments.NAME]`; they may \
                            differ in scale only",
            "type": "object",
            "minProperties": 1,
            "propertyNames": name_rule(),
            "additionalProperties": { "$ref": "#/$defs/environment" },
        }),
    );
    properties.insert(
        "differences".into(),
        json!({
            "description": "declared differences between environments in fields other than \
                            scale, each written `[[differences]]`",
            "type": "array",
            "items": { "$ref": "#/$defs/difference" },
        }),
    );
    properties.insert("compliance".into(), compliance());
    properties.insert(
        "probes".into(),
        json!({
            "description": "documents each environment's running service reports about itself \
                            (`versions.json`), compared key by key by `parity` and `audit`; each \
                            written `[[probes]]`",
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "url"],
                "additionalProperties": false,
                "properties": {
                    "name": {
                        "description": "how reports and differences name it: `probe.NAME`",
                        "type": "string",
                        "pattern": "^[a-z][a-z0-9_-]*$",
                    },
                    "url": {
                        "description": "`https://`, `http://` or `file:` (relative to the spec's \
                                        folder); may hold `${project}`, `${environment}`, `${region}`",
                        "type": "string",
                        "pattern": "^(https?://|file:)",
                    },
                },
            },
        }),
    );
    let mut defs = Map::new();
    defs.insert("environment".into(), environment());
    defs.insert(
        "difference".into(),
        fixed_table(&DIFFERENCE_KEYS, "a declared difference"),
    );
    defs.insert("rule".into(), rule());
    for kind in SpecKind::ALL {
        properties.insert(
            kind.as_str().into(),
            json!({
                "description": format!(
                    "the spec's {}, each written `[{}.NAME]`",
                    kind.plural(),
                    kind.as_str()
                ),
                "type": "object",
                "propertyNames": name_rule(),
                "additionalProperties": { "$ref": format!("#/$defs/{}", kind.as_str()) },
            }),
        );
        defs.insert(kind.as_str().into(), resource(kind));
        defs.insert(scale_def(kind), scale_overrides(kind));
    }
    json!({
        "$schema": SCHEMA_DIALECT,
        "title": "envctl spec",
        "description": "One TOML file describing every environment of a project, identical \
                        except in scale. Generated by `envctl schema`; `envctl validate` checks \
                        everything this schema cannot (references, networks, zones, expiry).",
        "type": "object",
        "required": ["project", "environments"],
        "additionalProperties": false,
        "properties": properties,
        "$defs": defs,
    })
}

/// `[compliance]`: each rule with the values it accepts, and `severity`.
fn compliance() -> Json {
    use crate::compliance::RuleName;
    let off_or = |schema: Json| json!({ "anyOf": [ { "enum": [false] }, schema ] });
    let mut rules = Map::new();
    for rule in RuleName::ALL {
        let value = match rule {
            RuleName::MinEngineVersion => json!({
                "type": "object",
                "propertyNames": { "enum": ["aurora-postgresql", "aurora-mysql"] },
                "additionalProperties": { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)*$" },
            }),
            RuleName::RequireTls => json!({
                "type": "string",
                "enum": ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
            }),
            RuleName::ForbidWorldIngress => json!({
                "anyOf": [
                    { "enum": [true] },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "except_ports": {
                                "type": "array",
                                "items": { "type": "integer", "minimum": 0, "maximum": 65535 },
                            },
                        },
                    },
                ],
            }),
            RuleName::MinBackupRetentionDays => {
                json!({ "type": "integer", "minimum": 1, "maximum": 35 })
            }
            RuleName::RequireDeletionProtection => {
                json!({ "anyOf": [ { "enum": [true] }, { "enum": ["protected", "all"] } ] })
            }
            RuleName::RequireStorageEncrypted
            | RuleName::RequireMonitoring
            | RuleName::RequireAlarms => json!({ "enum": [true] }),
        };
        let mut schema = off_or(value);
        insert(
            &mut schema,
            "description",
            json!(format!(
                "{} (default severity: {}; `false` turns it off)",
                rule.summary(),
                rule.default_severity()
            )),
        );
        rules.insert(rule.as_str().into(), schema);
    }
    let severities: Map<String, Json> = RuleName::ALL
        .into_iter()
        .map(|rule| {
            (
                rule.as_str().to_string(),
                json!({ "enum": ["critical", "high", "medium", "low"] }),
            )
        })
        .collect();
    rules.insert(
        "severity".into(),
        json!({
            "description": "each rule's severity, where it is not the default",
            "type": "object",
            "additionalProperties": false,
            "properties": severities,
        }),
    );
    json!({
        "description": "rules every environment must satisfy, checked on the spec (`validate`, \
                        `plan`; `critical` ones refuse `apply`) and on the live cloud \
                        (`compliance`, `audit`); an exception is a declared difference with \
                        `resource = \"compliance\"`",
        "type": "object",
        "additionalProperties": false,
        "properties": rules,
    })
}

/// The name of the definition holding `kind`'s scale overrides.
fn scale_def(kind: SpecKind) -> String {
    format!("{}_scale", kind.as_str())
}

fn name_rule() -> Json {
    json!({ "type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME_LEN })
}

/// `[project]` or a `[[differences]]` entry: a table of fixed keys.
fn fixed_table(keys: &[TableKey], what: &str) -> Json {
    let mut properties = Map::new();
    for key in keys {
        let mut schema = match key.value {
            KeyType::Text => json!({ "type": "string" }),
            KeyType::Flag => json!({ "type": "boolean" }),
            KeyType::TextTable => {
                json!({ "type": "object", "additionalProperties": { "type": "string" } })
            }
            KeyType::ValuesByEnvironment => json!({
                "type": "object",
                "minProperties": 1,
                "propertyNames": name_rule(),
            }),
            // Editors read a TOML date as an RFC 3339 full date.
            KeyType::Date => json!({ "type": "string", "format": "date" }),
        };
        insert(&mut schema, "description", json!(key.about));
        properties.insert(key.name.into(), schema);
    }
    let required: Vec<&str> = keys.iter().filter(|k| k.required).map(|k| k.name).collect();
    json!({
        "description": what,
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// `[environments.NAME]`: its settings and a table of scale overrides per kind.
fn environment() -> Json {
    let mut schema = fixed_table(&ENVIRONMENT_KEYS, "one environment");
    if let Some(properties) = schema.get_mut("properties").and_then(Json::as_object_mut) {
        for kind in SpecKind::ALL {
            properties.insert(
                kind.as_str().into(),
                json!({
                    "description": format!(
                        "scale overrides of the spec's {}: `{}.NAME = {{ ... }}`",
                        kind.plural(),
                        kind.as_str()
                    ),
                    "type": "object",
                    "propertyNames": name_rule(),
                    "additionalProperties": { "$ref": format!("#/$defs/{}", scale_def(kind)) },
                }),
            );
        }
    }
    schema
}

/// `[KIND.NAME]`: every field of the kind.
fn resource(kind: SpecKind) -> Json {
    let mut properties = Map::new();
    for def in kind.fields() {
        let mut schema = field(def);
        if let Some(default) = default_of(def) {
            insert(&mut schema, "default", default);
        }
        properties.insert(def.name.into(), schema);
    }
    let required: Vec<&str> = kind
        .fields()
        .iter()
        .filter(|f| matches!(f.presence, Presence::Required))
        .map(|f| f.name)
        .collect();
    json!({
        "description": format!("a {}", kind.singular()),
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// `KIND.NAME = { ... }` in an environment: the kind's scale fields only.
fn scale_overrides(kind: SpecKind) -> Json {
    let mut properties = Map::new();
    for def in kind.fields().iter().filter(|f| f.scale) {
        properties.insert(def.name.into(), field(def));
    }
    let description = if properties.is_empty() {
        format!(
            "{} have no scale field: any difference must be declared in `[[differences]]`",
            kind.plural()
        )
    } else {
        format!(
            "the scale of a {} in this environment; other fields may differ only through \
             `[[differences]]`",
            kind.singular()
        )
    };
    json!({
        "description": description,
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
    })
}

/// One field's schema: its type and the checks that need nothing but its value.
fn field(def: &FieldDef) -> Json {
    let (mut schema, what) = match &def.shape {
        Shape::Text(format) => {
            let mut schema = json!({ "type": "string" });
            if *format == TextFormat::Engine {
                insert(&mut schema, "enum", json!(ENGINES));
            }
            if let Some(pattern) = text_pattern(*format) {
                insert(&mut schema, "pattern", json!(pattern));
            }
            (schema, format.expected().to_string())
        }
        Shape::Int { min, max, why } => (
            json!({ "type": "integer", "minimum": min, "maximum": max }),
            match why {
                Some(why) => format!("{min} to {max} ({why})"),
                None => format!("{min} to {max}"),
            },
        ),
        Shape::Bool => (json!({ "type": "boolean" }), "true or false".to_string()),
        Shape::Cidr {
            min_prefix,
            max_prefix,
        } => (
            json!({ "type": "string", "pattern": CIDR_PATTERN }),
            format!("an IPv4 CIDR block, /{min_prefix} to /{max_prefix}"),
        ),
        Shape::Ref(kind) => (
            name_rule(),
            format!("the name of one of the spec's {}", kind.plural()),
        ),
        Shape::RefList {
            kind,
            min_len,
            ordered,
            ..
        } => (
            json!({
                "type": "array",
                "items": name_rule(),
                "minItems": min_len,
                "uniqueItems": true,
            }),
            format!(
                "names of the spec's {}{}",
                kind.plural(),
                if *ordered { ", in order" } else { "" }
            ),
        ),
        Shape::Rules => (
            json!({ "type": "array", "items": { "$ref": "#/$defs/rule" } }),
            "security group rules".to_string(),
        ),
        Shape::IntChoice { values, why } => (
            json!({ "type": "integer", "enum": values }),
            format!("one of the values AWS accepts ({why})"),
        ),
        Shape::Template { max_len } => (
            json!({ "type": "string" }),
            format!(
                "text of at most {max_len} bytes; may use `${{project}}`, `${{environment}}` \
                 and `${{region}}`"
            ),
        ),
        Shape::Settings => (
            json!({
                "type": "object",
                "propertyNames": { "pattern": "^[A-Za-z0-9_.-]+$" },
                "additionalProperties": { "type": ["string", "integer", "boolean"] },
            }),
            "settings by name, such as `{ \"rds.force_ssl\" = \"1\" }`".to_string(),
        ),
        Shape::Choice { values, why } => (
            json!({ "type": "string", "enum": values }),
            format!("one of {} ({why})", crate::suggest::and_list(values)),
        ),
        Shape::Number { min, max } => (
            json!({ "type": "number", "minimum": min, "maximum": max }),
            format!("a number from {min} to {max}"),
        ),
        Shape::JsonFile { max_bytes } => (
            json!({ "type": "string" }),
            format!(
                "the path of a JSON file next to the spec, of at most {max_bytes} bytes; it may \
                 use `${{project}}`, `${{environment}}`, `${{region}}`, `${{ids:instance.NAME}}` \
                 and `${{id:db_cluster.NAME}}`"
            ),
        ),
        Shape::Member { kinds } => {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            (
                json!({
                    "type": "string",
                    "pattern": format!("^({})\\.[A-Za-z0-9_-]+$", names.join("|")),
                }),
                format!(
                    "the address of one of the spec's resources of kind {}, such as `{}.NAME`",
                    crate::suggest::and_list(&names).replace(" and ", " or "),
                    names.first().copied().unwrap_or_default()
                ),
            )
        }
        Shape::TemplateList { separator } => (
            json!({
                "type": "array",
                "minItems": 1,
                "items": { "type": "string", "pattern": format!("^[^{separator}]*$") },
            }),
            format!(
                "texts without `{separator}`, in order; each may use `${{project}}`, \
                 `${{environment}}` and `${{region}}`"
            ),
        ),
    };
    let scale = if def.scale {
        "; a scale field: each environment may override it"
    } else {
        ""
    };
    let default = match &def.presence {
        Presence::Default(DefaultValue::ResourceName) => "; default: the resource's name",
        Presence::Optional => "; optional",
        _ => "",
    };
    insert(
        &mut schema,
        "description",
        json!(format!(
            "{what}{scale}{default}; example: `{}`",
            def.example
        )),
    );
    schema
}

/// The value of a field left out, where it is a constant.
fn default_of(def: &FieldDef) -> Option<Json> {
    let Presence::Default(default) = &def.presence else {
        return None;
    };
    match default {
        DefaultValue::Int(number) => Some(json!(number)),
        DefaultValue::Bool(flag) => Some(json!(flag)),
        DefaultValue::NoReferences | DefaultValue::NoRules => Some(json!([])),
        DefaultValue::AllTrafficOut => Some(json!([{ "protocol": "all", "cidr": "0.0.0.0/0" }])),
        DefaultValue::ResourceName => None,
    }
}

/// A pattern every valid value of `format` matches (it may let some invalid ones through).
fn text_pattern(format: TextFormat) -> Option<&'static str> {
    match format {
        TextFormat::Ami => Some("^ami-([0-9a-f]{8}|[0-9a-f]{17})$"),
        TextFormat::InstanceType => Some("^[a-z][a-z0-9-]*\\.[a-z0-9]+$"),
        TextFormat::InstanceClass => Some("^db\\.[a-z][a-z0-9-]*\\.[a-z0-9]+$"),
        TextFormat::EngineVersion => Some("^[0-9]+\\.[0-9]+[A-Za-z0-9._]*$"),
        TextFormat::Window => Some("^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$"),
        TextFormat::MasterUsername => Some("^[A-Za-z][A-Za-z0-9_]{0,15}$"),
        TextFormat::KmsKeyArn => Some("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$"),
        TextFormat::SecretSource => Some("^(env:[A-Za-z0-9_]+|file:.+)$"),
        TextFormat::Zone
        | TextFormat::MetricName
        | TextFormat::Engine
        | TextFormat::Description => None,
    }
}

/// A security group rule.
fn rule() -> Json {
    let mut properties = Map::new();
    for key in RULE_FIELDS {
        let schema = match key {
            "protocol" => json!({
                "description": "`all` covers every port; `tcp` and `udp` need `ports`",
                "enum": Protocol::NAMES,
            }),
            "ports" => json!({
                "description": "a port such as `443`, or a range such as `\"1024-2048\"`",
                "anyOf": [
                    { "type": "integer", "minimum": 0, "maximum": 65535 },
                    { "type": "string", "pattern": PORTS_PATTERN },
                ],
            }),
            "cidr" => json!({
                "description": "the network the traffic comes from (ingress) or goes to (egress)",
                "type": "string",
                "pattern": CIDR_PATTERN,
            }),
            "from_group" => {
                let mut schema = name_rule();
                insert(
                    &mut schema,
                    "description",
                    json!("the name of a security group of the spec, instead of `cidr`"),
                );
                schema
            }
            // Every rule key is listed above; the schema tests fail on an empty one.
            _ => json!({}),
        };
        properties.insert(key.into(), schema);
    }
    json!({
        "description": "a security group rule: `{ protocol = \"tcp\", ports = 443, cidr = \"10.0.0.0/8\" }`",
        "type": "object",
        "required": ["protocol"],
        "oneOf": [{ "required": ["cidr"] }, { "required": ["from_group"] }],
        "additionalProperties": false,
        "properties": properties,
    })
}

fn insert(schema: &mut Json, key: &str, value: Json) {
    if let Some(object) = schema.as_object_mut() {
        object.insert(key.into(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;

    fn matches(pattern: &str, text: &str) -> bool {
        regex_lite::Regex::new(pattern)
            .map(|re| re.is_match(text))
            .unwrap_or(false)
    }

    /// A pattern may be looser than the check it mirrors, never stricter.
    #[test]
    fn patterns_accept_every_value_the_checks_accept() {
        type Case<'a> = (&'a str, fn(&str) -> bool, &'a [&'a str]);
        let cases: [Case; 6] = [
            (
                text_pattern(TextFormat::Ami).unwrap_or_default(),
                formats::is_ami,
                &[
                    "ami-0c55b159cbfafe1f0",
                    "ami-12345678",
                    "ami-XYZ",
                    "ami-123",
                ],
            ),
            (
                text_pattern(TextFormat::InstanceType).unwrap_or_default(),
                formats::is_instance_type,
                &[
                    "t3.medium",
                    "m7i-flex.large",
                    "t3",
                    "db.t3.medium",
                    "T3.large",
                ],
            ),
            (
                text_pattern(TextFormat::InstanceClass).unwrap_or_default(),
                formats::is_instance_class,
                &["db.r6g.2xlarge", "db.t3.medium", "t3.medium", "db.t3"],
            ),
            (
                text_pattern(TextFormat::EngineVersion).unwrap_or_default(),
                formats::is_pinned_version,
                &["15.4", "8.0.mysql_aurora.3.05.2", "15", "15.x", "v15.4"],
            ),
            (
                text_pattern(TextFormat::MasterUsername).unwrap_or_default(),
                |text| formats::check_master_username(text).is_ok(),
                &["app", "a_1", "1app", "a-b", "abcdefghijklmnopq"],
            ),
            (
                NAME_PATTERN,
                |text| formats::check_identifier(text).is_ok(),
                &["webapp", "a-b1", "a--b", "a-", "-a", "A", "1a", "app_1"],
            ),
        ];
        for (pattern, check, samples) in cases {
            for sample in samples {
                if check(sample) {
                    assert!(matches(pattern, sample), "`{pattern}` rejects `{sample}`");
                }
            }
        }
        // The exact ones reject what their checks reject.
        for name in ["a--b", "a-", "-a", "A", "1a", "app_1"] {
            assert!(!matches(NAME_PATTERN, name), "{name}");
        }
        assert!(matches(
            text_pattern(TextFormat::Window).unwrap_or_default(),
            "03:00-04:00"
        ));
        assert!(matches(CIDR_PATTERN, "10.0.0.0/16"));
        assert!(matches(PORTS_PATTERN, "1024-2048") && matches(PORTS_PATTERN, "443"));
    }

    #[test]
    fn every_rule_key_has_a_schema() {
        let schema = rule();
        for key in RULE_FIELDS {
            assert_ne!(schema["properties"][key], json!({}), "{key}");
        }
    }
}
