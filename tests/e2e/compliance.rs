//! Compliance rules on the spec and on the live cloud, probe documents compared across
//! environments, and the audit report a person opens.

use scraper::{Html, Selector};

use crate::support::{Emulator, Project};

const OPEN_SSH: (&str, &str) = (
    r#"ingress = [{ protocol = "tcp", ports = "443", cidr = "10.0.0.0/8" }]"#,
    r#"ingress = [{ protocol = "tcp", ports = "443", cidr = "10.0.0.0/8" }, { protocol = "tcp", ports = "22", cidr = "0.0.0.0/0" }]"#,
);

fn apply_both(project: &Project, emulator: &Emulator) {
    project
        .envctl(emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(emulator, &["apply", "production", "--yes"])
        .expect_code(0);
}

fn select(selector: &str) -> Selector {
    Selector::parse(selector).unwrap()
}

#[test]
fn ssh_opened_by_hand_is_ranked_critical_and_reconcile_repairs_it() {
    let emulator = Emulator::start();
    let project = Project::new("compliance-live", &[]);
    apply_both(&project, &emulator);
    let clean = project.envctl(&emulator, &["compliance"]).expect_code(0);
    assert!(
        clean
            .stdout
            .contains("`staging`: complies with all 8 rules"),
        "{}",
        clean.stdout
    );

    // An incident: SSH opened to the world and TLS switched off on the database, by hand.
    let group = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    emulator.client(&[
        "set-cluster-parameter",
        "webapp-staging-main",
        "rds.force_ssl",
        "0",
    ]);
    let found = project
        .envctl(&emulator, &["compliance", "staging"])
        .expect_code(2);
    let lines: Vec<&str> = found
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('['))
        .map(str::trim)
        .collect();
    assert_eq!(
        lines,
        [
            "[critical] staging: forbid_world_ingress (security_group.app allows tcp/22 from 0.0.0.0/0)",
            "[high] staging: require_tls (db_cluster.main does not enforce TLS (set `rds.force_ssl` in its parameters))",
        ],
        "most severe first:\n{}",
        found.stdout
    );
    assert!(
        found.stdout.contains("`envctl reconcile staging`"),
        "the fix: {}",
        found.stdout
    );

    // `--fail-on` sets which severities fail; every violation is still listed.
    let critical = project
        .envctl(
            &emulator,
            &[
                "compliance",
                "staging",
                "--fail-on",
                "critical",
                "--output",
                "json",
            ],
        )
        .expect_code(2)
        .json();
    assert_eq!(critical["failing"], 1, "{critical:#}");
    let violations = critical["environments"][0]["violations"]
        .as_array()
        .unwrap();
    assert_eq!(violations.len(), 2);
    assert_eq!(violations[0]["severity"], "critical");
    assert_eq!(violations[0]["cause"], "drift");
    assert_eq!(violations[1]["rule"], "require_tls");

    // The audit counts the violation and shows it in every format.
    let audit = project
        .envctl(&emulator, &["audit", "--output", "json"])
        .expect_code(2)
        .json();
    let staging = &audit["compliance"][0];
    assert_eq!(staging["environment"], "staging");
    assert_eq!(staging["violations"][0]["rule"], "forbid_world_ingress");
    assert_eq!(audit["compliance"][1]["complies"], true, "{audit:#}");

    let html = project
        .envctl(&emulator, &["audit", "--output", "html"])
        .expect_code(2);
    let document = Html::parse_document(&html.stdout);
    let cell = |environment: &str, check: &str| {
        let selector = format!(
            "table.matrix tr[data-environment=\"{environment}\"] td[data-check=\"{check}\"]"
        );
        let cell = document.select(&select(&selector)).next().unwrap();
        (
            cell.value().attr("class").unwrap_or_default().to_string(),
            cell.text().collect::<String>(),
        )
    };
    assert_eq!(
        cell("staging", "compliance"),
        ("bad".into(), "1 critical, 1 high".into())
    );
    assert_eq!(cell("staging", "drift").0, "bad");
    assert_eq!(cell("production", "compliance").0, "ok");
    assert_eq!(cell("production", "probes"), ("ok".into(), "1 read".into()));
    let details: String = document
        .select(&select("#compliance-staging"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        details.contains("allows tcp/22 from 0.0.0.0/0"),
        "{details}"
    );

    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let repaired = project
        .envctl(&emulator, &["compliance", "staging"])
        .expect_code(0);
    assert!(
        repaired.stdout.contains("complies with all 8 rules"),
        "{}",
        repaired.stdout
    );
}

#[test]
fn a_critical_rule_broken_in_the_spec_refuses_apply_before_any_call() {
    let emulator = Emulator::start();
    let project = Project::new("compliance-spec", &[OPEN_SSH]);
    let validate = project.envctl(&emulator, &["validate"]).expect_code(1);
    assert!(
        validate.stderr.contains(
            "[critical] staging, production: forbid_world_ingress (security_group.app allows tcp/22 from 0.0.0.0/0)"
        ),
        "{}",
        validate.stderr
    );
    assert!(
        validate.stderr.contains("--> envctl.toml:"),
        "{}",
        validate.stderr
    );
    let proxy = crate::support::Proxy::strict(&emulator, 2);
    let apply = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert_eq!(
        proxy.stats()["total"],
        0,
        "refused before any call: {}",
        apply.stderr
    );
    assert!(
        apply
            .stderr
            .contains("`staging` would break 1 critical compliance rule"),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains("resource = \"compliance\""),
        "{}",
        apply.stderr
    );
    assert!(
        emulator.inventory().owned_addresses("staging").is_empty(),
        "nothing was created"
    );

    // A declared exception (reasoned, owned, expiring) for staging only lets staging go.
    let exception = "[[differences]]
resource = \"compliance\"
field = \"forbid_world_ingress\"
values = { staging = false }
reason = \"Vendor debugging session over SSH\"
risk = \"SSH is reachable from the internet in staging\"
owner = \"platform-team\"
expires = 2027-06-30

# The only way a non-scale field may differ";
    project.write_spec(&[
        OPEN_SSH,
        ("# The only way a non-scale field may differ", exception),
    ]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let production = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(1);
    assert!(
        production.stderr.contains("`production` would break"),
        "{}",
        production.stderr
    );
    // Live, the waived rule is not reported in staging.
    project
        .envctl(&emulator, &["compliance", "staging"])
        .expect_code(0);
}

#[test]
fn probe_documents_are_compared_key_by_key_unless_declared() {
    let emulator = Emulator::start();
    let project = Project::new("compliance-probes", &[]);
    apply_both(&project, &emulator);
    project.envctl(&emulator, &["parity"]).expect_code(0);

    // Production's service reports another OpenSSL, keys in another order.
    project.write_probe(
        "production-versions.json",
        r#"{"dependencies": {"pg": "8.11.3", "libpq": "15.4", "openssl": "3.0.2"},
            "runtime": {"node": "20.11.1"}, "version": "2.14.0", "service": "webapp"}"#,
    );
    let parity = project
        .envctl(&emulator, &["parity", "--output", "json"])
        .expect_code(2)
        .json();
    let undeclared: Vec<(String, String, String, String)> = parity["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["declared"] == false)
        .map(|d| {
            (
                d["address"].as_str().unwrap().to_string(),
                d["field"].as_str().unwrap().to_string(),
                d["from_value"].to_string(),
                d["to_value"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        undeclared,
        [(
            "probe.versions".to_string(),
            "dependencies.openssl".to_string(),
            "\"3.0.13\"".to_string(),
            "\"3.0.2\"".to_string()
        )],
        "{parity:#}"
    );

    // Declared, it is excused.
    let declared = "[[differences]]
resource = \"probe.versions\"
field = \"dependencies.openssl\"
reason = \"Production's base image lags one OpenSSL patch\"
risk = \"TLS behaviour may differ between environments\"
owner = \"platform-team\"
expires = 2027-06-30

# The only way a non-scale field may differ";
    project.write_spec(&[("# The only way a non-scale field may differ", declared)]);
    project.envctl(&emulator, &["parity"]).expect_code(0);

    // An unreachable probe is reported with the URL and a hint, never taken for parity.
    project.write_spec(&[
        ("# The only way a non-scale field may differ", declared),
        (
            "url = \"file:probes/${environment}-versions.json\"",
            "url = \"http://127.0.0.1:9/${environment}/versions.json\"",
        ),
    ]);
    let unreachable = project.envctl(&emulator, &["parity"]).expect_code(2);
    assert!(
        unreachable.stdout.contains(
            "UNREADABLE probe.versions in `staging`: http://127.0.0.1:9/staging/versions.json"
        ),
        "{}",
        unreachable.stdout
    );
    assert!(
        unreachable.stdout.contains("hint:"),
        "{}",
        unreachable.stdout
    );
    let audit = project
        .envctl(&emulator, &["audit", "--output", "json"])
        .expect_code(2)
        .json();
    assert_eq!(audit["probes"][0]["ok"], false, "{audit:#}");
    assert_eq!(
        audit["findings"], 2,
        "one unreachable probe per environment: {audit:#}"
    );
}
