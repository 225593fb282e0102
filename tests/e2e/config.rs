//! Observability and configuration parity: log groups and SSM parameters are declared once,
//! created the same in every environment (values that differ only by the environment's name
//! written once with `${environment}`), read back independently, repaired after a change by
//! hand, and destroyed with their environment. What envctl does not own under the
//! environment's path is never touched.

use serde_json::Value;

use crate::support::{Emulator, Project};

fn value_of(inventory: &Value, name: &str) -> Value {
    inventory["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == name)
        .map_or(Value::Null, |p| p["value"].clone())
}

fn log_group<'a>(inventory: &'a Value, name: &str) -> Option<&'a Value> {
    inventory["log_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == name)
}

#[test]
fn log_groups_and_parameters_are_created_at_parity_repaired_and_destroyed() {
    let emulator = Emulator::start();
    // A list parameter besides the example's single values.
    let list = "[parameter.trusted-origins]\nvalues = [\"https://${environment}.example.com\", \"https://admin.example.com\"]\n\n[parameter.trace-sample-rate]";
    let project = Project::new("config", &[("[parameter.trace-sample-rate]", list)]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);

    // Read back with another client: names by path, tags, values per environment.
    let inventory = emulator.inventory();
    let group = inventory.by_address("log_groups", "staging", "log_group.app");
    assert_eq!(group["id"], "/webapp/staging/app");
    assert_eq!(group["retention_days"], 30);
    let endpoint = inventory.by_address("parameters", "staging", "parameter.trace-endpoint");
    assert_eq!(endpoint["id"], "/webapp/staging/trace-endpoint");
    assert_eq!(endpoint["type"], "String");
    assert_eq!(endpoint["value"], "staging-jaeger:6831");
    assert_eq!(
        value_of(&inventory.0, "/webapp/production/trace-endpoint"),
        "production-jaeger:6831"
    );
    assert_eq!(value_of(&inventory.0, "/webapp/staging/log-level"), "INFO");
    let origins = inventory.by_address("parameters", "staging", "parameter.trusted-origins");
    assert_eq!(origins["type"], "StringList");
    assert_eq!(
        origins["value"],
        "https://staging.example.com,https://admin.example.com"
    );

    // Two values that differ only by the environments' names are at parity.
    let parity = project
        .envctl(&emulator, &["parity", "--output", "json"])
        .expect_code(0);
    assert!(
        !parity.stdout.contains("trace-endpoint"),
        "{}",
        parity.stdout
    );

    // A log group under the environment's path that envctl did not create.
    emulator.client(&["create-log-group", "/webapp/staging/by-hand"]);
    // The incident: staging logs at DEBUG, and keeps its logs a week.
    emulator.client(&["set-parameter", "/webapp/staging/log-level", "DEBUG"]);
    emulator.client(&["set-retention", "/webapp/staging/app", "7"]);

    let drift = project
        .envctl(&emulator, &["drift", "staging", "--output", "json"])
        .expect_code(2);
    let report = drift.json();
    let modified: Vec<String> = crate::support::drift_entries(&report)
        .into_iter()
        .map(|(kind, address, _)| format!("{kind} {address}"))
        .collect();
    assert_eq!(
        modified,
        ["modified log_group.app", "modified parameter.log-level"],
        "{report:#}"
    );
    let parity = project
        .envctl(&emulator, &["parity", "--output", "json"])
        .expect_code(2);
    assert!(parity.stdout.contains("log-level"), "{}", parity.stdout);

    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    assert_eq!(value_of(&inventory.0, "/webapp/staging/log-level"), "INFO");
    assert_eq!(
        log_group(&inventory.0, "/webapp/staging/app").unwrap()["retention_days"],
        30
    );
    assert!(
        log_group(&inventory.0, "/webapp/staging/by-hand").is_some(),
        "reconcile deleted a log group envctl does not own"
    );
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(0);

    project
        .envctl(&emulator, &["destroy", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    assert!(log_group(&inventory.0, "/webapp/staging/app").is_none());
    assert_eq!(
        value_of(&inventory.0, "/webapp/staging/log-level"),
        Value::Null
    );
    assert!(log_group(&inventory.0, "/webapp/staging/by-hand").is_some());
    assert_eq!(
        value_of(&inventory.0, "/webapp/production/log-level"),
        "INFO",
        "destroying staging touched production"
    );
}

#[test]
fn a_secret_is_written_from_its_source_never_shown_and_repaired_when_it_changes() {
    let emulator = Emulator::start();
    let declared = "[parameter.db-password]\nsecure = true\nvalue_from = \"file:db-password.txt\"\n\n[parameter.trace-sample-rate]";
    let project = Project::new("secret", &[("[parameter.trace-sample-rate]", declared)]);
    let first = "correct-horse-battery-SENTINEL-1";
    let second = "correct-horse-battery-SENTINEL-2";
    let name = "/webapp/staging/db-password";

    // A missing source is refused before any call, naming the source and never a value.
    let proxy = crate::support::Proxy::start(&emulator, 0.0, 0);
    let refused = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert_eq!(proxy.stats()["total"], 0, "{}", proxy.stats());
    assert!(
        refused.stderr.contains("db-password.txt")
            && refused.stderr.contains("parameter.db-password"),
        "{}",
        refused.stderr
    );
    assert!(emulator.inventory().owned_addresses("staging").is_empty());

    let secret_file = project.dir.join("db-password.txt");
    std::fs::write(&secret_file, format!("{first}\n")).unwrap();
    let never_shown = |run: &crate::support::Run, what: &str| {
        for secret in [first, second] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{what} showed the secret:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    };
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--out", "staging.plan"])
        .expect_code(0);
    never_shown(&plan, "plan");
    let applied = project
        .envctl(
            &emulator,
            &["-vv", "apply", "--plan", "staging.plan", "--yes"],
        )
        .expect_code(0);
    never_shown(&applied, "apply -vv");
    let saved = std::fs::read_to_string(project.dir.join("staging.plan")).unwrap();
    assert!(!saved.contains(first), "the plan file holds the secret");
    // Written as a SecureString with the source's value (without the file's line ending).
    let inventory = emulator.inventory();
    let parameter = inventory.by_address("parameters", "staging", "parameter.db-password");
    assert_eq!(parameter["type"], "SecureString");
    assert_eq!(emulator.client(&["get-secret", name]), first);

    // Converged: no change while the source holds the same value.
    let again = project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
    never_shown(&again, "plan");

    // The source changes: the plan and drift say so without the value; reconcile writes it.
    std::fs::write(&secret_file, second).unwrap();
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(2);
    never_shown(&plan, "plan");
    assert!(
        plan.stdout.contains("value changed (secret)"),
        "{}",
        plan.stdout
    );
    let json = project
        .envctl(&emulator, &["plan", "staging", "--output", "json"])
        .expect_code(0);
    never_shown(&json, "plan --output json");
    let drift = project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(2);
    never_shown(&drift, "drift");
    assert!(
        drift.stdout.contains("value changed (secret)"),
        "{}",
        drift.stdout
    );
    let repaired = project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    never_shown(&repaired, "reconcile");
    assert_eq!(emulator.client(&["get-secret", name]), second);
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(0);

    // Without its source a secret cannot be compared: drift says so instead of guessing; a
    // destroy writes no secret and needs none.
    std::fs::remove_file(&secret_file).unwrap();
    let blind = project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(1);
    assert!(blind.stderr.contains("db-password.txt"), "{}", blind.stderr);
    project
        .envctl(&emulator, &["destroy", "staging", "--yes"])
        .expect_code(0);
    assert!(
        emulator
            .inventory()
            .owned("parameters", "staging")
            .is_empty()
    );
}

#[test]
fn database_settings_live_in_the_clusters_own_parameter_group_and_are_repaired_in_place() {
    let emulator = Emulator::start();
    let project = Project::new("db-parameters", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let group = "webapp-staging-main";
    let cluster = emulator.client(&["cluster", "webapp-staging-main"]);
    assert_eq!(cluster["parameter_group"], group, "{cluster}");
    let settings = emulator.client(&["cluster-parameters", group]);
    assert_eq!(settings["rds.force_ssl"], "1", "{settings}");
    assert_eq!(
        settings["ssl_min_protocol_version"], "TLSv1.2",
        "{settings}"
    );

    // TLS switched off by hand: drift, and reconcile turns it back on in place.
    emulator.client(&["set-cluster-parameter", group, "rds.force_ssl", "0"]);
    let drift = project
        .envctl(&emulator, &["drift", "staging", "--output", "json"])
        .expect_code(2);
    let report = drift.json();
    let entries: Vec<String> = report["environments"][0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["kind"].as_str().unwrap(),
                d["address"].as_str().unwrap()
            )
        })
        .collect();
    // Like a rule added to a security group by hand: the setting the spec wants is missing
    // (modified), the one set by hand is not in the spec (unmanaged).
    assert_eq!(
        entries,
        [
            "modified db_cluster_parameter_group.main",
            "unmanaged db_cluster_parameter_group.main"
        ],
        "{report:#}"
    );
    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    assert_eq!(
        emulator.client(&["cluster-parameters", group])["rds.force_ssl"],
        "1"
    );

    // A changed setting in the spec is an update of the group, never a replacement of the
    // cluster or the group.
    project.write_spec(&[(
        "\"ssl_min_protocol_version\" = \"TLSv1.2\"",
        "\"ssl_min_protocol_version\" = \"TLSv1.3\"",
    )]);
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    let changes: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [(
            "update".to_string(),
            "db_cluster_parameter_group.main".to_string()
        )],
        "{plan:#}"
    );
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    assert_eq!(
        emulator.client(&["cluster-parameters", group])["ssl_min_protocol_version"],
        "TLSv1.3"
    );

    project
        .envctl(&emulator, &["destroy", "staging", "--yes"])
        .expect_code(0);
    assert_eq!(emulator.client(&["cluster-parameters", group]), Value::Null);
}
