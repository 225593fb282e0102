//! Drift after an incident: changes made by hand with another client are found, explained and
//! repaired, and what was not touched keeps its identity.

use crate::support::{Emulator, Project};

const TWO_INSTANCES: (&str, &str) = (
    r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
    r#"instance.app = { instance_type = "t3.medium", count = 2 }"#,
);

fn id(emulator: &Emulator, collection: &str, address: &str) -> String {
    emulator
        .inventory()
        .by_address(collection, "staging", address)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

use crate::support::drift_entries as entries;

#[test]
fn drift_finds_every_out_of_band_change_and_reconcile_repairs_them_all() {
    let emulator = Emulator::start();
    let project = Project::new("drift-all", &[TWO_INSTANCES]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(0);

    let vpc = id(&emulator, "vpcs", "vpc.main");
    let subnet = id(&emulator, "subnets", "subnet.a");
    let app_group = id(&emulator, "security_groups", "security_group.app");
    let first = id(&emulator, "instances", "instance.app[0]");
    let second = id(&emulator, "instances", "instance.app[1]");

    // The incident: six changes by hand.
    emulator.client(&["revoke-ingress", &app_group, "tcp", "443", "10.0.0.0/8"]);
    emulator.client(&["authorize-ingress", &app_group, "tcp", "22", "0.0.0.0/0"]);
    emulator.client(&["terminate-instance", &second]);
    emulator.client(&["set-instance-type", &first, "m5.4xlarge"]);
    emulator.client(&["set-backup-retention", "webapp-staging-main", "3"]);
    let stray_tags = r#"{"envctl:project": "webapp", "envctl:environment": "staging", "envctl:address": "instance.web[0]"}"#;
    let stray = emulator.client(&["run-instance", &subnet, stray_tags])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_hand = emulator.client(&["run-instance", &subnet, "{}"])["id"]
        .as_str()
        .unwrap()
        .to_string();

    let drift = project
        .envctl(&emulator, &["drift", "staging", "--output", "json"])
        .expect_code(2);
    let report = drift.json();
    let unmanaged_by_hand = format!("instance.unmanaged:{by_hand}");
    assert_eq!(
        entries(&report),
        [
            ("missing".into(), "instance.app[1]".into(), "spec".into()),
            // What watched or showed the terminated instance now names a stranger's id.
            ("modified".into(), "alarm.app-cpu[1]".into(), "drift".into()),
            // (A dashboard carries no tags, so no digest tells a hand edit from a spec edit.)
            ("modified".into(), "dashboard.main".into(), "spec".into()),
            ("modified".into(), "db_cluster.main".into(), "drift".into()),
            ("modified".into(), "instance.app[0]".into(), "drift".into()),
            (
                "modified".into(),
                "security_group.app".into(),
                "drift".into()
            ),
            ("unmanaged".into(), unmanaged_by_hand, "unmanaged".into()),
            (
                "unmanaged".into(),
                "instance.web[0]".into(),
                "orphan".into()
            ),
            (
                "unmanaged".into(),
                "security_group.app".into(),
                "drift".into()
            ),
        ],
        "{report:#}"
    );
    let text = project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(2);
    assert!(
        text.stdout.contains("changed outside envctl"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("tcp:22-22:cidr=0.0.0.0/0"),
        "{}",
        text.stdout
    );

    let repair = project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    assert!(
        repair.stderr.contains("Reconcile complete"),
        "{}",
        repair.stderr
    );
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(0);
    project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);

    // Repaired in place: untouched resources and the modified instance keep their ids.
    let inventory = emulator.inventory();
    assert_eq!(
        inventory.by_address("vpcs", "staging", "vpc.main")["id"],
        vpc.as_str()
    );
    assert_eq!(
        inventory.by_address("subnets", "staging", "subnet.a")["id"],
        subnet.as_str()
    );
    let group = inventory.by_address("security_groups", "staging", "security_group.app");
    assert_eq!(group["id"], app_group.as_str());
    let ports: Vec<i64> = group["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["FromPort"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [443]);
    let instance = inventory.by_address("instances", "staging", "instance.app[0]");
    assert_eq!(instance["id"], first.as_str());
    assert_eq!(instance["type"], "t3.medium");
    assert_ne!(
        inventory.by_address("instances", "staging", "instance.app[1]")["id"],
        second.as_str()
    );
    let cluster = inventory.by_address("db_clusters", "staging", "db_cluster.main");
    assert_eq!(cluster["backup_retention_days"], 7);
    let running: Vec<&str> = inventory.0["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "running")
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(!running.contains(&stray.as_str()));
    assert!(!running.contains(&by_hand.as_str()));
}

#[test]
fn drift_checks_every_environment_by_default_and_reads_only() {
    let emulator = Emulator::start();
    let project = Project::new("drift-readonly", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let app_group = id(&emulator, "security_groups", "security_group.app");
    emulator.client(&["authorize-ingress", &app_group, "tcp", "22", "0.0.0.0/0"]);

    let report = project
        .envctl(&emulator, &["drift", "--output", "json"])
        .expect_code(2)
        .json();
    let environments: Vec<&str> = report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(environments, ["staging", "production"]);
    // production was never applied: everything is missing, nothing else.
    let production = &report["environments"][1]["drift"];
    assert!(
        production
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["kind"] == "missing")
    );
    // Reading changed nothing.
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(2);
    let group = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app");
    assert_eq!(group["ingress"].as_array().unwrap().len(), 2);
}

#[test]
fn reconcile_without_a_terminal_or_yes_refuses_and_watch_needs_yes() {
    let emulator = Emulator::start();
    let project = Project::new("reconcile-refuses", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let app_group = id(&emulator, "security_groups", "security_group.app");
    emulator.client(&["authorize-ingress", &app_group, "tcp", "22", "0.0.0.0/0"]);
    let refused = project
        .envctl(&emulator, &["reconcile", "staging"])
        .expect_code(1);
    assert!(
        refused.stderr.contains("hint: pass `--yes`"),
        "{}",
        refused.stderr
    );
    let watch = project
        .envctl(&emulator, &["reconcile", "staging", "--watch"])
        .expect_code(1);
    assert!(watch.stderr.contains("needs `--yes`"), "{}", watch.stderr);
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(2);
}

#[test]
fn a_newer_engine_version_is_reported_as_skew_never_downgraded() {
    let emulator = Emulator::start();
    let project = Project::new("version-skew", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    emulator.client(&["set-engine-version", "webapp-staging-main", "15.5"]);
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
    // A note is a message: on stderr, not in the plan on stdout.
    assert!(
        plan.stderr.contains(
            "warning: db_cluster.main: the live engine version 15.5 is newer than the spec's 15.4"
        ),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains(r#"engine_version = "15.5""#),
        "{}",
        plan.stderr
    );
    assert!(!plan.stdout.contains("warning:"), "{}", plan.stdout);
    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let cluster = emulator
        .inventory()
        .by_address("db_clusters", "staging", "db_cluster.main");
    assert_eq!(cluster["engine_version"], "15.5");
}

#[test]
fn redeploy_replaces_drifted_resources_and_can_restore_a_git_revision() {
    let emulator = Emulator::start();
    let project = Project::new("redeploy", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let first = id(&emulator, "instances", "instance.app[0]");
    emulator.client(&["set-instance-type", &first, "m5.4xlarge"]);
    project
        .envctl(
            &emulator,
            &["redeploy", "staging", "--replace-drifted", "--yes"],
        )
        .expect_code(0);
    let instance = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]");
    assert_ne!(
        instance["id"],
        first.as_str(),
        "a drifted instance is replaced, not patched"
    );
    assert_eq!(instance["type"], "t3.medium");

    // Commit the spec, change it, then redeploy the committed version.
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(&project.dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "envctl.toml", "dashboards"]);
    git(&["commit", "-qm", "known good"]);
    project.write_spec(&[TWO_INSTANCES]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    assert_eq!(emulator.inventory().owned("instances", "staging").len(), 2);
    let run = project
        .envctl(
            &emulator,
            &["redeploy", "staging", "--ref", "HEAD", "--yes"],
        )
        .expect_code(0);
    assert!(run.stderr.contains("git revision `HEAD`"), "{}", run.stderr);
    assert_eq!(emulator.inventory().owned("instances", "staging").len(), 1);
    let bad = project
        .envctl(
            &emulator,
            &["redeploy", "staging", "--ref", "no-such-rev", "--yes"],
        )
        .expect_code(1);
    assert!(bad.stderr.contains("cannot read"), "{}", bad.stderr);
}

#[test]
fn reconcile_watch_repairs_drift_as_it_appears_and_stops_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let emulator = Emulator::start();
    let project = Project::new("watch", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let mut child = project
        .command_via(
            &emulator.endpoint,
            &[
                "reconcile",
                "staging",
                "--yes",
                "--watch",
                "--interval",
                "1s",
            ],
        )
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("`{needle}` never appeared"),
            }
        }
    };
    wait_for("next pass in 1s");
    // Drift appears while the controller runs; a later pass repairs it.
    let group = id(&emulator, "security_groups", "security_group.app");
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    wait_for("Reconcile complete");
    wait_for("next pass in 1s");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for("stopped by Ctrl-C");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(0);
}

#[test]
fn reconcile_target_repairs_only_the_named_resource() {
    let emulator = Emulator::start();
    let project = Project::new("reconcile-target", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let instance = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["set-instance-type", &instance, "m5.large"]);
    emulator.client(&["set-parameter", "/webapp/staging/log-level", "DEBUG"]);
    project
        .envctl(
            &emulator,
            &[
                "reconcile",
                "staging",
                "--yes",
                "--target",
                "parameter.log-level",
            ],
        )
        .expect_code(0);
    let left = project
        .envctl(&emulator, &["drift", "staging", "--output", "json"])
        .expect_code(2)
        .json();
    let addresses: Vec<&str> = left["environments"][0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["instance.app[0]"], "{left:#}");
}

#[test]
fn plan_lists_what_reconcile_would_remove_and_apply_leaves_it() {
    let emulator = Emulator::start();
    let project = Project::new("plan-unmanaged", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let subnet = id(&emulator, "subnets", "subnet.a");
    let by_hand = emulator.client(&["run-instance", &subnet, "{}"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let address = format!("instance.unmanaged:{by_hand}");

    // Apply would change nothing, so `--detailed-exitcode` says so; the instance is listed
    // apart, as what reconcile would delete.
    let plan = project
        .envctl(
            &emulator,
            &["plan", "staging", "-o", "json", "--detailed-exitcode"],
        )
        .expect_code(0);
    let plan = plan.json();
    assert_eq!(plan["changes"], serde_json::json!([]), "{plan:#}");
    let unmanaged: Vec<(String, String, String)> = plan["unmanaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
                c["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        unmanaged,
        [(address.clone(), "delete".into(), "unmanaged".into())],
        "{plan:#}"
    );
    let text = project
        .envctl(&emulator, &["plan", "staging"])
        .expect_code(0);
    assert!(
        text.stdout.contains(&format!("unmanaged {address}"))
            && text
                .stdout
                .contains("`envctl reconcile staging` would delete it"),
        "{}",
        text.stdout
    );

    // A saved plan that lists it applies as saved, and neither apply touches it.
    project
        .envctl(&emulator, &["plan", "staging", "--out", "staging.plan"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "--plan", "staging.plan", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let still = project
        .envctl(&emulator, &["plan", "staging", "-o", "json"])
        .expect_code(0);
    assert_eq!(still.json()["unmanaged"][0]["address"], address.as_str());

    // Reconcile removes it, and the plan lists nothing any more.
    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let after = project
        .envctl(&emulator, &["plan", "staging", "-o", "json"])
        .expect_code(0);
    assert_eq!(after.json()["unmanaged"], serde_json::json!([]));
}
