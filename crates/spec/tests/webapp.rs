//! The shipped example, `environments/webapp.toml`, as the CLI and engine will see it.

use std::collections::{BTreeMap, BTreeSet};

use envctl_spec::template::{Placeholders, unsubstitute};
use envctl_spec::{
    Address, CivilDate, DesiredResource, DesiredState, ResourceKind, SourceFile, Spec, TAG_ADDRESS,
    TAG_ENVIRONMENT, TAG_PROJECT, Value, check,
};

const WEBAPP: &str = include_str!("../../../environments/webapp.toml");

fn today() -> CivilDate {
    CivilDate::new(2026, 6, 1).expect("valid date")
}

fn webapp() -> Spec {
    let source = SourceFile::new("environments/webapp.toml", WEBAPP).with_file(
        "dashboards/main.json",
        Ok(include_str!("../../../environments/dashboards/main.json").into()),
    );
    let checked = check(&source, today());
    let rendered: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| d.render(&source))
        .collect();
    assert!(rendered.is_empty(), "{}", rendered.join("\n"));
    checked.spec.expect("a spec without diagnostics")
}

fn expand(environment: &str) -> DesiredState {
    webapp().expand(environment).expect("declared environment")
}

fn resource<'s>(state: &'s DesiredState, address: &str) -> &'s DesiredResource {
    let address: Address = address.parse().expect("valid address");
    state
        .resource(&address)
        .unwrap_or_else(|| panic!("{address} is missing"))
}

/// A rule set's value: typed rules, never their text.
fn rules(items: &[&str]) -> Value {
    Value::List(
        items
            .iter()
            .map(|s| Value::Rule(s.parse().expect("canonical rule")))
            .collect(),
    )
}

/// A reference field's value: the typed address, never its text.
fn reference(address: &str) -> Value {
    Value::Ref(address.parse().expect("valid address"))
}

fn references(addresses: &[&str]) -> Value {
    Value::List(addresses.iter().map(|a| reference(a)).collect())
}

#[test]
fn webapp_checks_without_any_diagnostic() {
    let spec = webapp();
    assert_eq!(spec.project(), "webapp");
    assert_eq!(spec.region(), "us-east-1");
    assert_eq!(spec.lock_bucket(), Some("webapp-envctl-locks"));
    assert_eq!(spec.environment_names(), ["staging", "production"]);
    let production = spec.environment("production").expect("declared");
    assert!(production.protected);
    assert_eq!(production.promote_from.as_deref(), Some("staging"));
    let staging = spec.environment("staging").expect("declared");
    assert!(!staging.protected);
    assert_eq!(staging.promote_from, None);

    let [difference] = spec.differences() else {
        panic!("one declared difference expected");
    };
    assert_eq!(difference.resource, "db_cluster.main");
    assert_eq!(difference.field, "backup_retention_days");
    assert_eq!(
        difference.values,
        BTreeMap::from([
            ("production".to_string(), Value::Int(30)),
            ("staging".to_string(), Value::Int(7)),
        ])
    );
    assert_eq!(difference.owner, "platform-team");
    assert_eq!(difference.expires.to_string(), "2027-06-30");
}

#[test]
fn resources_come_in_creation_order_then_by_name_then_index() {
    let addresses: Vec<String> = expand("production")
        .resources
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(
        addresses,
        [
            "vpc.main",
            "subnet.a",
            "subnet.b",
            "security_group.app",
            "security_group.db",
            "instance.app[0]",
            "instance.app[1]",
            "instance.app[2]",
            "db_subnet_group.main",
            "db_cluster_parameter_group.main",
            "db_cluster.main",
            "db_instance.main[0]",
            "db_instance.main[1]",
            "log_group.app",
            "parameter.log-format",
            "parameter.log-level",
            "parameter.scrape-interval",
            "parameter.trace-endpoint",
            "parameter.trace-sample-rate",
            "alarm.app-cpu[0]",
            "alarm.app-cpu[1]",
            "alarm.app-cpu[2]",
            "alarm.db-cpu",
            "dashboard.main",
        ]
    );
}

#[test]
fn every_dependency_exists_and_comes_first() {
    for environment in ["staging", "production"] {
        let state = expand(environment);
        for (position, resource) in state.resources.iter().enumerate() {
            for dependency in &resource.depends_on {
                let before = state.resources[..position]
                    .iter()
                    .any(|r| &r.address == dependency);
                assert!(before, "{} depends on {dependency}", resource.address);
            }
        }
    }
}

#[test]
fn staging_and_production_differ_only_in_scale_and_declared_differences() {
    let staging = expand("staging");
    let production = expand("production");
    assert_eq!(staging.parity_digest, production.parity_digest);
    assert!(staging.parity_digest.starts_with("sha256:"));
    assert_eq!(staging.parity_digest.len(), "sha256:".len() + 64);

    // (A dashboard's `instances` are the members of a counted set: they follow its count.)
    let allowed: BTreeSet<&str> = [
        "instance_type",
        "instance_class",
        "backup_retention_days",
        "instances",
    ]
    .into_iter()
    .collect();
    let mut differing = BTreeSet::new();
    for prod in &production.resources {
        let Some(stage) = staging.resource(&prod.address) else {
            // Only counted resources may exist in one environment and not the other.
            assert!(
                matches!(
                    prod.kind,
                    ResourceKind::Instance | ResourceKind::DbInstance | ResourceKind::Alarm
                ),
                "{} exists only in production",
                prod.address
            );
            continue;
        };
        // (A dashboard depends on every member of the sets it shows, which follow their count.)
        if prod.kind != ResourceKind::Dashboard {
            assert_eq!(stage.depends_on, prod.depends_on, "{}", prod.address);
        }
        assert_eq!(
            stage
                .cloud_name
                .replace("-staging-", "-production-")
                .replace("/staging/", "/production/"),
            prod.cloud_name
        );
        let fields: BTreeSet<&String> = stage.fields.keys().chain(prod.fields.keys()).collect();
        // A templated value differs by the environment's own name only.
        let written_back = |value: Option<&Value>, environment: &str| {
            let placeholders = Placeholders {
                project: "webapp",
                environment,
                region: "us-east-1",
            };
            let back = |value: &Value| match value {
                Value::Str(text) => Value::Str(unsubstitute(text, &placeholders)),
                other => other.clone(),
            };
            value.map(|value| match value {
                Value::List(items) => Value::List(items.iter().map(back).collect()),
                other => back(other),
            })
        };
        for field in fields {
            let templated = prod.kind.templated_fields().contains(&field.as_str());
            let (stage_value, prod_value) = if templated {
                (
                    written_back(stage.fields.get(field), "staging"),
                    written_back(prod.fields.get(field), "production"),
                )
            } else {
                (
                    stage.fields.get(field).cloned(),
                    prod.fields.get(field).cloned(),
                )
            };
            if templated && field == "value" && prod.address.name == "trace-endpoint" {
                assert_ne!(stage.fields.get(field), prod.fields.get(field));
            }
            if stage_value != prod_value {
                assert!(
                    allowed.contains(field.as_str()),
                    "{}.{field} differs",
                    prod.address
                );
                differing.insert(field.clone());
            }
        }
    }
    assert_eq!(
        differing,
        [
            "backup_retention_days",
            "instance_class",
            "instance_type",
            "instances"
        ]
        .map(String::from)
        .into()
    );
    let count =
        |state: &DesiredState, kind| state.resources.iter().filter(|r| r.kind == kind).count();
    assert_eq!(count(&staging, ResourceKind::Instance), 1);
    assert_eq!(count(&production, ResourceKind::Instance), 3);
    assert_eq!(count(&staging, ResourceKind::DbInstance), 1);
    assert_eq!(count(&production, ResourceKind::DbInstance), 2);
}

#[test]
fn scale_overrides_and_declared_differences_are_applied() {
    let staging = expand("staging");
    let production = expand("production");
    let field = |state: &DesiredState, address: &str, name: &str| {
        resource(state, address).field(name).cloned()
    };
    assert_eq!(
        field(&production, "instance.app[2]", "instance_type"),
        Some(Value::Str("t3.xlarge".into()))
    );
    assert_eq!(
        field(&staging, "instance.app[0]", "instance_type"),
        Some(Value::Str("t3.medium".into()))
    );
    assert_eq!(
        field(&production, "db_instance.main[1]", "instance_class"),
        Some(Value::Str("db.r6g.2xlarge".into()))
    );
    assert_eq!(
        field(&production, "db_cluster.main", "backup_retention_days"),
        Some(Value::Int(30))
    );
    assert_eq!(
        field(&staging, "db_cluster.main", "backup_retention_days"),
        Some(Value::Int(7))
    );
    assert!(production.protected);
    assert_eq!(production.promote_from.as_deref(), Some("staging"));
    assert_eq!(production.region, "us-east-1");
}

#[test]
fn instances_are_spread_round_robin_over_their_subnets() {
    let production = expand("production");
    let subnets: Vec<Value> = (0..3)
        .map(|i| {
            resource(&production, &format!("instance.app[{i}]"))
                .field("subnet")
                .cloned()
                .expect("an instance has a subnet")
        })
        .collect();
    assert_eq!(
        Value::List(subnets),
        references(&["subnet.a", "subnet.b", "subnet.a"])
    );
    let third = resource(&production, "instance.app[2]");
    assert_eq!(
        third.depends_on,
        ["subnet.a", "security_group.app"].map(|a| a.parse::<Address>().expect("valid"))
    );
}

#[test]
fn cloud_names_and_tags_identify_project_environment_and_address() {
    let production = expand("production");
    let instance = resource(&production, "instance.app[1]");
    assert_eq!(instance.cloud_name, "webapp-production-app-1");
    assert_eq!(
        instance.tags,
        BTreeMap::from(
            [
                ("Name", "webapp-production-app-1"),
                (TAG_PROJECT, "webapp"),
                (TAG_ENVIRONMENT, "production"),
                (TAG_ADDRESS, "instance.app[1]"),
                ("team", "platform"),
                ("cost-center", "cc-42"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        )
    );
    assert_eq!(
        resource(&production, "vpc.main").cloud_name,
        "webapp-production-main"
    );
    assert_eq!(
        resource(&production, "db_instance.main[0]").cloud_name,
        "webapp-production-main-0"
    );
    assert_eq!(
        resource(&expand("staging"), "db_subnet_group.main").cloud_name,
        "webapp-staging-main"
    );
}

#[test]
fn fields_of_each_kind_are_resolved_to_addresses_and_typed_rules() {
    let staging = expand("staging");
    let fields = |address: &str| resource(&staging, address).fields.clone();
    let map = |pairs: &[(&str, Value)]| -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    assert_eq!(
        fields("subnet.b"),
        map(&[
            ("vpc", reference("vpc.main")),
            ("cidr", Value::Str("10.0.2.0/24".into())),
            ("zone", Value::Str("us-east-1b".into())),
        ])
    );
    assert_eq!(
        fields("security_group.db"),
        map(&[
            ("vpc", reference("vpc.main")),
            ("description", Value::Str("database".into())),
            (
                "ingress",
                rules(&["tcp:5432-5432:group=security_group.app"])
            ),
            ("egress", rules(&["all:all:cidr=0.0.0.0/0"])),
        ])
    );
    assert_eq!(
        fields("security_group.app").get("ingress"),
        Some(&rules(&["tcp:443-443:cidr=10.0.0.0/8"]))
    );
    assert_eq!(
        fields("instance.app[0]"),
        map(&[
            ("ami", Value::Str("ami-0c55b159cbfafe1f0".into())),
            ("instance_type", Value::Str("t3.medium".into())),
            ("subnet", reference("subnet.a")),
            ("security_groups", references(&["security_group.app"])),
            ("monitoring", Value::Bool(true)),
        ])
    );
    assert_eq!(
        fields("db_subnet_group.main"),
        map(&[
            ("subnets", references(&["subnet.a", "subnet.b"])),
            (
                "description",
                Value::Str("subnets of db_cluster.main".into())
            ),
        ])
    );
    assert_eq!(
        fields("db_cluster.main"),
        map(&[
            ("engine", Value::Str("aurora-postgresql".into())),
            ("engine_version", Value::Str("15.4".into())),
            ("subnet_group", reference("db_subnet_group.main")),
            ("security_groups", references(&["security_group.db"])),
            ("backup_retention_days", Value::Int(7)),
            ("backup_window", Value::Str("03:00-04:00".into())),
            ("deletion_protection", Value::Bool(true)),
            ("storage_encrypted", Value::Bool(true)),
            ("master_username", Value::Str("app".into())),
            (
                "parameter_group",
                reference("db_cluster_parameter_group.main"),
            ),
        ])
    );
    // TLS enforced through the cluster's own parameter group, of the engine's family.
    assert_eq!(
        fields("db_cluster_parameter_group.main"),
        map(&[
            ("family", Value::Str("aurora-postgresql15".into())),
            (
                "description",
                Value::Str("parameters of db_cluster.main".into())
            ),
            (
                "parameters",
                Value::List(vec![
                    Value::Str("rds.force_ssl=1".into()),
                    Value::Str("ssl_min_protocol_version=TLSv1.2".into()),
                ]),
            ),
        ])
    );
    assert_eq!(
        fields("db_instance.main[0]"),
        map(&[
            ("cluster", reference("db_cluster.main")),
            ("engine", Value::Str("aurora-postgresql".into())),
            ("instance_class", Value::Str("db.t3.medium".into())),
        ])
    );
    let security_group = resource(&staging, "security_group.db");
    assert_eq!(
        security_group.depends_on,
        ["vpc.main", "security_group.app"].map(|a| a.parse::<Address>().expect("valid"))
    );
}

#[test]
fn resource_spans_point_at_their_tables() {
    let production = expand("production");
    let span = resource(&production, "instance.app[2]").span;
    assert_eq!(&WEBAPP[span.start..span.end], "[instance.app]");
    let span = resource(&production, "db_instance.main[0]").span;
    assert_eq!(&WEBAPP[span.start..span.end], "[db_cluster.main]");
}

#[test]
fn unknown_environments_suggest_the_closest_name() {
    let error = webapp().expand("prodution").expect_err("not declared");
    assert_eq!(error.suggestion.as_deref(), Some("production"));
    assert_eq!(
        error.to_string(),
        "unknown environment `prodution`; did you mean `production`? \
         (the spec declares `staging` and `production`)"
    );
    let error = webapp().expand("qa").expect_err("not declared");
    assert_eq!(
        error.to_string(),
        "unknown environment `qa`; the spec declares `staging` and `production`"
    );
    assert_eq!(error.known, ["staging", "production"]);
}

#[test]
fn the_desired_state_round_trips_through_json() {
    let state = expand("production");
    let json = serde_json::to_string(&state).expect("serialisable");
    let back: DesiredState = serde_json::from_str(&json).expect("deserialisable");
    // Spans are not serialised; everything else survives.
    let strip = |mut s: DesiredState| {
        for r in &mut s.resources {
            r.span = Default::default();
        }
        s
    };
    assert_eq!(strip(back), strip(state));
}

#[test]
fn windows_line_endings_and_a_byte_order_mark_are_accepted() {
    let crlf = WEBAPP.replace('\n', "\r\n");
    let with_bom = format!("\u{FEFF}{WEBAPP}");
    for text in [crlf, with_bom] {
        let source = SourceFile::from_bytes("webapp.toml", text.into_bytes())
            .expect("utf-8")
            .with_file(
                "dashboards/main.json",
                Ok(include_str!("../../../environments/dashboards/main.json").into()),
            );
        let checked = check(&source, today());
        let rendered: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| d.render(&source))
            .collect();
        assert!(rendered.is_empty(), "{}", rendered.join("\n"));
        let spec = checked.spec.expect("clean");
        assert_eq!(spec.parity_digest(), webapp().parity_digest());
    }
}

#[test]
fn an_expired_difference_is_a_warning_not_a_cliff() {
    let source = SourceFile::new("environments/webapp.toml", WEBAPP).with_file(
        "dashboards/main.json",
        Ok(include_str!("../../../environments/dashboards/main.json").into()),
    );
    let after_expiry = CivilDate::new(2027, 7, 1).expect("valid date");
    let checked = check(&source, after_expiry);
    // The spec stays usable (read-only commands report it; changes need `--allow-expired`).
    assert!(checked.spec.is_some());
    let [diagnostic] = checked.diagnostics.as_slice() else {
        panic!("one diagnostic expected: {:?}", checked.diagnostics);
    };
    assert_eq!(diagnostic.severity, envctl_spec::Severity::Warning);
    assert_eq!(
        diagnostic.summary,
        "the difference in `backup_retention_days` of `db_cluster.main` expired on 2027-06-30"
    );
    assert!(
        diagnostic
            .hints
            .iter()
            .any(|h| h.contains("--allow-expired")),
        "{diagnostic:?}"
    );
}
