//! Safety under failure: rollback of a failed apply, crash consistency, throttling, locking,
//! secrets.

use crate::support::{Emulator, Project, Proxy};

#[test]
fn a_name_held_by_someone_else_is_a_blocker_and_nothing_is_created() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator, 0.0, 0);
    let project = Project::new("name-taken", &[]);
    // Someone else's DB subnet group holds the name envctl needs.
    emulator.client(&["create-foreign-db-subnet-group", "webapp-staging-main"]);
    let plan = project
        .envctl_via(&proxy.endpoint, &["plan", "staging"])
        .expect_code(1);
    assert!(
        plan.stdout.contains("blocked: db_subnet_group.main (name taken): the name `webapp-staging-main` is taken by db_subnet_group `webapp-staging-main`, which envctl does not own"),
        "{}",
        plan.stdout
    );
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &["apply", "staging", "--yes", "--rollback"],
        )
        .expect_code(1);
    assert!(
        run.stderr
            .contains("refusing to change `staging`: the plan has 1 blocker; nothing was changed"),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.mutating_calls(), Vec::<String>::new());
    let inventory = emulator.inventory();
    assert_eq!(inventory.owned_addresses("staging"), Vec::<String>::new());
    assert!(
        inventory.0["db_subnet_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == "webapp-staging-main"),
        "the foreign group is untouched"
    );
}

/// A proxy whose first CreateDBCluster is refused, as AWS would refuse a bad parameter.
fn failing_cluster_create(emulator: &Emulator) -> Proxy {
    let proxy = Proxy::start(emulator, 0.0, 0);
    proxy.configure(serde_json::json!({"fail_actions": {"CreateDBCluster": {
        "code": "InvalidParameterCombination", "message": "injected by the test"
    }}}));
    proxy
}

#[test]
fn a_failed_apply_with_rollback_undoes_what_it_created() {
    let emulator = Emulator::start();
    let proxy = failing_cluster_create(&emulator);
    let project = Project::new("rollback", &[]);
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &["apply", "staging", "--yes", "--rollback"],
        )
        .expect_code(1);
    assert!(
        run.stderr.contains("error: create db_cluster.main failed: InvalidParameterCombination: injected by the test"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("skipped: create db_instance.main[0]"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Rollback complete"), "{}", run.stderr);
    assert_eq!(
        emulator.inventory().owned_addresses("staging"),
        Vec::<String>::new()
    );
}

#[test]
fn without_rollback_a_failed_apply_keeps_its_progress_for_the_next_run() {
    let emulator = Emulator::start();
    let proxy = failing_cluster_create(&emulator);
    let project = Project::new("no-rollback", &[]);
    let run = project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(run.stderr.contains("Apply incomplete"), "{}", run.stderr);
    assert!(!run.stderr.contains("Rollback"), "{}", run.stderr);
    let owned = emulator.inventory().owned_addresses("staging");
    assert!(owned.contains(&"vpc.main".to_string()), "{owned:?}");
    assert!(owned.contains(&"instance.app[0]".to_string()), "{owned:?}");
    // The scripted failure is spent: the next run finishes the job.
    project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(0);
}

const LOCK_KEY: &str = "envctl-locks/webapp/staging.json";

fn hold_lock_elsewhere(emulator: &Emulator) {
    let lock = r#"{"id": "abc123", "holder": "ci@runner-7", "host": "runner-7", "pid": 4242,
        "command": "envctl apply staging --yes", "since_unix": 1700000000}"#;
    emulator.client(&["put-lock", "webapp-envctl-locks", LOCK_KEY, lock]);
}

#[test]
fn a_lock_held_elsewhere_stops_changes_but_not_reads_until_it_is_force_unlocked() {
    let emulator = Emulator::start();
    let project = Project::new("lock-held", &[]);
    hold_lock_elsewhere(&emulator);

    let refused = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(
        refused
            .stderr
            .contains("error: `staging` is locked by ci@runner-7"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("envctl apply staging --yes"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("hint: wait for that run to finish (`--lock-timeout 10m` waits for it), or, if it died, `envctl force-unlock staging abc123`"),
        "{}",
        refused.stderr
    );
    assert!(emulator.inventory().owned_addresses("staging").is_empty());
    for mutating in [
        vec!["destroy", "staging", "--yes"],
        vec!["reconcile", "staging", "--yes"],
        vec!["redeploy", "staging", "--yes"],
    ] {
        let run = project.envctl(&emulator, &mutating).expect_code(1);
        assert!(
            run.stderr.contains("is locked by"),
            "{mutating:?}: {}",
            run.stderr
        );
    }
    // Read-only commands take no lock.
    project
        .envctl(&emulator, &["plan", "staging"])
        .expect_code(0);
    project
        .envctl(&emulator, &["drift", "staging"])
        .expect_code(2);

    let wrong = project
        .envctl(&emulator, &["force-unlock", "staging", "nope"])
        .expect_code(1);
    assert!(wrong.stderr.contains("has id `abc123`"), "{}", wrong.stderr);
    project
        .envctl(&emulator, &["force-unlock", "staging", "abc123", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    // A finished run leaves no lock behind.
    assert_eq!(
        emulator.client(&["get-lock", "webapp-envctl-locks", LOCK_KEY]),
        serde_json::Value::Null
    );
}

#[test]
fn lock_timeout_waits_for_the_holder_before_giving_up() {
    let emulator = Emulator::start();
    let project = Project::new("lock-timeout", &[]);
    hold_lock_elsewhere(&emulator);
    let started = std::time::Instant::now();
    project
        .envctl(
            &emulator,
            &["apply", "staging", "--yes", "--lock-timeout", "2s"],
        )
        .expect_code(1);
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
}

#[test]
fn two_concurrent_applies_take_turns_and_create_everything_once() {
    let emulator = Emulator::start();
    let project = Project::new(
        "lock-race",
        &[(
            r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
            r#"instance.app = { instance_type = "t3.medium", count = 4 }"#,
        )],
    );
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let project_dir = project.dir.clone();
            let endpoint = emulator.endpoint.clone();
            std::thread::spawn(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_envctl"))
                    .args(["apply", "staging", "--yes", "--lock-timeout", "60s"])
                    .current_dir(project_dir)
                    .env("AWS_ENDPOINT_URL", endpoint)
                    .env("AWS_ACCESS_KEY_ID", "testing")
                    .env("AWS_SECRET_ACCESS_KEY", "testing")
                    .env("AWS_EC2_METADATA_DISABLED", "true")
                    .env("AWS_CONFIG_FILE", "/nonexistent")
                    .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
                    .stdin(std::process::Stdio::null())
                    .output()
                    .unwrap()
            })
        })
        .collect();
    let outputs: Vec<_> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // One run created everything; the other, once it had the lock, found nothing to do.
    let created: Vec<bool> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).contains("Apply complete"))
        .collect();
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
    let inventory = emulator.inventory();
    assert_eq!(inventory.owned("instances", "staging").len(), 4);
    let mut addresses = inventory.owned_addresses("staging");
    let count = addresses.len();
    addresses.dedup();
    assert_eq!(addresses.len(), count, "no address twice");
}

#[test]
fn no_secret_reaches_output_or_plan_files() {
    let emulator = Emulator::start();
    let project = Project::new("secrets", &[]);
    let secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSENTINEL";
    let run = |args: &[&str]| {
        let output = project
            .command_via(&emulator.endpoint, args)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains(secret), "{args:?} printed the secret key");
        assert!(
            !text.to_lowercase().contains("masteruserpassword"),
            "{args:?}: {text}"
        );
        (output.status.code(), text)
    };
    let code = |args: &[&str]| run(args).0;
    assert_eq!(code(&["plan", "staging", "--out", "staging.plan"]), Some(0));
    // Debug logs of envctl and the AWS SDK, every call creating the cluster included, hold no
    // secret either.
    let (applied, logs) = run(&["-vv", "apply", "--plan", "staging.plan", "--yes"]);
    assert_eq!(applied, Some(0), "{logs}");
    assert!(
        logs.contains("aws call finished service=RDS operation=CreateDBCluster"),
        "`-vv` logged no AWS call: {logs}"
    );
    assert!(
        logs.contains("aws_smithy_runtime::client::orchestrator"),
        "`-vv` logged nothing of the SDK"
    );
    assert_eq!(code(&["show", "staging", "--output", "json"]), Some(0));
    assert_eq!(code(&["drift", "--output", "json"]), Some(2));
    assert_eq!(code(&["audit", "--output", "json"]), Some(2));
    assert_eq!(code(&["-vv", "drift", "staging"]), Some(0));
    let saved = std::fs::read_to_string(project.dir.join("staging.plan")).unwrap();
    assert!(!saved.contains(secret));
    assert!(
        !saved.to_lowercase().contains("password"),
        "the plan file mentions a password"
    );
    // The master password exists, but only RDS knows it.
    let cluster = emulator
        .inventory()
        .by_address("db_clusters", "staging", "db_cluster.main");
    assert_eq!(cluster["managed_password"], true);
}
