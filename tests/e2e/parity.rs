//! Parity across environments, the promotion gate, declared differences and the audit.

use crate::support::{Emulator, Project};

fn apply_both(project: &Project, emulator: &Emulator) {
    project
        .envctl(emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(emulator, &["apply", "production", "--yes"])
        .expect_code(0);
}

#[test]
fn two_environments_applied_from_one_spec_are_at_parity() {
    let emulator = Emulator::start();
    let project = Project::new("parity-equal", &[]);
    apply_both(&project, &emulator);
    let report = project
        .envctl(&emulator, &["parity", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(report["from"], "staging");
    assert_eq!(report["to"], "production");
    // Only the declared difference remains; scale (3 instances vs 1, classes) is masked.
    let differences = report["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{report:#}");
    assert_eq!(differences[0]["address"], "db_cluster.main");
    assert_eq!(differences[0]["field"], "backup_retention_days");
    assert_eq!(differences[0]["from_value"], 7);
    assert_eq!(differences[0]["to_value"], 30);
    assert_eq!(differences[0]["declared"], true);
}

#[test]
fn an_out_of_band_engine_version_change_breaks_parity() {
    let emulator = Emulator::start();
    let project = Project::new("parity-engine", &[]);
    apply_both(&project, &emulator);
    emulator.client(&["set-engine-version", "webapp-production-main", "15.5"]);
    let run = project
        .envctl(
            &emulator,
            &["parity", "staging", "production", "--output", "json"],
        )
        .expect_code(2);
    let report = run.json();
    let undeclared: Vec<&serde_json::Value> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["declared"] == false)
        .collect();
    assert_eq!(undeclared.len(), 1, "{report:#}");
    assert_eq!(undeclared[0]["field"], "engine_version");
    assert_eq!(undeclared[0]["from_value"], "15.4");
    assert_eq!(undeclared[0]["to_value"], "15.5");
    let text = project
        .envctl(&emulator, &["parity", "staging", "production"])
        .expect_code(2);
    assert!(
        text.stdout
            .contains("UNDECLARED db_cluster.main.engine_version"),
        "{}",
        text.stdout
    );
}

#[test]
fn production_is_refused_while_staging_is_unconverged_and_allowed_once_it_converges() {
    let emulator = Emulator::start();
    let project = Project::new("gate", &[]);
    // Staging never applied: production must wait.
    let refused = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(1);
    assert!(
        refused.stderr.contains("has not converged"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("missing   vpc.main"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--skip-promotion-gate"),
        "{}",
        refused.stderr
    );
    assert!(
        emulator
            .inventory()
            .owned_addresses("production")
            .is_empty()
    );

    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let id = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["set-instance-type", &id, "m5.large"]);
    let drifted = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(1);
    assert!(
        drifted
            .stderr
            .contains("modified  instance.app[0] (instance_type)"),
        "{}",
        drifted.stderr
    );
    assert!(
        emulator
            .inventory()
            .owned_addresses("production")
            .is_empty()
    );

    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let allowed = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);
    assert!(
        allowed
            .stderr
            .contains("promotion gate: `staging` has converged"),
        "{}",
        allowed.stderr
    );
    assert!(
        !emulator
            .inventory()
            .owned_addresses("production")
            .is_empty()
    );
}

#[test]
fn skipping_the_gate_needs_a_reason_which_is_recorded_on_the_vpc() {
    let emulator = Emulator::start();
    let project = Project::new("gate-skip", &[]);
    let no_reason = project
        .envctl(
            &emulator,
            &["apply", "production", "--yes", "--skip-promotion-gate"],
        )
        .expect_code(1);
    assert!(
        no_reason.stderr.contains("--reason"),
        "{}",
        no_reason.stderr
    );
    let run = project
        .envctl(
            &emulator,
            &[
                "apply",
                "production",
                "--yes",
                "--skip-promotion-gate",
                "--reason",
                "hotfix INC-42",
            ],
        )
        .expect_code(0);
    assert!(
        run.stderr.contains("skipping the promotion gate"),
        "{}",
        run.stderr
    );
    let vpc = emulator
        .inventory()
        .by_address("vpcs", "production", "vpc.main");
    let tag = vpc["tags"]["envctl:promotion-override"].as_str().unwrap();
    assert!(tag.starts_with("hotfix INC-42 - skipped on "), "{tag}");
}

#[test]
fn declared_differences_are_listed_and_those_about_to_expire_are_flagged() {
    let emulator = Emulator::start();
    let soon = String::from_utf8(
        std::process::Command::new("date")
            .args(["-u", "-d", "+10 days", "+%F"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let project = Project::new(
        "differences",
        &[(
            "expires = 2027-06-30",
            &format!("expires = {}", soon.trim()),
        )],
    );
    let listed = project
        .envctl(&emulator, &["parity", "--differences"])
        .expect_code(0);
    assert!(
        listed
            .stdout
            .contains("db_cluster.main.backup_retention_days"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("owner:   platform-team"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("EXPIRES in 10 days"),
        "{}",
        listed.stdout
    );
    let json = project
        .envctl(&emulator, &["parity", "--differences", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(json["differences"][0]["status"], "expiring");
    assert_eq!(json["differences"][0]["days_left"], 10);
}

#[test]
fn the_audit_reports_drift_parity_and_differences_in_one_run() {
    let emulator = Emulator::start();
    let project = Project::new("audit", &[]);
    apply_both(&project, &emulator);
    let clean = project
        .envctl(&emulator, &["audit", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(clean["findings"], 0, "{clean:#}");

    emulator.client(&["set-engine-version", "webapp-production-main", "15.5"]);
    let group = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    let report = project
        .envctl(&emulator, &["audit", "--output", "json"])
        .expect_code(2)
        .json();
    // The open SSH rule is staging drift, a critical compliance violation and, as staging now
    // differs from production, a parity difference too; the engine version is a parity
    // difference, and in production a note the report carries (the spec should say what runs;
    // envctl never downgrades).
    assert_eq!(report["findings"], 5, "{report:#}");
    assert_eq!(
        report["compliance"][0]["violations"][0]["message"],
        "[critical] staging: forbid_world_ingress (security_group.app allows tcp/22 from 0.0.0.0/0)"
    );
    assert_eq!(report["drift"][1]["notes"][0]["address"], "db_cluster.main");
    // Only critical violations fail: the note (low) no longer counts.
    let critical = project
        .envctl(
            &emulator,
            &["audit", "--output", "json", "--fail-on", "critical"],
        )
        .expect_code(2)
        .json();
    assert_eq!(critical["findings"], 4, "{critical:#}");
    assert_eq!(report["drift"][0]["drift"][0]["kind"], "unmanaged");
    let parity: Vec<&str> = report["parity"][0]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["declared"] == false)
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(parity, ["engine_version", "ingress"]);
    let markdown = project
        .envctl(&emulator, &["audit", "--output", "markdown"])
        .expect_code(2);
    assert!(
        markdown.stdout.starts_with("# envctl audit"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("| `db_cluster.main` | `engine_version` | \"15.4\" | \"15.5\" | **no** |"),
        "{}",
        markdown.stdout
    );
}
