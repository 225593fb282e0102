//! Never make an environment worse, tried the way AWS behaves: every run here goes through the
//! test proxy in strict mode (`tests/e2e/aws_proxy.py --strict --slow-describes N`), which
//! refuses what AWS refuses where the emulator is lenient (a type change on a running
//! instance, deleting a group or subnet still in use, a cluster identifier still taken, a
//! DB subnet group a deleting cluster still uses) and makes every transition last several
//! describes (`pending`, `stopping`, `creating`, `deleting`).

use crate::support::{Emulator, Project, Proxy};

/// Transitions last this many describes of the resource.
const SLOW: u32 = 3;

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

fn apply_staging(project: &Project, proxy: &Proxy) {
    let run = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(0);
    assert!(run.stderr.contains("Apply complete"), "{}", run.stderr);
}

#[test]
fn a_subnet_change_that_would_replace_the_database_is_refused_before_any_change() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-subnet-cidr", &[TWO_INSTANCES]);
    apply_staging(&project, &proxy);
    let before = emulator.inventory().owned_addresses("staging");
    let cluster = id(&emulator, "db_clusters", "db_cluster.main");
    let instance = id(&emulator, "instances", "instance.app[0]");

    project.write_spec(&[
        TWO_INSTANCES,
        (r#"cidr = "10.0.1.0/24""#, r#"cidr = "10.0.3.0/24""#),
    ]);
    proxy.reset_stats();
    let plan = project
        .envctl_via(&proxy.endpoint, &["plan", "staging"])
        .expect_code(1);
    assert!(
        plan.stdout.contains(
            "blocked: db_cluster.main (would replace data): replacing subnet.a would replace db_cluster.main too, and it holds data"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("--replace db_cluster.main"),
        "{}",
        plan.stdout
    );
    let json = project
        .envctl_via(&proxy.endpoint, &["plan", "staging", "--output", "json"])
        .expect_code(1)
        .json();
    assert_eq!(json["blockers"][0]["kind"], "replaces_data");
    assert_eq!(json["blockers"][0]["address"], "db_cluster.main");

    for command in [
        vec!["apply", "staging", "--yes"],
        vec!["apply", "staging", "--yes", "--confirm", "staging"],
        vec!["reconcile", "staging", "--yes"],
        vec!["redeploy", "staging", "--yes", "--replace-drifted"],
    ] {
        let run = project.envctl_via(&proxy.endpoint, &command).expect_code(1);
        assert!(
            run.stderr.contains("refusing to change `staging`")
                && run.stderr.contains("nothing was changed"),
            "{command:?}: {}",
            run.stderr
        );
    }
    assert_eq!(
        proxy.mutating_calls(),
        Vec::<String>::new(),
        "refused runs make no mutating call"
    );
    let inventory = emulator.inventory();
    assert_eq!(inventory.owned_addresses("staging"), before);
    assert_eq!(id(&emulator, "db_clusters", "db_cluster.main"), cluster);
    assert_eq!(id(&emulator, "instances", "instance.app[0]"), instance);
}

#[test]
fn a_security_group_change_replaces_the_group_and_moves_its_users_in_place() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-group-description", &[TWO_INSTANCES]);
    apply_staging(&project, &proxy);
    let instances = [
        id(&emulator, "instances", "instance.app[0]"),
        id(&emulator, "instances", "instance.app[1]"),
    ];
    let cluster = id(&emulator, "db_clusters", "db_cluster.main");
    let db_group = id(&emulator, "security_groups", "security_group.db");
    let old_app_group = id(&emulator, "security_groups", "security_group.app");

    // A description cannot change in place: the group is replaced, create-before-destroy.
    project.write_spec(&[
        TWO_INSTANCES,
        (
            r#"description = "app servers""#,
            r#"description = "application servers""#,
        ),
    ]);
    let plan = project
        .envctl_via(&proxy.endpoint, &["plan", "staging"])
        .expect_code(0);
    assert!(
        plan.stdout.contains("-/+ security_group.app"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("~ instance.app[0]") && plan.stdout.contains("~ security_group.db"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("# moved in place to the new security_group.app"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 3 to update, 1 to replace, 0 to delete."),
        "{}",
        plan.stdout
    );
    // Strict AWS refuses deleting the old group while instances or the db group's rule use
    // it: the apply succeeds only if they moved first.
    apply_staging(&project, &proxy);
    let new_app_group = id(&emulator, "security_groups", "security_group.app");
    assert_ne!(new_app_group, old_app_group);
    assert_eq!(
        [
            id(&emulator, "instances", "instance.app[0]"),
            id(&emulator, "instances", "instance.app[1]")
        ],
        instances,
        "no instance was replaced"
    );
    assert_eq!(id(&emulator, "db_clusters", "db_cluster.main"), cluster);
    let inventory = emulator.inventory();
    let db = inventory.by_address("security_groups", "staging", "security_group.db");
    assert_eq!(db["id"], db_group.as_str());
    assert_eq!(
        db["ingress"][0]["UserIdGroupPairs"][0]["GroupId"],
        new_app_group.as_str(),
        "the db group's rule points at the new app group"
    );
    assert!(
        inventory.0["security_groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["id"] != old_app_group.as_str()),
        "the old group is gone"
    );
    project
        .envctl_via(&proxy.endpoint, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn redeploy_replace_all_keeps_the_database_and_says_why() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-replace-all", &[]);
    apply_staging(&project, &proxy);
    let cluster = id(&emulator, "db_clusters", "db_cluster.main");
    let instance = id(&emulator, "instances", "instance.app[0]");
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &["redeploy", "staging", "--replace-all", "--yes"],
        )
        .expect_code(0);
    assert!(
        run.stderr
            .contains("db_cluster.main: not rebuilt: it holds data"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: replace it explicitly with `--replace db_cluster.main`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Redeploy complete"), "{}", run.stderr);
    assert_eq!(id(&emulator, "db_clusters", "db_cluster.main"), cluster);
    assert_ne!(id(&emulator, "instances", "instance.app[0]"), instance);
    let inventory = emulator.inventory();
    let cluster_info = emulator.client(&["cluster", &cluster]);
    assert_eq!(cluster_info["deletion_protection"], true);
    assert_eq!(
        cluster_info["security_groups"][0],
        inventory.by_address("security_groups", "staging", "security_group.db")["id"],
        "the cluster moved to the rebuilt db group"
    );
    assert_eq!(
        cluster_info["parameter_group"],
        inventory.by_address(
            "db_cluster_parameter_groups",
            "staging",
            "db_cluster_parameter_group.main"
        )["id"],
        "the cluster moved to the rebuilt parameter group"
    );
    project
        .envctl_via(&proxy.endpoint, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn a_stopped_instance_is_drift_and_reconcile_starts_it_again() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-stopped", &[]);
    apply_staging(&project, &proxy);
    let instance = id(&emulator, "instances", "instance.app[0]");
    emulator.client(&["stop-instance", &instance]);

    let drift = project
        .envctl_via(&proxy.endpoint, &["drift", "staging"])
        .expect_code(2);
    assert!(
        drift.stdout.contains("instance.app[0]") && drift.stdout.contains("state"),
        "{}",
        drift.stdout
    );
    let json = project
        .envctl_via(&proxy.endpoint, &["drift", "staging", "--output", "json"])
        .expect_code(2)
        .json();
    let entry = &json["environments"][0]["drift"][0];
    assert_eq!(entry["address"], "instance.app[0]");
    assert_eq!(entry["cause"], "drift");
    assert_eq!(entry["fields"][0]["field"], "state");
    assert_eq!(entry["fields"][0]["live"], "stopped");
    assert_eq!(entry["fields"][0]["desired"], "running");

    project
        .envctl_via(&proxy.endpoint, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    let now = inventory.by_address("instances", "staging", "instance.app[0]");
    assert_eq!(now["id"], instance.as_str(), "started, not replaced");
    assert_eq!(now["state"], "running");
    project
        .envctl_via(&proxy.endpoint, &["drift", "staging"])
        .expect_code(0);
}

#[test]
fn a_resize_stops_one_instance_at_a_time_and_each_runs_again() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-resize", &[TWO_INSTANCES]);
    apply_staging(&project, &proxy);
    project.write_spec(&[(
        r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
        r#"instance.app = { instance_type = "t3.large", count = 2 }"#,
    )]);
    // Strict AWS refuses a type change on a running instance: this only passes when each
    // instance is stopped first, and by default (2 instances: 1 at a time) one after the other.
    let run = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(0);
    let finished_first = run
        .stderr
        .find("updated instance.app[0]")
        .unwrap_or_else(|| panic!("{}", run.stderr));
    let started_second = run
        .stderr
        .find("updating instance.app[1]")
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        finished_first < started_second,
        "the second resize waits for the first: {}",
        run.stderr
    );
    let inventory = emulator.inventory();
    for address in ["instance.app[0]", "instance.app[1]"] {
        let instance = inventory.by_address("instances", "staging", address);
        assert_eq!(instance["type"], "t3.large", "{address}");
        assert_eq!(instance["state"], "running", "{address}");
    }
    let stats = proxy.stats();
    assert_eq!(
        stats["strict"]["refused"]["IncorrectInstanceState"],
        serde_json::Value::Null,
        "no type change was sent to a running instance: {stats}"
    );
}

#[test]
fn destroy_waits_for_the_database_to_be_gone_before_its_network() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-destroy", &[]);
    apply_staging(&project, &proxy);
    let cluster = id(&emulator, "db_clusters", "db_cluster.main");
    // While the cluster reads `deleting`, strict AWS refuses deleting its subnet group and
    // security group: destroy must wait for it to be gone, not for `deleting`.
    let run = project
        .envctl_via(&proxy.endpoint, &["destroy", "staging", "--yes"])
        .expect_code(0);
    assert!(run.stderr.contains("Destroy complete"), "{}", run.stderr);
    assert_eq!(
        emulator.inventory().owned_addresses("staging"),
        Vec::<String>::new()
    );
    let stats = proxy.stats();
    assert!(
        stats["strict"]["deferred_deletes"].as_u64().unwrap() >= 2,
        "the cluster and its instance were slow to go: {stats}"
    );
    let snapshots = emulator.client(&["cluster-snapshots", &cluster]);
    assert_eq!(
        snapshots.as_array().map(Vec::len),
        Some(1),
        "a final snapshot is kept: {snapshots}"
    );
    // And the environment can be built again under the same names. (The emulator names a
    // new cluster's automated snapshot after the minute it was created in, so a cluster
    // re-created within the same minute collides there, never on AWS: wait for the next.)
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::thread::sleep(std::time::Duration::from_secs(61 - seconds % 60));
    apply_staging(&project, &proxy);
    project
        .envctl_via(&proxy.endpoint, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn a_wait_that_outlasts_wait_timeout_fails_naming_the_state_it_saw() {
    let emulator = Emulator::start();
    // Transitions that never end in practice.
    let proxy = Proxy::strict(&emulator, 100_000);
    let project = Project::new("strict-wait-timeout", &[]);
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &["apply", "staging", "--yes", "--wait-timeout", "2s"],
        )
        .expect_code(1);
    assert!(
        run.stderr.contains("timed out after 2s waiting for")
            && run.stderr.contains("it still reads `pending`"),
        "{}",
        run.stderr
    );
}

/// Makes the proxy answer the next `times` calls of `action` (after `skip` that pass) with a
/// refusal AWS could give.
fn fail_next(proxy: &Proxy, action: &str, skip: u32, times: u32) {
    proxy.configure(serde_json::json!({"fail_actions": {action: {
        "skip": skip, "times": times, "code": "InvalidParameterValue",
        "message": "injected by the test"
    }}}));
}

#[test]
fn a_resize_that_fails_after_the_stop_starts_the_instance_again() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-resize-fails", &[]);
    apply_staging(&project, &proxy);
    let instance = id(&emulator, "instances", "instance.app[0]");
    project.write_spec(&[(
        r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
        r#"instance.app = { instance_type = "t3.large", count = 1 }"#,
    )]);
    fail_next(&proxy, "ModifyInstanceAttribute", 0, 1);
    let run = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("could not change to t3.large and was started again with its old type"),
        "{}",
        run.stderr
    );
    let now = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]");
    assert_eq!(now["id"], instance.as_str());
    assert_eq!(
        now["state"], "running",
        "a failed resize never leaves it down"
    );
    assert_eq!(now["type"], "t3.medium");
    // The refusal is spent: the next apply resizes it.
    apply_staging(&project, &proxy);
    let now = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]");
    assert_eq!(
        (now["type"].as_str(), now["state"].as_str()),
        (Some("t3.large"), Some("running"))
    );
}

#[test]
fn an_update_of_several_calls_says_which_parts_took_effect() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-partial-update", &[]);
    apply_staging(&project, &proxy);
    project.write_spec(&[
        (
            r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
            r#"instance.app = { instance_type = "t3.large", count = 1 }"#,
        ),
        (
            r#"security_groups = ["app"]"#,
            r#"security_groups = ["app", "db"]"#,
        ),
    ]);
    // The resize's ModifyInstanceAttribute passes, the groups' one is refused.
    fail_next(&proxy, "ModifyInstanceAttribute", 1, 1);
    let run = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("(took effect: instance_type; not done: security_groups)"),
        "{}",
        run.stderr
    );
    let plan = project
        .envctl_via(&proxy.endpoint, &["plan", "staging"])
        .expect_code(0);
    assert!(
        plan.stdout.contains("security_groups") && !plan.stdout.contains("instance_type:"),
        "only the part that failed is left: {}",
        plan.stdout
    );
}

#[test]
fn rollback_never_reopens_a_rule_the_failed_apply_had_closed() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-rollback-drift", &[]);
    apply_staging(&project, &proxy);
    let group = id(&emulator, "security_groups", "security_group.app");
    // Someone opens SSH to the world by hand (drift); the spec moves to a bigger type.
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    project.write_spec(&[(
        r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
        r#"instance.app = { instance_type = "t3.large", count = 1 }"#,
    )]);
    fail_next(&proxy, "ModifyInstanceAttribute", 0, 1);
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &["apply", "staging", "--yes", "--rollback"],
        )
        .expect_code(1);
    assert!(
        run.stderr
            .contains("kept: security_group.app was not rolled back: the update repaired drift"),
        "{}",
        run.stderr
    );
    let inventory = emulator.inventory();
    let app = inventory.by_address("security_groups", "staging", "security_group.app");
    let ports: Vec<i64> = app["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["FromPort"].as_i64())
        .collect();
    assert_eq!(ports, [443], "SSH stays closed: {app}");
}

#[test]
fn a_failed_destroy_switches_deletion_protection_back_on() {
    let emulator = Emulator::start();
    let proxy = Proxy::strict(&emulator, SLOW);
    let project = Project::new("strict-destroy-fails", &[]);
    apply_staging(&project, &proxy);
    let cluster = id(&emulator, "db_clusters", "db_cluster.main");
    fail_next(&proxy, "DeleteDBCluster", 0, 1);
    let run = project
        .envctl_via(&proxy.endpoint, &["destroy", "staging", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("its deletion protection was switched back on"),
        "{}",
        run.stderr
    );
    assert_eq!(
        emulator.client(&["cluster", &cluster])["deletion_protection"],
        true
    );
    // Nothing the cluster needs was deleted after the failure.
    let owned = emulator.inventory().owned_addresses("staging");
    assert!(
        owned.contains(&"db_subnet_group.main".to_string()),
        "{owned:?}"
    );
    assert!(owned.contains(&"vpc.main".to_string()), "{owned:?}");
    let run = project
        .envctl_via(&proxy.endpoint, &["destroy", "staging", "--yes"])
        .expect_code(0);
    assert!(run.stderr.contains("Destroy complete"), "{}", run.stderr);
}
