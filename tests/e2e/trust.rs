//! Trust nothing that can lie: saved plans bound to the current spec and cloud, the promotion
//! gate shown by `plan`.

use serde_json::Value;

use crate::support::{Emulator, Project};

fn edit_plan(project: &Project, file: &str, edit: impl FnOnce(&mut Value)) {
    let path = project.dir.join(file);
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut plan);
    std::fs::write(&path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
}

const SHRINK_PRODUCTION: (&str, &str) = (
    r#"instance.app = { instance_type = "t3.xlarge", count = 3 }"#,
    r#"instance.app = { instance_type = "t3.xlarge", count = 2 }"#,
);

#[test]
fn a_saved_plan_takes_protection_from_the_spec_and_refuses_any_edit() {
    let emulator = Emulator::start();
    let project = Project::new("trust-saved-plan", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(
            &emulator,
            &["apply", "production", "--yes", "--confirm", "production"],
        )
        .expect_code(0);
    project.write_spec(&[SHRINK_PRODUCTION]);
    project
        .envctl(&emulator, &["plan", "production", "--out", "shrink.plan"])
        .expect_code(0);

    // Switching protection off in the file changes nothing: it comes from the spec.
    edit_plan(&project, "shrink.plan", |plan| {
        plan["protected"] = false.into()
    });
    let run = project
        .envctl(&emulator, &["apply", "--plan", "shrink.plan", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr.contains("production") && run.stderr.contains("--confirm"),
        "{}",
        run.stderr
    );
    assert_eq!(
        emulator.inventory().owned("instances", "production").len(),
        3
    );

    // A desired value edited in the file is refused, not applied.
    project
        .envctl(&emulator, &["plan", "production", "--out", "shrink.plan"])
        .expect_code(0);
    edit_plan(&project, "shrink.plan", |plan| {
        plan["changes"][0]["live"]["id"] = "i-0123456789abcdef0".into();
    });
    let run = project
        .envctl(
            &emulator,
            &[
                "apply",
                "--plan",
                "shrink.plan",
                "--yes",
                "--confirm",
                "production",
            ],
        )
        .expect_code(1);
    assert!(run.stderr.contains("it was edited"), "{}", run.stderr);
    assert_eq!(
        emulator.inventory().owned("instances", "production").len(),
        3
    );

    // A plan made from another version of the spec is refused.
    project
        .envctl(&emulator, &["plan", "production", "--out", "shrink.plan"])
        .expect_code(0);
    project.write_spec(&[]);
    let run = project
        .envctl(
            &emulator,
            &[
                "apply",
                "--plan",
                "shrink.plan",
                "--yes",
                "--confirm",
                "production",
            ],
        )
        .expect_code(1);
    assert!(
        run.stderr
            .contains("was made from another version of the spec"),
        "{}",
        run.stderr
    );

    // The untampered plan, with the typed name, applies.
    project.write_spec(&[SHRINK_PRODUCTION]);
    project
        .envctl(&emulator, &["plan", "production", "--out", "shrink.plan"])
        .expect_code(0);
    project
        .envctl(
            &emulator,
            &[
                "apply",
                "--plan",
                "shrink.plan",
                "--yes",
                "--confirm",
                "production",
            ],
        )
        .expect_code(0);
    assert_eq!(
        emulator.inventory().owned("instances", "production").len(),
        2
    );

    // An empty saved plan applies as a no-op.
    project
        .envctl(&emulator, &["plan", "production", "--out", "empty.plan"])
        .expect_code(0);
    let run = project
        .envctl(&emulator, &["apply", "--plan", "empty.plan", "--yes"])
        .expect_code(0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
}

#[test]
fn plan_shows_the_promotion_gate_so_a_pull_request_is_not_green_in_vain() {
    let emulator = Emulator::start();
    let project = Project::new("trust-plan-gate", &[]);
    // Staging was never applied: production's apply would be refused, and so its plan says.
    let plan = project
        .envctl(&emulator, &["plan", "production"])
        .expect_code(1);
    assert!(
        plan.stdout.contains("blocked: (promotion gate): refusing to change `production`: it is promoted from `staging`"),
        "{}",
        plan.stdout
    );
    let json = project
        .envctl(&emulator, &["plan", "production", "--output", "json"])
        .expect_code(1)
        .json();
    assert_eq!(json["blockers"][0]["kind"], "promotion_gate");
    assert_eq!(json["blockers"][0]["address"], Value::Null);

    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let plan = project
        .envctl(&emulator, &["plan", "production"])
        .expect_code(0);
    assert!(
        plan.stderr
            .contains("promotion gate: `staging` has converged"),
        "{}",
        plan.stderr
    );
}

const CREATES: &str = "CreateVpc,CreateSubnet,CreateSecurityGroup,RunInstances,CreateDBSubnetGroup,CreateDBCluster,CreateDBInstance";
const LOST_ANSWER_TRIALS: u64 = 6;

#[test]
fn thirty_percent_of_create_answers_lost_in_6_trials_duplicate_nothing() {
    let emulator = Emulator::start();
    let mut lost_total = 0;
    for trial in 0..LOST_ANSWER_TRIALS {
        emulator.reset();
        let seed = (trial + 11).to_string();
        let proxy = crate::support::Proxy::start_with(
            &emulator,
            &[
                "--faults",
                "lost",
                "--fault-rate",
                "0.3",
                "--fault-actions",
                CREATES,
                "--seed",
                &seed,
            ],
        );
        let project = Project::new(&format!("trust-lost-{trial}"), &[]);
        let run = project
            .envctl_via(
                &proxy.endpoint,
                &["apply", "staging", "--yes", "--initial-backoff", "20ms"],
            )
            .expect_code(0);
        assert!(
            run.stderr.contains("Apply complete"),
            "trial {trial}: {}",
            run.stderr
        );
        let stats = proxy.stats();
        lost_total += stats["lost_by_action"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
            .unwrap_or(0);
        let shown = project
            .envctl(&emulator, &["show", "staging", "--output", "json"])
            .expect_code(0)
            .json();
        let mut expected: Vec<String> = shown["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap().to_string())
            .collect();
        expected.sort();
        assert_eq!(
            emulator.inventory().owned_addresses("staging"),
            expected,
            "trial {trial} (seed {seed}): every resource exactly once; lost answers: {}",
            stats["lost_by_action"]
        );
        project
            .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
            .expect_code(0);
    }
    assert!(
        lost_total >= LOST_ANSWER_TRIALS,
        "answers were lost: {lost_total} in {LOST_ANSWER_TRIALS} trials"
    );
}

#[test]
fn a_second_copy_of_a_subnet_is_reported_as_a_duplicate_and_only_the_unused_one_removed() {
    let emulator = Emulator::start();
    let project = Project::new("trust-duplicate", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let original = emulator
        .inventory()
        .by_address("subnets", "staging", "subnet.a")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let copy = emulator.client(&["duplicate-subnet", &original, "10.0.7.0/24"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{plan:#}");
    assert_eq!(changes[0]["action"], "delete");
    assert_eq!(changes[0]["cause"], "duplicate");
    assert_eq!(
        changes[0]["id"],
        copy.as_str(),
        "the copy nothing uses goes"
    );
    assert!(
        changes[0]["reason"].as_str().unwrap().contains(&original),
        "both ids are named: {plan:#}"
    );
    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let subnets: Vec<String> = emulator
        .inventory()
        .owned("subnets", "staging")
        .iter()
        .filter(|s| s["tags"]["envctl:address"] == "subnet.a")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subnets, [original]);
}

const LOCK_KEY: &str = "envctl-locks/webapp/staging.json";
const INTERRUPT_TRIALS: [u64; 3] = [1200, 2500, 4000];

#[test]
fn sigint_during_apply_in_3_trials_stops_cleanly_releases_the_lock_and_the_next_run_finishes() {
    let emulator = Emulator::start();
    let mut interrupted = 0;
    for (trial, delay_ms) in INTERRUPT_TRIALS.iter().enumerate() {
        emulator.reset();
        // Slow answers, so that the signal lands while changes are in flight.
        let proxy = crate::support::Proxy::start(&emulator, 0.0, 40);
        let project = Project::new(&format!("trust-sigint-{trial}"), &[]);
        let child = project
            .command_via(&proxy.endpoint, &["apply", "staging", "--yes"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(*delay_ms));
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        assert!(
            matches!(code, Some(130) | Some(0)),
            "trial {trial}: exit {code:?}\n{stderr}"
        );
        if code == Some(130) {
            interrupted += 1;
            assert!(
                stderr.contains("interrupted: no further change to `staging` starts")
                    && (stderr.contains("Apply incomplete")
                        || stderr.contains("interrupted before its first change")),
                "trial {trial}: {stderr}"
            );
        }
        assert_eq!(
            emulator.client(&["get-lock", "webapp-envctl-locks", LOCK_KEY]),
            Value::Null,
            "trial {trial}: the lock was released\n{stderr}"
        );
        let run = project
            .envctl(&emulator, &["apply", "staging", "--yes"])
            .expect_code(0);
        assert!(run.stderr.contains("Apply complete") || run.stdout.contains("No changes"));
        project
            .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
            .expect_code(0);
        let owned = emulator.inventory().owned_addresses("staging");
        let mut unique = owned.clone();
        unique.dedup();
        assert_eq!(owned, unique, "trial {trial}: nothing duplicated");
    }
    assert!(
        interrupted >= 1,
        "at least one trial was interrupted mid-apply"
    );
}

#[test]
fn ctrl_c_at_the_prompt_cancels_and_leaves_no_lock() {
    let emulator = Emulator::start();
    let project = Project::new("trust-prompt-ctrl-c", &[]);
    let run = project.envctl_on_terminal(
        &emulator,
        &["apply", "staging"],
        &[("Apply these changes", "\u{3}")],
        false,
    );
    assert_eq!(run.code, 130, "{}", run.output);
    assert!(
        run.output.contains("cancelled: nothing was changed"),
        "{}",
        run.output
    );
    assert!(
        run.output.ends_with("\u{1b}[?25h") || run.output.contains("\u{1b}[?25h"),
        "the cursor is given back: {:?}",
        run.output
    );
    assert_eq!(
        emulator.client(&["get-lock", "webapp-envctl-locks", LOCK_KEY]),
        Value::Null,
        "no lock is held while a person decides\n{}",
        run.output
    );
    assert_eq!(
        emulator.inventory().owned_addresses("staging"),
        Vec::<String>::new()
    );
}

#[test]
fn a_lost_answer_to_the_lock_put_is_recognised_as_our_own_lock() {
    let emulator = Emulator::start();
    // The answer to the lock's conditional put is lost: the put took the lock, the SDK's
    // retry is refused by it (412), and envctl must see that the lock is its own.
    let proxy = crate::support::Proxy::start_with(
        &emulator,
        &[
            "--faults",
            "lost",
            "--fault-rate",
            "0.5",
            "--fault-actions",
            "PUT /webapp-envctl-locks/envctl-locks/webapp/staging.json",
            // With this seed the first put's answer is lost and its retry's is not.
            "--seed",
            "1",
        ],
    );
    let project = Project::new("trust-lock-lost", &[]);
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &["apply", "staging", "--yes", "--initial-backoff", "20ms"],
        )
        .expect_code(0);
    assert!(run.stderr.contains("Apply complete"), "{}", run.stderr);
    assert!(
        proxy.stats()["lost_by_action"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "the lock's answers were lost"
    );
    assert_eq!(
        emulator.client(&["get-lock", "webapp-envctl-locks", LOCK_KEY]),
        Value::Null,
        "and it was released"
    );
}

#[test]
fn a_lock_of_a_namesake_host_whose_pid_is_not_visible_is_not_taken_over() {
    let emulator = Emulator::start();
    let project = Project::new("trust-lock-namesake", &[]);
    // Another container with this hostname holds the lock: its pid is not visible here and
    // it records no process space of ours. That proves nothing about its holder.
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    let lock = serde_json::json!({
        "id": "namesake1", "holder": format!("ci@{host}"), "host": host, "pid": 4_000_000,
        "command": "envctl apply staging --yes", "since_unix": 1_700_000_000u64
    });
    emulator.client(&[
        "put-lock",
        "webapp-envctl-locks",
        LOCK_KEY,
        &lock.to_string(),
    ]);
    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr.contains("is locked by ci@") && run.stderr.contains("namesake1"),
        "{}",
        run.stderr
    );
    assert_eq!(
        emulator.inventory().owned_addresses("staging"),
        Vec::<String>::new()
    );
    // force-unlock asks first; without a terminal it needs --yes.
    let refused = project
        .envctl(&emulator, &["force-unlock", "staging", "namesake1"])
        .expect_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    project
        .envctl(
            &emulator,
            &["force-unlock", "staging", "namesake1", "--yes"],
        )
        .expect_code(0);
}

fn staging_tags(address: &str) -> String {
    serde_json::json!({
        "envctl:project": "webapp", "envctl:environment": "staging", "envctl:address": address
    })
    .to_string()
}

fn instance_id(emulator: &Emulator, address: &str) -> String {
    emulator
        .inventory()
        .by_address("instances", "staging", address)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn resources_that_claim_the_environment_without_proof_are_reported_never_deleted() {
    let emulator = Emulator::start();
    let project = Project::new("trust-ownership", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    // Someone's network, given staging's tags: a VPC the spec does not have, holding a subnet
    // envctl does not own; and a subnet tagged for staging inside another network.
    let core = emulator.client(&["create-vpc", "10.50.0.0/16", &staging_tags("vpc.core")])["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["create-subnet", &core, "10.50.1.0/24", "us-east-1a", "{}"]);
    let elsewhere = emulator.client(&["create-vpc", "10.60.0.0/16", "{}"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stray = emulator.client(&[
        "create-subnet",
        &elsewhere,
        "10.60.1.0/24",
        "us-east-1a",
        &staging_tags("subnet.c"),
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();

    let plan = project
        .envctl(&emulator, &["plan", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(plan["changes"], serde_json::json!([]), "{plan:#}");
    let notes: Vec<String> = plan["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&core) && n.contains("holds 1 resource envctl does not own")),
        "{notes:#?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&stray)
                && n.contains("its `vpc` is not one of the environment's vpcs")),
        "{notes:#?}"
    );
    project
        .envctl(&emulator, &["reconcile", "staging", "--yes"])
        .expect_code(0);
    let inventory = emulator.inventory();
    let ids: Vec<&str> = inventory.0["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(inventory.0["subnets"].as_array().unwrap())
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(
        ids.contains(&core.as_str()) && ids.contains(&stray.as_str()),
        "nothing of theirs was deleted"
    );
}

#[test]
fn an_instance_that_lost_its_environment_tag_blocks_a_second_launch() {
    let emulator = Emulator::start();
    let project = Project::new("trust-lost-tag", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let id = instance_id(&emulator, "instance.app[0]");
    emulator.client(&["delete-tag", &id, "envctl:environment"]);
    let plan = project
        .envctl(&emulator, &["plan", "staging"])
        .expect_code(1);
    assert!(
        plan.stdout.contains("blocked: instance.app[0] (conflict)")
            && plan.stdout.contains(&id)
            && plan.stdout.contains("no `envctl:environment` tag"),
        "{}",
        plan.stdout
    );
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(1);
    let running = emulator.inventory().0["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "running")
        .count();
    assert_eq!(running, 1, "no second instance was launched");
    // Nor does destroy start deleting around it (its subnet could not go while it runs).
    let run = project
        .envctl(&emulator, &["destroy", "staging", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr.contains("blocked: instance.app[0] (conflict)"),
        "{}",
        run.stderr
    );
    assert!(
        emulator
            .inventory()
            .owned_addresses("staging")
            .contains(&"vpc.main".to_string()),
        "nothing was deleted"
    );
}

#[test]
fn swapped_address_tags_are_reported_instead_of_replacing_both_instances() {
    let emulator = Emulator::start();
    let project = Project::new(
        "trust-swapped",
        &[(
            r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
            r#"instance.app = { instance_type = "t3.medium", count = 2 }"#,
        )],
    );
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let first = instance_id(&emulator, "instance.app[0]");
    let second = instance_id(&emulator, "instance.app[1]");
    emulator.client(&["set-tag", &first, "envctl:address", "instance.app[1]"]);
    emulator.client(&["set-tag", &second, "envctl:address", "instance.app[0]"]);
    let plan = project
        .envctl(&emulator, &["plan", "staging"])
        .expect_code(1);
    assert!(plan.stdout.contains("look swapped"), "{}", plan.stdout);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(1);
    let inventory = emulator.inventory();
    for id in [&first, &second] {
        assert!(
            inventory.0["instances"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == id.as_str() && i["state"] == "running"),
            "{id} still runs"
        );
    }
}

/// Runs envctl with its clock set to `today` (`ENVCTL_TODAY`, for tests).
fn envctl_on(
    project: &Project,
    emulator: &Emulator,
    today: &str,
    args: &[&str],
) -> (i32, String, String) {
    let output = project
        .command_via(&emulator.endpoint, args)
        .env("ENVCTL_TODAY", today)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_expired_difference_is_reported_by_reads_and_refused_by_changes_unless_allowed() {
    let emulator = Emulator::start();
    let project = Project::new("trust-expired", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    // The example's difference expires on 2027-06-30.
    let after = "2027-07-01";
    let (code, stdout, stderr) = envctl_on(&project, &emulator, after, &["plan", "staging"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("blocked: db_cluster.main (expired difference): the declared difference in `backup_retention_days` of `db_cluster.main` expired on 2027-06-30"),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning:") && stderr.contains("expired on 2027-06-30"),
        "{stderr}"
    );
    let (code, _, stderr) = envctl_on(&project, &emulator, after, &["drift", "staging"]);
    assert_eq!(code, 0, "read-only commands still run: {stderr}");
    let (code, _, stderr) = envctl_on(&project, &emulator, after, &["apply", "staging", "--yes"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "refusing to change `staging`: 1 declared difference it relies on has expired"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = envctl_on(
        &project,
        &emulator,
        after,
        &[
            "apply",
            "staging",
            "--yes",
            "--allow-expired",
            "retention review booked for July",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("retention review booked for July"),
        "the reason is printed: {stderr}"
    );
    let vpc = emulator
        .inventory()
        .by_address("vpcs", "staging", "vpc.main");
    assert!(
        vpc["tags"]["envctl:expired-override"]
            .as_str()
            .is_some_and(|t| t.starts_with("retention review booked for July")),
        "and recorded: {vpc}"
    );
}

#[test]
fn locking_is_on_by_default_in_a_private_versioned_bucket_of_the_account() {
    let emulator = Emulator::start();
    let project = Project::new(
        "trust-default-lock",
        &[(
            r#"lock_bucket = "webapp-envctl-locks""#,
            "# no lock_bucket: envctl uses the account's default",
        )],
    );
    // The emulator's account is 123456789012.
    let bucket = "envctl-locks-123456789012-us-east-1";
    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    assert!(
        !run.stderr.contains("nothing stops another run"),
        "{}",
        run.stderr
    );
    let info = emulator.client(&["bucket-info", bucket]);
    assert_eq!(info["versioning"], "Enabled", "{info}");
    assert_eq!(info["public_access_blocked"], true, "{info}");
    assert_eq!(
        emulator.client(&["get-lock", bucket, LOCK_KEY]),
        Value::Null,
        "the lock was released"
    );
    // --no-lock opts out, and says so.
    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes", "--no-lock"])
        .expect_code(0);
    assert!(
        run.stderr
            .contains("warning: `--no-lock`: nothing stops another run from changing `staging`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_resource_that_vanishes_during_a_read_is_gone_not_a_failed_run() {
    let emulator = Emulator::start();
    let proxy = crate::support::Proxy::start(&emulator, 0.0, 0);
    let project = Project::new("trust-read-race", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    // The DB subnet group is listed, then deleted before its tags are asked for. (The read
    // asks for two tag lists at once under this action name, in any order: RDS's of the
    // subnet group and of the cluster's parameter group; both vanish. The alarms' tags come
    // from one tagging-API listing.)
    proxy.configure(serde_json::json!({"fail_actions": {"ListTagsForResource": {
        "times": 2,
        "code": "DBSubnetGroupNotFoundFault", "status": 404,
        "message": "DBSubnetGroup webapp-staging-main not found."
    }}}));
    let run = project.envctl_via(&proxy.endpoint, &["plan", "staging", "--output", "json"]);
    assert!(
        !run.stderr.contains("failed to read the live state"),
        "the read does not fail: {}",
        run.stderr
    );
    let plan = run.json();
    let creates: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "create")
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert!(
        creates.contains(&"db_subnet_group.main"),
        "it is gone: {plan:#}"
    );
    // What sat in it can no longer be proven the environment's: reported, never replaced.
    assert_eq!(plan["blockers"][0]["kind"], "conflict", "{plan:#}");
    assert_eq!(run.code, 1);
}

#[test]
fn an_already_exists_error_about_a_snapshot_is_not_called_the_resource_existing() {
    let emulator = Emulator::start();
    let proxy = crate::support::Proxy::start(&emulator, 0.0, 0);
    proxy.configure(serde_json::json!({"fail_actions": {"CreateDBCluster": {
        "code": "DBClusterSnapshotAlreadyExistsFault",
        "message": "Cannot create the snapshot because a snapshot with the identifier rds:webapp-staging-main-2026-12-02-06-17 already exists."
    }}}));
    let project = Project::new("trust-snapshot-exists", &[]);
    let run = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr.contains(
            "create db_cluster.main failed: DBClusterSnapshotAlreadyExistsFault: Cannot create the snapshot"
        ),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("db_cluster.main already exists"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_refusal_known_before_the_first_change_makes_no_mutating_call() {
    let emulator = Emulator::start();
    let proxy = crate::support::Proxy::start(&emulator, 0.0, 0);
    let project = Project::new("trust-refusals", &[]);
    // Production is promoted from staging, which has never been applied: the gate refuses.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["apply", "production", "--yes", "--confirm", "production"],
            "it is promoted from `staging`",
        ),
        (
            vec!["redeploy", "production", "--yes", "--confirm", "production"],
            "it is promoted from `staging`",
        ),
    ];
    for (args, expected) in &cases {
        proxy.reset_stats();
        let run = project.envctl_via(&proxy.endpoint, args).expect_code(1);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert_eq!(proxy.mutating_calls(), Vec::<String>::new(), "{args:?}");
    }
    project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl_via(
            &proxy.endpoint,
            &["apply", "production", "--yes", "--confirm", "production"],
        )
        .expect_code(0);
    project.write_spec(&[SHRINK_PRODUCTION]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // A protected environment losing an instance needs its name, not only --yes.
        (
            vec!["apply", "production", "--yes"],
            "`production` is protected and this would delete or replace resources",
        ),
        // The cluster is deletion-protected: asking to replace it is refused up front.
        (
            vec!["apply", "staging", "--yes", "--replace", "db_cluster.main"],
            "deletion protection is on",
        ),
        (
            vec!["destroy", "production", "--yes"],
            "`production` is protected and this would delete or replace resources",
        ),
    ];
    for (args, expected) in &cases {
        proxy.reset_stats();
        let run = project.envctl_via(&proxy.endpoint, args).expect_code(1);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert_eq!(proxy.mutating_calls(), Vec::<String>::new(), "{args:?}");
    }
    // The plan says what applying a protected environment's deletion needs.
    let plan = project
        .envctl_via(&proxy.endpoint, &["plan", "production"])
        .expect_code(0);
    assert!(
        plan.stdout
            .contains("`production` is protected: applying this needs its name typed at the prompt, or `--confirm production`."),
        "{}",
        plan.stdout
    );
}
