//! `[compliance]` and `[[probes]]` as a user writes them in the example spec: the example
//! complies; a spec that breaks a rule is told where, per environment, most severe first; a
//! critical rule can only be waived by a complete declared difference; bad rule values are
//! errors at the value with the accepted forms in the hint.
#![allow(clippy::unwrap_used)]

use envctl_spec::{CivilDate, ComplianceSeverity, RuleName, SourceFile, check};

const WEBAPP: &str = include_str!("../../../environments/webapp.toml");

struct Checked {
    errors: Vec<String>,
    warnings: Vec<String>,
    spec: Option<envctl_spec::Spec>,
}

/// The example with `edits`, checked, with its compliance diagnostics rendered.
fn checked(edits: &[(&str, &str)]) -> Checked {
    let mut text = WEBAPP.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the example has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    let source = SourceFile::new("envctl.toml", &text).with_file(
        "dashboards/main.json",
        Ok(include_str!("../../../environments/dashboards/main.json").into()),
    );
    let result = check(&source, CivilDate::new(2026, 6, 1).expect("date"));
    let errors = result
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.render(&source))
        .collect();
    let warnings = result
        .spec
        .as_ref()
        .map(|spec| {
            spec.compliance_diagnostics()
                .iter()
                .map(|d| d.render(&source))
                .collect()
        })
        .unwrap_or_default();
    Checked {
        errors,
        warnings,
        spec: result.spec,
    }
}

const OPEN_SSH: (&str, &str) = (
    r#"ingress = [{ protocol = "tcp", ports = "443", cidr = "10.0.0.0/8" }]"#,
    r#"ingress = [{ protocol = "tcp", ports = "443", cidr = "10.0.0.0/8" }, { protocol = "tcp", ports = "22", cidr = "0.0.0.0/0" }]"#,
);

#[test]
fn the_example_turns_every_rule_on_and_complies() {
    let checked = checked(&[]);
    assert!(checked.errors.is_empty(), "{:#?}", checked.errors);
    assert!(checked.warnings.is_empty(), "{:#?}", checked.warnings);
    let spec = checked.spec.unwrap();
    let rules: Vec<RuleName> = spec.compliance().rules.iter().map(|r| r.name()).collect();
    assert_eq!(rules, RuleName::ALL);
    let monitoring = spec.compliance().rule(RuleName::RequireMonitoring).unwrap();
    assert_eq!(
        monitoring.severity,
        ComplianceSeverity::Critical,
        "overridden"
    );
    let alarms = spec.compliance().rule(RuleName::RequireAlarms).unwrap();
    assert_eq!(alarms.severity, ComplianceSeverity::Medium, "the default");
    assert_eq!(spec.probes().len(), 1);
    assert_eq!(
        spec.probes()[0].url_in("webapp", "staging", "us-east-1"),
        "file:probes/staging-versions.json"
    );
}

#[test]
fn ssh_open_to_the_world_is_a_critical_warning_at_the_rule_in_every_environment() {
    let checked = checked(&[OPEN_SSH]);
    assert!(checked.errors.is_empty(), "{:#?}", checked.errors);
    assert_eq!(checked.warnings.len(), 1, "{:#?}", checked.warnings);
    let warning = &checked.warnings[0];
    assert!(
        warning.contains(
            "[critical] staging, production: forbid_world_ingress (security_group.app allows tcp/22 from 0.0.0.0/0)"
        ),
        "{warning}"
    );
    assert!(warning.contains("--> envctl.toml:"), "{warning}");
    assert!(
        warning.contains("field = \"forbid_world_ingress\""),
        "{warning}"
    );
    let spec = checked.spec.unwrap();
    let staging = spec.expand("staging").unwrap();
    let violations = spec.compliance_of(&staging);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].0.severity, ComplianceSeverity::Critical);
    assert_eq!(violations[0].0.environment, "staging");
}

#[test]
fn violations_are_ranked_most_severe_first() {
    let checked = checked(&[
        OPEN_SSH,
        ("backup_retention_days = 7\n", "backup_retention_days = 3\n"),
        (
            "values = { staging = 7, production = 30 }",
            "values = { staging = 3, production = 30 }",
        ),
        ("monitoring = true\n", "monitoring = false\n"),
    ]);
    assert!(checked.errors.is_empty(), "{:#?}", checked.errors);
    let spec = checked.spec.unwrap();
    let staging = spec.expand("staging").unwrap();
    let severities: Vec<ComplianceSeverity> = spec
        .compliance_of(&staging)
        .into_iter()
        .map(|(v, _)| v.severity)
        .collect();
    assert!(
        severities.windows(2).all(|w| w[0] >= w[1]),
        "{severities:?}"
    );
    assert_eq!(severities.first(), Some(&ComplianceSeverity::Critical));
    assert_eq!(severities.last(), Some(&ComplianceSeverity::Medium));
    let rules: Vec<String> = spec
        .compliance_of(&staging)
        .into_iter()
        .map(|(v, _)| v.rule.to_string())
        .collect();
    assert!(
        rules.contains(&"min_backup_retention_days".to_string()),
        "{rules:?}"
    );
    assert!(
        rules.contains(&"require_monitoring".to_string()),
        "{rules:?}"
    );
}

#[test]
fn a_declared_difference_waives_a_rule_in_its_environment_only() {
    let exception = "[[differences]]
resource = \"compliance\"
field = \"forbid_world_ingress\"
values = { staging = false }
reason = \"Bastion-less SSH for the load test week\"
risk = \"SSH is open to the internet in staging\"
owner = \"platform-team\"
expires = 2026-06-20

# The only way a non-scale field may differ";
    let checked = checked(&[
        OPEN_SSH,
        ("# The only way a non-scale field may differ", exception),
    ]);
    assert!(checked.errors.is_empty(), "{:#?}", checked.errors);
    let spec = checked.spec.unwrap();
    let staging = spec.expand("staging").unwrap();
    let production = spec.expand("production").unwrap();
    assert!(spec.compliance_of(&staging).is_empty());
    assert_eq!(spec.compliance_of(&production).len(), 1);
    assert_eq!(checked.warnings.len(), 1, "{:#?}", checked.warnings);
    assert!(
        checked.warnings[0].contains("[critical] production: forbid_world_ingress"),
        "{}",
        checked.warnings[0]
    );
}

#[test]
fn bad_rule_values_are_errors_with_the_accepted_forms() {
    let checked = checked(&[
        ("require_tls = \"TLSv1.2\"", "require_tls = \"SSLv3\""),
        (
            "severity.require_monitoring = \"critical\"",
            "severity.require_monitoring = \"urgent\"\nrequire_everything = true",
        ),
    ]);
    assert!(checked.spec.is_none());
    let all = checked.errors.join("\n");
    assert!(all.contains("compliance rule `require_tls`"), "{all}");
    assert!(all.contains("hint:"), "{all}");
    assert!(all.contains("urgent"), "{all}");
    assert!(all.contains("require_everything"), "{all}");
    assert!(checked.errors.len() >= 3, "all problems in one run: {all}");
}
