//! Plan, apply and destroy as a deploy pipeline runs them.

use serde_json::Value;

use crate::support::{Emulator, Project};

/// The addresses `envctl show ENV` says the environment should have, sorted.
fn expected_addresses(project: &Project, emulator: &Emulator, environment: &str) -> Vec<String> {
    let shown = project
        .envctl(emulator, &["show", environment, "--output", "json"])
        .expect_code(0)
        .json();
    let mut addresses: Vec<String> = shown["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect();
    addresses.sort();
    addresses
}

#[test]
fn apply_creates_exactly_the_expanded_resources_and_a_second_plan_is_empty() {
    let emulator = Emulator::start();
    let project = Project::new("apply-exact", &[]);
    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    assert!(run.stderr.contains("Apply complete"), "{}", run.stderr);

    let inventory = emulator.inventory();
    assert_eq!(
        inventory.owned_addresses("staging"),
        expected_addresses(&project, &emulator, "staging")
    );
    // Values reached AWS as the spec says (staging's scale and declared difference).
    let instance = inventory.by_address("instances", "staging", "instance.app[0]");
    assert_eq!(instance["type"], "t3.medium");
    assert_eq!(instance["state"], "running");
    let cluster = inventory.by_address("db_clusters", "staging", "db_cluster.main");
    assert_eq!(cluster["engine_version"], "15.4");
    assert_eq!(cluster["backup_retention_days"], 7);
    assert_eq!(cluster["tags"]["Name"], "webapp-staging-main");
    let db = inventory.by_address("security_groups", "staging", "security_group.db");
    let app = inventory.by_address("security_groups", "staging", "security_group.app");
    assert_eq!(db["name"], "webapp-staging-db");
    assert_eq!(
        db["ingress"][0]["UserIdGroupPairs"][0]["GroupId"],
        app["id"]
    );

    let plan = project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}

#[test]
fn a_scale_change_plans_only_in_place_updates_and_applies_them() {
    let emulator = Emulator::start();
    let project = Project::new("scale-change", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project.write_spec(&[(
        r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
        r#"instance.app = { instance_type = "t3.large", count = 1 }"#,
    )]);
    let plan = project
        .envctl(
            &emulator,
            &["plan", "staging", "--output", "json", "--detailed-exitcode"],
        )
        .expect_code(2)
        .json();
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{plan:#}");
    assert_eq!(changes[0]["address"], "instance.app[0]");
    assert_eq!(changes[0]["action"], "update");
    assert_eq!(changes[0]["cause"], "spec");
    assert_eq!(changes[0]["fields"][0]["field"], "instance_type");
    assert_eq!(changes[0]["fields"][0]["live"], "t3.medium");
    assert_eq!(changes[0]["fields"][0]["desired"], "t3.large");
    assert_eq!(plan["summary"]["update"], 1);

    let id_before = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]")["id"]
        .clone();
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let instance = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]");
    assert_eq!(instance["type"], "t3.large");
    assert_eq!(
        instance["id"], id_before,
        "an in-place update keeps the instance"
    );
    project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn lowering_the_count_from_three_to_one_removes_the_two_highest_instances() {
    let emulator = Emulator::start();
    let three = r#"instance.app = { instance_type = "t3.medium", count = 3 }"#;
    let one = r#"instance.app = { instance_type = "t3.medium", count = 1 }"#;
    let project = Project::new("count-down", &[(one, three)]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    assert_eq!(emulator.inventory().owned("instances", "staging").len(), 3);
    let first = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]")["id"]
        .clone();

    project.write_spec(&[]);
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    let changes: Vec<(&str, &str)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["address"].as_str().unwrap(),
            )
        })
        .collect();
    // The instances beyond the count go, with the alarms on them; the dashboard that
    // listed them is rewritten.
    assert_eq!(
        changes,
        [
            ("update", "dashboard.main"),
            ("delete", "instance.app[1]"),
            ("delete", "instance.app[2]"),
            ("delete", "alarm.app-cpu[1]"),
            ("delete", "alarm.app-cpu[2]"),
        ]
    );

    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let instances = emulator.inventory().owned("instances", "staging");
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["id"], first);
}

#[test]
fn staging_and_production_live_side_by_side_without_touching_each_other() {
    let emulator = Emulator::start();
    let project = Project::new("side-by-side", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let staging_before = emulator.inventory().owned_addresses("staging");
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);

    let inventory = emulator.inventory();
    assert_eq!(inventory.owned_addresses("staging"), staging_before);
    assert_eq!(
        inventory.owned_addresses("production"),
        expected_addresses(&project, &emulator, "production")
    );
    assert_eq!(inventory.owned("instances", "production").len(), 3);
    assert_eq!(inventory.owned("db_instances", "production").len(), 2);
    let cluster = inventory.by_address("db_clusters", "production", "db_cluster.main");
    assert_eq!(cluster["backup_retention_days"], 30);
    for environment in ["staging", "production"] {
        project
            .envctl(&emulator, &["plan", environment, "--detailed-exitcode"])
            .expect_code(0);
    }
}

#[test]
fn destroy_leaves_nothing_owned_and_spares_the_other_environment() {
    let emulator = Emulator::start();
    let project = Project::new("destroy", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);
    let production_before = emulator.inventory().owned_addresses("production");

    let run = project
        .envctl(&emulator, &["destroy", "staging", "--yes"])
        .expect_code(0);
    assert!(run.stderr.contains("Destroy complete"), "{}", run.stderr);
    let inventory = emulator.inventory();
    assert_eq!(inventory.owned_addresses("staging"), Vec::<String>::new());
    assert_eq!(inventory.owned_addresses("production"), production_before);
    assert!(
        !inventory.0["db_subnet_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == "webapp-staging-main")
    );
}

#[test]
fn a_protected_environment_is_not_destroyed_on_yes_alone() {
    let emulator = Emulator::start();
    let project = Project::new("protected", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);
    let before = emulator.inventory().owned_addresses("production");

    let refused = project
        .envctl(&emulator, &["destroy", "production", "--yes"])
        .expect_code(1);
    assert!(
        refused.stderr.contains("--confirm production"),
        "{}",
        refused.stderr
    );
    assert_eq!(emulator.inventory().owned_addresses("production"), before);

    let wrong = project
        .envctl(
            &emulator,
            &["destroy", "production", "--confirm", "staging"],
        )
        .expect_code(1);
    assert!(wrong.stderr.contains("does not name"), "{}", wrong.stderr);

    project
        .envctl(
            &emulator,
            &["destroy", "production", "--confirm", "production"],
        )
        .expect_code(0);
    // Deletion protection was lifted by destroy, and only by it.
    assert_eq!(
        emulator.inventory().owned_addresses("production"),
        Vec::<String>::new()
    );
}

#[test]
fn apply_without_a_terminal_and_without_yes_refuses_and_changes_nothing() {
    let emulator = Emulator::start();
    let project = Project::new("no-tty", &[]);
    let run = project
        .envctl(&emulator, &["apply", "staging"])
        .expect_code(1);
    assert!(run.stderr.contains("error: refusing"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: pass `--yes`"), "{}", run.stderr);
    assert_eq!(
        emulator.inventory().owned_addresses("staging"),
        Vec::<String>::new()
    );
}

#[test]
fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused() {
    let emulator = Emulator::start();
    let project = Project::new("saved-plan", &[]);
    project
        .envctl(&emulator, &["plan", "staging", "--out", "staging.plan"])
        .expect_code(0);
    let saved = std::fs::read_to_string(project.dir.join("staging.plan")).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["environment"], "staging");

    project
        .envctl(&emulator, &["apply", "--plan", "staging.plan", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);

    // A plan made before someone else changed the environment must not be applied.
    project.write_spec(&[(
        r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
        r#"instance.app = { instance_type = "t3.medium", count = 2 }"#,
    )]);
    project
        .envctl(&emulator, &["plan", "staging", "--out", "grow.plan"])
        .expect_code(0);
    let id = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["set-instance-type", &id, "t3.nano"]);
    let stale = project
        .envctl(&emulator, &["apply", "--plan", "grow.plan", "--yes"])
        .expect_code(1);
    assert!(stale.stderr.contains("is stale"), "{}", stale.stderr);
    assert_eq!(emulator.inventory().owned("instances", "staging").len(), 1);
}

#[test]
fn a_root_volume_size_is_set_at_launch_and_grown_in_place() {
    let emulator = Emulator::start();
    let project = Project::new(
        "volume-size",
        &[(
            "\nmonitoring = true",
            "\nmonitoring = true\nvolume_size = 20",
        )],
    );
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let instance = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]");
    assert!(
        instance["volume_sizes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(20)),
        "{instance}"
    );
    project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);

    // volume_size is a scale field: production may override it, and growing it is in place.
    project.write_spec(&[
        (
            "\nmonitoring = true",
            "\nmonitoring = true\nvolume_size = 20",
        ),
        (
            r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
            r#"instance.app = { instance_type = "t3.medium", count = 1, volume_size = 50 }"#,
        ),
    ]);
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(plan["changes"][0]["action"], "update", "{plan:#}");
    assert_eq!(plan["changes"][0]["fields"][0]["field"], "volume_size");
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let grown = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]");
    assert_eq!(grown["id"], instance["id"]);
    assert!(
        grown["volume_sizes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(50)),
        "{grown}"
    );
    project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn a_groups_rules_are_authorized_in_one_call_per_direction() {
    let emulator = Emulator::start();
    let proxy = crate::support::Proxy::start(&emulator, 0.0, 0);
    let project = Project::new(
        "rules-one-call",
        &[(
            r#"ingress = [{ protocol = "tcp", ports = "443", cidr = "10.0.0.0/8" }]"#,
            r#"ingress = [
  { protocol = "tcp", ports = "443", cidr = "10.0.0.0/8" },
  { protocol = "tcp", ports = "80", cidr = "10.0.0.0/8" },
  { protocol = "tcp", ports = "8080-8090", cidr = "10.1.0.0/16" },
]"#,
        )],
    );
    project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(0);
    let stats = proxy.stats();
    assert_eq!(
        stats["by_action"]["AuthorizeSecurityGroupIngress"], 2,
        "one call for app's three rules, one for db's: {stats}"
    );
    let app = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app");
    let mut ports: Vec<i64> = app["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["FromPort"].as_i64())
        .collect();
    ports.sort();
    assert_eq!(ports, [80, 443, 8080]);
}

#[test]
fn plan_json_tells_the_whole_change_and_progress_counts_with_ids() {
    let emulator = Emulator::start();
    let project = Project::new("plan-json-whole", &[]);
    let plan = project
        .envctl(&emulator, &["plan", "staging", "-o", "json"])
        .expect_code(0)
        .json();
    let vpc = &plan["changes"][0];
    assert_eq!(vpc["address"], "vpc.main");
    assert_eq!(vpc["kind"], "vpc");
    assert_eq!(
        vpc["fields"][0]["field"], "cidr",
        "a create shows its values: {vpc}"
    );
    assert_eq!(vpc["fields"][0]["desired"], "10.0.0.0/16");
    assert_eq!(vpc["fields"][0]["live"], Value::Null);

    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let vpc_id = emulator
        .inventory()
        .by_address("vpcs", "staging", "vpc.main")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        run.stderr
            .contains(&format!("] created vpc.main ({vpc_id}) in ")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("[19/19] "), "{}", run.stderr);

    // Fewer instances: the ones beyond the count are a scale-down, with what they were.
    project.write_spec(&[(
        r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
        r#"instance.app = { instance_type = "t3.medium", count = 2 }"#,
    )]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project.write_spec(&[]);
    let plan = project
        .envctl(&emulator, &["plan", "staging", "-o", "json"])
        .expect_code(0)
        .json();
    let gone = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "instance.app[1]")
        .unwrap_or_else(|| panic!("no change of instance.app[1]: {plan:#}"));
    assert_eq!(gone["action"], "delete", "{plan:#}");
    assert_eq!(gone["cause"], "scale-down");
    assert!(
        gone["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == "instance_type" && f["live"] == "t3.medium"),
        "a delete shows what it removes: {gone}"
    );
    let text = project
        .envctl(&emulator, &["plan", "staging"])
        .expect_code(0);
    assert!(
        text.stdout.contains("- instance.app[1]  (scale-down,"),
        "{}",
        text.stdout
    );
}

#[test]
fn target_plans_and_applies_only_the_named_resources_and_their_dependencies() {
    let emulator = Emulator::start();
    let project = Project::new("target", &[]);
    let addresses = |plan: &serde_json::Value| -> Vec<String> {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["address"].as_str().unwrap().to_string())
            .collect()
    };
    let plan = project
        .envctl(
            &emulator,
            &[
                "plan",
                "staging",
                "--target",
                "instance.app",
                "--output",
                "json",
            ],
        )
        .expect_code(0)
        .json();
    let mut planned = addresses(&plan);
    planned.sort();
    assert_eq!(
        planned,
        // Staging's one instance lives in subnet a: subnet b is not a dependency.
        [
            "instance.app[0]",
            "security_group.app",
            "subnet.a",
            "vpc.main"
        ],
        "the group and what it depends on, nothing else: {plan:#}"
    );
    let unknown = project
        .envctl(&emulator, &["plan", "staging", "--target", "instance.ap"])
        .expect_code(1);
    assert!(
        unknown
            .stderr
            .contains("`--target instance.ap`: `staging` has no resource or group"),
        "{}",
        unknown.stderr
    );

    // A saved targeted plan is carried out as saved: the target is part of it.
    let saved = project.dir.join("target.plan");
    project
        .envctl(
            &emulator,
            &[
                "plan",
                "staging",
                "--target",
                "security_group.db",
                "--out",
                saved.to_str().unwrap(),
            ],
        )
        .expect_code(0);
    project
        .envctl(
            &emulator,
            &["apply", "--plan", saved.to_str().unwrap(), "--yes"],
        )
        .expect_code(0);
    let owned = emulator.inventory().owned_addresses("staging");
    assert!(
        owned.contains(&"security_group.db".to_string()),
        "{owned:?}"
    );
    assert!(
        owned.contains(&"security_group.app".to_string()),
        "a dependency: {owned:?}"
    );
    assert!(
        !owned.iter().any(|a| a.starts_with("instance.")),
        "{owned:?}"
    );

    project
        .envctl(
            &emulator,
            &["apply", "staging", "--yes", "--target", "instance.app[0]"],
        )
        .expect_code(0);
    let owned = emulator.inventory().owned_addresses("staging");
    assert!(owned.contains(&"instance.app[0]".to_string()), "{owned:?}");
    assert!(
        !owned.iter().any(|a| a.starts_with("db_cluster")),
        "{owned:?}"
    );
    // Without a target, the rest of the spec is still to do.
    let rest = project
        .envctl(&emulator, &["plan", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    assert!(
        addresses(&rest).contains(&"db_cluster.main".to_string()),
        "{rest:#}"
    );
}
