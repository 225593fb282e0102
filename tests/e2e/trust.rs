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
