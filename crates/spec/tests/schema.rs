//! The JSON Schema of the spec, held to the parser and to the committed file.
//!
//! - `schema/envctl.schema.json` is the generated schema (rewrite it with `ENVCTL_BLESS=1`);
//! - the keys the parser accepts in each place (read from its own "unknown key" hints, so this
//!   does not trust the tables the schema is generated from) are exactly the schema's, and for
//!   each key a value of the schema's type passes the parser's type check while a value of
//!   another type fails it;
//! - the example spec validates against the schema, with a small checker of the keywords the
//!   schema uses.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use envctl_spec::{CivilDate, Diagnostic, SourceFile, check, json_schema};
use serde_json::{Value as Json, json};

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = repo_file("schema/envctl.schema.json");
    let generated = json_schema();
    if std::env::var_os("ENVCTL_BLESS").is_some_and(|v| v == "1") {
        let text = format!("{}\n", serde_json::to_string_pretty(&generated).unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with ENVCTL_BLESS=1", path.display()));
    let committed: Json = serde_json::from_str(&committed).unwrap();
    assert!(
        committed == generated,
        "`schema/envctl.schema.json` is out of date: run `ENVCTL_BLESS=1 cargo test -p envctl-spec --test schema` and commit it"
    );
}

// ---------------------------------------------------------------------------------------------
// The schema and the parser accept the same keys, with the same types.

const TODAY: CivilDate = CivilDate {
    year: 2026,
    month: 1,
    day: 1,
};

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    let source = SourceFile::from_bytes("probe.toml", text.as_bytes().to_vec()).unwrap();
    check(&source, TODAY).diagnostics
}

/// The backticked words of `text`.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Keys the parser lists in the hint of the diagnostic whose summary contains `summary`.
fn keys_in_hint(text: &str, summary: &str) -> BTreeSet<String> {
    let found = diagnostics(text);
    let diagnostic = found
        .iter()
        .find(|d| d.summary.contains(summary))
        .unwrap_or_else(|| panic!("no diagnostic `{summary}` in {found:#?}"));
    diagnostic
        .hints
        .iter()
        .flat_map(|hint| backticked(hint))
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

fn schema_keys(schema: &Json) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn def<'s>(schema: &'s Json, name: &str) -> &'s Json {
    &schema["$defs"][name]
}

/// The base of every probe: a valid project, one environment, one resource of each kind.
const PROJECT: &[(&str, &str)] = &[("name", "\"webapp\""), ("region", "\"us-east-1\"")];
const KINDS_DECLARED: &str = "
[vpc.main]
[subnet.main]
[security_group.main]
[instance.main]
[db_cluster.main]
";

fn table(header: &str, base: &[(&str, &str)], probe: Option<(&str, &str)>) -> String {
    let mut text = format!("{header}\n");
    for (key, value) in base {
        if probe.is_none_or(|(k, _)| k != *key) {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    if let Some((key, value)) = probe {
        text.push_str(&format!("{key} = {value}\n"));
    }
    text
}

/// A spec with `key = value` written in `place`.
fn probe(place: &Place, key: &str, value: &str) -> String {
    let project = table("[project]", PROJECT, None);
    match place {
        Place::Top => {
            // The probed key comes first (a bare key after a table header would belong to
            // that table), and replaces the base's table of the same name.
            let mut text = format!("{key} = {value}\n");
            if key != "project" {
                text.push_str(&project);
            }
            if key != "environments" {
                text.push_str("[environments.staging]\n");
            }
            text
        }
        Place::Project => format!(
            "{}[environments.staging]\n",
            table("[project]", PROJECT, Some((key, value)))
        ),
        Place::Environment => format!(
            "{project}{}{KINDS_DECLARED}",
            table("[environments.staging]", &[], Some((key, value)))
        ),
        Place::Difference => format!(
            "{project}[environments.staging]\n{}",
            table("[[differences]]", &[], Some((key, value)))
        ),
        Place::Resource(kind) => format!(
            "{project}[environments.staging]\n{}",
            table(&format!("[{kind}.main]"), &[], Some((key, value)))
        ),
        Place::Override(kind) => format!(
            "{project}[environments.staging]\n{kind}.main = {{ {key} = {value} }}\n{KINDS_DECLARED}"
        ),
        Place::Rule => format!(
            "{project}[environments.staging]\n[security_group.main]\ningress = [{{ {key} = {value} }}]\n"
        ),
    }
}

#[derive(Debug)]
enum Place {
    Top,
    Project,
    Environment,
    Difference,
    Resource(String),
    Override(String),
    Rule,
}

/// A TOML value of the schema's type, and one of another type.
fn samples(schema: &Json, root: &Json) -> (String, String) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        return samples(def(root, name), root);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        let other_type = if first.is_number() { "\"1\"" } else { "1" };
        return (first.to_string(), other_type.into());
    }
    if let Some(options) = schema["anyOf"].as_array() {
        // `ports`: an integer or a string; a boolean is neither.
        return (samples(&options[0], root).0, "true".into());
    }
    match schema["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no type in {schema}"))
    {
        "string" if schema["format"] == "date" => ("2027-06-30".into(), "1".into()),
        "string" => ("\"x\"".into(), "1".into()),
        "integer" => (
            schema["minimum"].as_i64().unwrap_or(1).to_string(),
            "\"1\"".into(),
        ),
        "boolean" => ("true".into(), "\"yes\"".into()),
        "number" => ("0.5".into(), "\"1\"".into()),
        "array" => ("[]".into(), "1".into()),
        "object" => ("{}".into(), "1".into()),
        other => panic!("unexpected type `{other}`"),
    }
}

fn about_key<'d>(found: &'d [Diagnostic], key: &str, start: &str) -> Vec<&'d Diagnostic> {
    found
        .iter()
        .filter(|d| d.summary.starts_with(start) && d.summary.contains(&format!("`{key}`")))
        .collect()
}

/// Each key of `properties` passes the parser's type check with a value of the schema's
/// type and fails it with another.
fn check_types(place: &Place, properties: &Json, root: &Json) {
    for (key, schema) in properties.as_object().unwrap() {
        let (good, bad) = samples(schema, root);
        let found = diagnostics(&probe(place, key, &good));
        let complaints: Vec<_> = about_key(&found, key, "wrong type")
            .into_iter()
            .chain(about_key(&found, key, "unknown"))
            .collect();
        assert!(
            complaints.is_empty(),
            "{place:?}: `{key} = {good}` (the schema's type) is refused: {complaints:#?}"
        );
        let found = diagnostics(&probe(place, key, &bad));
        assert!(
            !about_key(&found, key, "wrong type").is_empty(),
            "{place:?}: `{key} = {bad}` (not the schema's type) is accepted: {found:#?}"
        );
    }
}

#[test]
fn the_schema_and_the_parser_accept_the_same_keys_with_the_same_types() {
    let schema = json_schema();
    let unknown = "zzzzzzzz";

    // The resource kinds, as the parser lists them.
    let kinds = keys_in_hint(
        &probe(&Place::Top, unknown, "1"),
        &format!("unknown key `{unknown}`"),
    );
    assert_eq!(kinds.len(), 9, "{kinds:?}");
    let mut top: BTreeSet<String> = kinds.clone();
    top.extend(
        [
            "project",
            "environments",
            "differences",
            "compliance",
            "probes",
        ]
        .map(String::from),
    );
    assert_eq!(schema_keys(&schema), top, "top-level keys");
    check_types(&Place::Top, &schema["properties"], &schema);

    let project = keys_in_hint(
        &probe(&Place::Project, unknown, "1"),
        &format!("unknown field `{unknown}`"),
    );
    assert_eq!(
        schema_keys(&schema["properties"]["project"]),
        project,
        "`[project]` keys"
    );
    check_types(
        &Place::Project,
        &schema["properties"]["project"]["properties"],
        &schema,
    );

    let mut environment = keys_in_hint(
        &probe(&Place::Environment, unknown, "1"),
        &format!("unknown setting `{unknown}`"),
    );
    environment.extend(kinds.iter().cloned());
    assert_eq!(
        schema_keys(def(&schema, "environment")),
        environment,
        "`[environments.NAME]` keys"
    );
    check_types(
        &Place::Environment,
        &def(&schema, "environment")["properties"],
        &schema,
    );

    let difference = keys_in_hint(
        &probe(&Place::Difference, unknown, "1"),
        &format!("unknown field `{unknown}`"),
    );
    assert_eq!(
        schema_keys(def(&schema, "difference")),
        difference,
        "`[[differences]]` keys"
    );
    check_types(
        &Place::Difference,
        &def(&schema, "difference")["properties"],
        &schema,
    );

    let rule = keys_in_hint(
        &probe(&Place::Rule, unknown, "1"),
        &format!("unknown field `{unknown}`"),
    );
    assert_eq!(schema_keys(def(&schema, "rule")), rule, "rule keys");
    check_types(&Place::Rule, &def(&schema, "rule")["properties"], &schema);

    // The scale fields, as the parser lists them when an environment overrides another field.
    let scale_hint = diagnostics(&probe(
        &Place::Override("vpc".into()),
        "cidr",
        "\"10.0.0.0/16\"",
    ));
    let scale_hint = scale_hint
        .iter()
        .find(|d| d.summary.contains("not a scale field"))
        .unwrap_or_else(|| panic!("{scale_hint:#?}"));
    let scale: BTreeSet<String> = backticked(&scale_hint.hints[0]).into_iter().collect();

    for kind in &kinds {
        let place = Place::Resource(kind.clone());
        // The hint reads "`KIND` has `a`, `b`, ...".
        let mut fields = keys_in_hint(
            &probe(&place, unknown, "1"),
            &format!("unknown field `{unknown}`"),
        );
        fields.remove(kind);
        assert_eq!(schema_keys(def(&schema, kind)), fields, "`{kind}` fields");
        check_types(&place, &def(&schema, kind)["properties"], &schema);

        let overridable: BTreeSet<String> = fields
            .iter()
            .filter(|f| scale.contains(&format!("{kind}.{f}")))
            .cloned()
            .collect();
        let scale_schema = def(&schema, &format!("{kind}_scale"));
        assert_eq!(
            schema_keys(scale_schema),
            overridable,
            "`{kind}` scale fields"
        );
        check_types(
            &Place::Override(kind.clone()),
            &scale_schema["properties"],
            &schema,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The example spec validates against the schema.

/// The TOML document as editors see it: dates become strings.
fn toml_to_json(value: toml::Value) -> Json {
    match value {
        toml::Value::String(text) => Json::String(text),
        toml::Value::Integer(number) => json!(number),
        toml::Value::Float(number) => json!(number),
        toml::Value::Boolean(flag) => Json::Bool(flag),
        toml::Value::Datetime(datetime) => Json::String(datetime.to_string()),
        toml::Value::Array(items) => Json::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect(),
        ),
    }
}

/// The keywords [`validate`] understands; annotations are ignored.
const KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "propertyNames",
    "minProperties",
    "items",
    "minItems",
    "uniqueItems",
    "minimum",
    "maximum",
    "maxLength",
    "pattern",
    "anyOf",
    "oneOf",
];
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$defs",
    "title",
    "description",
    "default",
    "format",
];

/// Every keyword the schema uses is one the checker understands (so nothing is skipped).
fn assert_known_keywords(schema: &Json, at: &str) {
    let Some(object) = schema.as_object() else {
        return;
    };
    for (keyword, value) in object {
        assert!(
            KEYWORDS.contains(&keyword.as_str()) || ANNOTATIONS.contains(&keyword.as_str()),
            "{at}: the checker does not know `{keyword}`"
        );
        match keyword.as_str() {
            "properties" | "$defs" => {
                for (name, sub) in value.as_object().unwrap() {
                    assert_known_keywords(sub, &format!("{at}/{name}"));
                }
            }
            "anyOf" | "oneOf" => {
                for sub in value.as_array().unwrap() {
                    assert_known_keywords(sub, &format!("{at}/{keyword}"));
                }
            }
            "items" | "additionalProperties" | "propertyNames" => {
                assert_known_keywords(value, &format!("{at}/{keyword}"));
            }
            _ => {}
        }
    }
}

/// The problems of `value` against `schema` (`root` resolves `$ref`).
fn validate(value: &Json, schema: &Json, root: &Json, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        validate(value, def(root, name), root, at, errors);
    }
    if let Some(kind) = schema["type"].as_str() {
        let ok = match kind {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            other => panic!("unexpected type `{other}`"),
        };
        if !ok {
            errors.push(format!("{at}: expected {kind}, found {value}"));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(text) = value.as_str() {
        if let Some(max) = schema["maxLength"].as_u64()
            && text.chars().count() as u64 > max
        {
            errors.push(format!("{at}: longer than {max}"));
        }
        if let Some(pattern) = schema["pattern"].as_str()
            && !regex_lite::Regex::new(pattern).unwrap().is_match(text)
        {
            errors.push(format!("{at}: `{text}` does not match `{pattern}`"));
        }
    }
    if let Some(number) = value.as_i64() {
        if schema["minimum"].as_i64().is_some_and(|min| number < min) {
            errors.push(format!("{at}: {number} is below the minimum"));
        }
        if schema["maximum"].as_i64().is_some_and(|max| number > max) {
            errors.push(format!("{at}: {number} is above the maximum"));
        }
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(required.as_str().unwrap()) {
                errors.push(format!("{at}: missing `{required}`"));
            }
        }
        if schema["minProperties"]
            .as_u64()
            .is_some_and(|min| (object.len() as u64) < min)
        {
            errors.push(format!("{at}: too few keys"));
        }
        for (key, item) in object {
            let here = format!("{at}/{key}");
            if !schema["propertyNames"].is_null() {
                validate(&json!(key), &schema["propertyNames"], root, &here, errors);
            }
            match schema["properties"].get(key) {
                Some(sub) => validate(item, sub, root, &here, errors),
                None => match &schema["additionalProperties"] {
                    Json::Bool(false) => errors.push(format!("{here}: not allowed")),
                    Json::Null | Json::Bool(true) => {}
                    sub => validate(item, sub, root, &here, errors),
                },
            }
        }
    }
    if let Some(items) = value.as_array() {
        if schema["minItems"]
            .as_u64()
            .is_some_and(|min| (items.len() as u64) < min)
        {
            errors.push(format!("{at}: too few items"));
        }
        if schema["uniqueItems"] == true {
            let distinct: BTreeSet<String> = items.iter().map(Json::to_string).collect();
            if distinct.len() != items.len() {
                errors.push(format!("{at}: repeated items"));
            }
        }
        if !schema["items"].is_null() {
            for (index, item) in items.iter().enumerate() {
                validate(
                    item,
                    &schema["items"],
                    root,
                    &format!("{at}[{index}]"),
                    errors,
                );
            }
        }
    }
    let passing = |options: &Json| -> usize {
        options
            .as_array()
            .into_iter()
            .flatten()
            .filter(|option| {
                let mut sub = Vec::new();
                validate(value, option, root, at, &mut sub);
                sub.is_empty()
            })
            .count()
    };
    if schema["anyOf"].is_array() && passing(&schema["anyOf"]) == 0 {
        errors.push(format!("{at}: matches none of `anyOf`"));
    }
    if schema["oneOf"].is_array() && passing(&schema["oneOf"]) != 1 {
        errors.push(format!("{at}: does not match exactly one of `oneOf`"));
    }
}

fn errors_of(text: &str) -> Vec<String> {
    let schema = json_schema();
    let document = toml_to_json(text.parse::<toml::Table>().map(toml::Value::Table).unwrap());
    let mut errors = Vec::new();
    validate(&document, &schema, &schema, "", &mut errors);
    errors
}

#[test]
fn the_example_spec_validates_against_the_schema() {
    let schema = json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_known_keywords(&schema, "#");
    let example = std::fs::read_to_string(repo_file("environments/webapp.toml")).unwrap();
    assert_eq!(errors_of(&example), Vec::<String>::new());

    // The checker does check: mistakes the parser refuses, the schema refuses too.
    for (from, to, expected) in [
        (
            "cidr = \"10.0.0.0/16\"",
            "cidr = \"10.0.0.0/16\"\ncider = \"x\"",
            "/vpc/main/cider: not allowed",
        ),
        (
            "count = 2 ",
            "count = \"2\"",
            "/instance/app/count: expected integer",
        ),
        (
            "instances = 1  ",
            "instances = 17  ",
            "/db_cluster/main/instances: 17 is above",
        ),
        (
            "engine = \"aurora-postgresql\"",
            "engine = \"postgres\"",
            "/db_cluster/main/engine",
        ),
        (
            "protected = true",
            "protected = true\nmonitoring = true",
            "/environments/production/monitoring: not allowed",
        ),
        (
            "instance.app = { instance_type = \"t3.xlarge\", count = 3 }",
            "instance.app = { ami = \"ami-12345678\" }",
            "/environments/production/instance/app/ami: not allowed",
        ),
        (
            "owner = \"platform-team\"\n",
            "",
            "/differences[0]: missing",
        ),
        (
            "ports = \"443\", cidr",
            "ports = \"443\", from_group = \"app\", cidr",
            "/security_group/app/ingress[0]: does not match exactly one",
        ),
        ("[subnet.a]", "[subnet.A]", "/subnet/A: `A` does not match"),
    ] {
        assert!(example.contains(from), "the example has no `{from}`");
        let errors = errors_of(&example.replacen(from, to, 1));
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "`{to}`: expected `{expected}...`, found {errors:#?}"
        );
    }
}
