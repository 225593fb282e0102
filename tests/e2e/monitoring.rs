//! Monitoring parity: alarms are declared once, follow the count of what they watch (one per
//! app instance, one on the database), are created the same in every environment with each
//! environment's own on-call topic, read back independently, repaired after a change by hand,
//! and destroyed with their environment. An alarm under the environment's naming that envctl
//! did not create is never touched.

use serde_json::Value;

use crate::support::{Emulator, Inventory, Project};

/// The alarms `environment` owns, by name.
fn alarms(inventory: &Inventory, environment: &str) -> Vec<Value> {
    let mut found = inventory.owned("alarms", environment);
    found.sort_by_key(|a| a["id"].as_str().unwrap_or_default().to_string());
    found
}

fn names(alarms: &[Value]) -> Vec<&str> {
    alarms.iter().map(|a| a["id"].as_str().unwrap()).collect()
}

#[test]
fn alarms_follow_their_instances_and_are_repaired_and_destroyed() {
    let emulator = Emulator::start();
    let project = Project::new("monitoring", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);

    // One CPU alarm per app instance (staging runs 1, production 3) and one on the database.
    let inventory = emulator.inventory();
    let staging = alarms(&inventory, "staging");
    assert_eq!(
        names(&staging),
        ["webapp-staging-app-cpu-0", "webapp-staging-db-cpu"]
    );
    assert_eq!(
        names(&alarms(&inventory, "production")),
        [
            "webapp-production-app-cpu-0",
            "webapp-production-app-cpu-1",
            "webapp-production-app-cpu-2",
            "webapp-production-db-cpu"
        ]
    );
    let instance = inventory.by_address("instances", "staging", "instance.app[0]");
    let app = &staging[0];
    assert_eq!(app["dimensions"]["InstanceId"], instance["id"]);
    assert_eq!(app["namespace"], "AWS/EC2");
    assert_eq!(app["comparison"], "GreaterThanThreshold");
    assert_eq!(app["threshold"], 80.0);
    assert_eq!(app["evaluation_periods"], 2);
    assert_eq!(
        app["actions"][0],
        "arn:aws:sns:us-east-1:123456789012:webapp-staging-oncall"
    );
    assert_eq!(app["tags"]["envctl:address"], "alarm.app-cpu[0]");
    let database = &staging[1];
    assert_eq!(
        database["dimensions"]["DBClusterIdentifier"],
        "webapp-staging-main"
    );
    assert_eq!(database["comparison"], "GreaterThanOrEqualToThreshold");
    assert_eq!(database["threshold"], 90.5);

    // The same alarms in both environments: their count and topics differ only by scale and
    // by the environments' own names.
    let parity = project
        .envctl(&emulator, &["parity", "--output", "json"])
        .expect_code(0);
    assert!(!parity.stdout.contains("alarm."), "{}", parity.stdout);

    // The incident: someone raises staging's threshold and deletes its database alarm; an
    // alarm of someone else's sits under the environment's naming.
    emulator.client(&["set-alarm-threshold", "webapp-staging-app-cpu-0", "95"]);
    emulator.client(&["delete-alarm", "webapp-staging-db-cpu"]);
    emulator.client(&[
        "create-alarm",
        "webapp-staging-by-hand",
        instance["id"].as_str().unwrap(),
    ]);
    let drift = project
        .envctl(&emulator, &["drift", "staging", "--output", "json"])
        .expect_code(2);
    let report = drift.json();
    let found: Vec<String> = crate::support::drift_entries(&report)
        .into_iter()
        .map(|(kind, address, _)| format!("{kind} {address}"))
        .collect();
    assert_eq!(
        found,
        ["missing alarm.db-cpu", "modified alarm.app-cpu[0]"],
        "{report:#}"
    );
    let human = project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(2);
    assert!(
        human.stdout.contains("threshold: live 95, spec 80"),
        "{}",
        human.stdout
    );
    let parity = project
        .envctl(&emulator, &["parity", "--output", "json"])
        .expect_code(2);
    assert!(parity.stdout.contains("alarm.db-cpu"), "{}", parity.stdout);

    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    let staging = alarms(&inventory, "staging");
    assert_eq!(
        names(&staging),
        ["webapp-staging-app-cpu-0", "webapp-staging-db-cpu"]
    );
    assert_eq!(staging[0]["threshold"], 80.0);
    let by_hand = inventory.0["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "webapp-staging-by-hand")
        .cloned()
        .expect("reconcile deleted an alarm envctl does not own");
    assert_eq!(by_hand["metric"], "NetworkIn", "reconcile rewrote it");
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(0);

    // Scale: a second app instance gets its own alarm, on its own id.
    project.write_spec(&[(
        "instance.app = { instance_type = \"t3.medium\", count = 1 }",
        "instance.app = { instance_type = \"t3.medium\", count = 2 }",
    )]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    let second = inventory.by_address("alarms", "staging", "alarm.app-cpu[1]");
    let instance = inventory.by_address("instances", "staging", "instance.app[1]");
    assert_eq!(second["id"], "webapp-staging-app-cpu-1");
    assert_eq!(second["dimensions"]["InstanceId"], instance["id"]);

    project
        .envctl(&emulator, &["destroy", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    assert!(alarms(&inventory, "staging").is_empty());
    assert!(
        inventory.0["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == "webapp-staging-by-hand"),
        "destroy deleted an alarm envctl does not own"
    );
    assert_eq!(
        alarms(&inventory, "production").len(),
        4,
        "destroying staging touched production"
    );
}

/// The ids of `instance.app[0..count]` of `environment`, in index order.
fn instance_ids(inventory: &Inventory, environment: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            inventory.by_address("instances", environment, &format!("instance.app[{i}]"))["id"]
                .clone()
        })
        .collect()
}

/// The dashboard named `name`, as the independent client read it.
fn dashboard(inventory: &Inventory, name: &str) -> Option<Value> {
    inventory.0["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == name)
        .map(|d| d["body"].clone())
}

#[test]
fn a_dashboard_shows_each_environments_own_resources_and_is_repaired() {
    let emulator = Emulator::start();
    let project = Project::new("dashboard", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);

    // Each environment's body names its own instances and cluster, placeholders filled in.
    let inventory = emulator.inventory();
    let staging = dashboard(&inventory, "webapp-staging-main").expect("staging's dashboard");
    let instance = inventory.by_address("instances", "staging", "instance.app[0]");
    assert_eq!(
        staging["widgets"][1]["properties"]["params"]["instances"],
        serde_json::json!([instance["id"]])
    );
    assert_eq!(
        staging["widgets"][2]["properties"]["metrics"][0][3],
        "webapp-staging-main"
    );
    assert_eq!(
        staging["widgets"][0]["properties"]["title"],
        "webapp staging: app CPU"
    );
    let production =
        dashboard(&inventory, "webapp-production-main").expect("production's dashboard");
    let production_ids = instance_ids(&inventory, "production", 3);
    assert_eq!(
        production["widgets"][1]["properties"]["params"]["instances"],
        Value::Array(production_ids)
    );
    // Bodies that differ only by names and ids are at parity.
    let parity = project
        .envctl(&emulator, &["parity", "--output", "json"])
        .expect_code(0);
    assert!(!parity.stdout.contains("dashboard."), "{}", parity.stdout);

    // Someone retitles staging's dashboard by hand: found at its JSON path, and repaired.
    let mut edited = staging.clone();
    edited["widgets"][0]["properties"]["title"] = "by hand".into();
    emulator.client(&["put-dashboard", "webapp-staging-main", &edited.to_string()]);
    let drift = project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(2);
    assert!(
        drift.stdout.contains(
            "body.widgets[0].properties.title: live \"by hand\", spec \"webapp staging: app CPU\""
        ),
        "{}",
        drift.stdout
    );
    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    assert_eq!(
        dashboard(&emulator.inventory(), "webapp-staging-main").unwrap(),
        staging
    );
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(0);

    // A second instance: the dashboard is rewritten to show both.
    project.write_spec(&[(
        "instance.app = { instance_type = \"t3.medium\", count = 1 }",
        "instance.app = { instance_type = \"t3.medium\", count = 2 }",
    )]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    let ids = instance_ids(&inventory, "staging", 2);
    assert_eq!(
        dashboard(&inventory, "webapp-staging-main").unwrap()["widgets"][1]["properties"]["params"]
            ["instances"],
        Value::Array(ids)
    );

    project
        .envctl(&emulator, &["destroy", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    assert!(dashboard(&inventory, "webapp-staging-main").is_none());
    assert!(
        dashboard(&inventory, "webapp-production-main").is_some(),
        "destroying staging touched production"
    );
}

#[test]
fn a_read_takes_the_tags_of_every_alarm_in_one_call_whatever_their_number() {
    let emulator = Emulator::start();
    let proxy = crate::support::Proxy::start(&emulator, 0.0, 0);
    let project = Project::new("monitoring-calls", &[]);
    // Staging has two alarms (one app instance), production four (three).
    for environment in ["staging", "production"] {
        project
            .envctl(&emulator, &["apply", environment, "--yes"])
            .expect_code(0);
    }
    // `drift` reads the one environment (production's plan would read staging too, for the
    // promotion gate).
    let calls_of_read = |environment: &str| {
        proxy.reset_stats();
        project
            .envctl_via(&proxy.endpoint, &["drift", environment])
            .expect_code(0);
        let stats = proxy.stats();
        let count = |action: &str| stats["by_action"][action].as_u64().unwrap_or(0);
        (
            count("tagging:GetResources"),
            count("DescribeAlarms"),
            count("ListTagsForResource"),
        )
    };
    let staging = calls_of_read("staging");
    let production = calls_of_read("production");
    assert_eq!(staging.0, 1, "one tagging listing: {staging:?}");
    assert_eq!(staging.1, 1, "one alarm listing: {staging:?}");
    assert_eq!(
        staging, production,
        "two more alarms make no more calls (tagging listing, alarm listing, tag reads)"
    );
}
