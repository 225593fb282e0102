//! The verified staging gate: production is changed only after staging passed a test on the
//! same spec, recorded next to staging's lock, newer than staging's last change.

use crate::support::{Emulator, Project};

const STAGING_SCALE: (&str, &str) = (
    r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
    r#"instance.app = { instance_type = "t3.medium", count = 2 }"#,
);

#[test]
fn production_is_promoted_only_after_staging_passed_its_tests_on_the_same_spec() {
    let emulator = Emulator::start();
    let project = Project::verified("verify-gate", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);

    // Never verified: refused before any change, saying what is missing and how to get it.
    let refused = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(1);
    assert!(
        refused
            .stderr
            .contains("it is promoted from `staging`, which has never been verified"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("envctl verify staging -- COMMAND"),
        "{}",
        refused.stderr
    );
    assert!(
        emulator
            .inventory()
            .owned_addresses("production")
            .is_empty()
    );
    // The same refusal where AWS is strict and slow: reads only, not one mutating call.
    let strict = crate::support::Proxy::strict(&emulator, 2);
    let refused = project
        .envctl_via(&strict.endpoint, &["apply", "production", "--yes"])
        .expect_code(1);
    assert!(
        refused.stderr.contains("which has never been verified"),
        "{}",
        refused.stderr
    );
    assert_eq!(strict.mutating_calls(), Vec::<String>::new());
    let plan = project
        .envctl(&emulator, &["plan", "production"])
        .expect_code(1);
    let shown = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        shown.contains("has never been verified"),
        "plan shows the gate: {shown}"
    );

    // A failing test records nothing, and its exit code is envctl's.
    project
        .envctl(&emulator, &["verify", "staging", "--", "false"])
        .expect_code(1);
    project
        .envctl(
            &emulator,
            &["verify", "staging", "--", "sh", "-c", "exit 3"],
        )
        .expect_code(3);
    let none = project
        .envctl(&emulator, &["verifications", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(none["verifications"], serde_json::json!([]), "{none:#}");

    // A passing test sees the environment's facts, the DB endpoint among them.
    let endpoint = emulator.client(&["cluster", "webapp-staging-main"])["endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let passed = project
        .envctl(
            &emulator,
            &[
                "verify",
                "staging",
                "--",
                "sh",
                "-c",
                "echo \"env=$ENVCTL_ENVIRONMENT region=$ENVCTL_REGION account=$ENVCTL_ACCOUNT db=$ENVCTL_OUTPUT_DB_CLUSTER_MAIN_ENDPOINT vpc=$ENVCTL_OUTPUT_VPC_MAIN\"",
            ],
        )
        .expect_code(0);
    assert!(
        passed.stdout.contains(&format!(
            "env=staging region=us-east-1 account=123456789012 db={endpoint} vpc=vpc-"
        )),
        "{}",
        passed.stdout
    );
    let listed = project
        .envctl(&emulator, &["verifications", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    let verifications = listed["verifications"].as_array().unwrap();
    assert_eq!(verifications.len(), 1, "{listed:#}");
    assert_eq!(verifications[0]["this_spec"], true);
    assert_eq!(verifications[0]["parity_digest"], listed["parity_digest"]);
    assert!(
        verifications[0]["command"]
            .as_str()
            .unwrap()
            .starts_with("sh -c "),
        "{listed:#}"
    );

    // Now production goes.
    let promoted = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);
    assert!(
        promoted
            .stderr
            .contains("promotion gate: `staging` passed `sh -c"),
        "{}",
        promoted.stderr
    );

    // A staging apply after the verification (a scale change: same spec digest) makes it
    // stale: production is refused again until staging is verified again.
    project.write_spec(&[STAGING_SCALE]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let stale = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(1);
    assert!(
        stale
            .stderr
            .contains("is older than `staging`'s last change"),
        "{}",
        stale.stderr
    );
    project
        .envctl(&emulator, &["verify", "staging", "--", "true"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);

    // Another spec (a non-scale edit) applied to staging: the verification is at another
    // digest, and the refusal names both.
    project.write_spec(&[STAGING_SCALE, (r#"value = "INFO""#, r#"value = "WARN""#)]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let other = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(1);
    assert!(
        other
            .stderr
            .contains("was last verified at another spec: at parity digest sha256:"),
        "{}",
        other.stderr
    );
    assert!(
        other.stderr.contains("this spec's digest is sha256:"),
        "{}",
        other.stderr
    );

    // The audit shows each environment's latest verification.
    let audit = project
        .envctl(&emulator, &["audit", "--output", "json"])
        .expect_code(2)
        .json();
    assert_eq!(audit["verifications"][0]["environment"], "staging");
    assert_eq!(
        audit["verifications"][0]["latest"]["this_spec"], false,
        "{audit:#}"
    );
    assert_eq!(audit["verifications"][0]["current"], false);
    assert_eq!(audit["verifications"][1]["latest"], serde_json::Value::Null);
}

#[test]
fn a_drifted_environment_is_not_verified_and_runs_nothing() {
    let emulator = Emulator::start();
    let project = Project::verified("verify-drift", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let group = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    let marker = project.dir.join("ran");
    let refused = project
        .envctl(
            &emulator,
            &["verify", "staging", "--", "touch", marker.to_str().unwrap()],
        )
        .expect_code(1);
    assert!(
        refused
            .stderr
            .contains("refusing to verify `staging`: it has drifted"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("envctl reconcile staging"),
        "{}",
        refused.stderr
    );
    assert!(!marker.exists(), "the command did not run");
    let listed = project
        .envctl(&emulator, &["verifications", "staging"])
        .expect_code(0);
    assert!(
        listed.stdout.contains("has never been verified"),
        "{}",
        listed.stdout
    );
}

#[test]
fn a_lost_answer_to_the_verification_put_is_recognised_as_our_own_record() {
    let emulator = Emulator::start();
    let project = Project::verified("verify-lost", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    // The answer to the record's conditional put is lost after the put happened: the SDK's
    // retry is refused (412) by the very record it wrote, which envctl must recognise.
    let proxy = crate::support::Proxy::start_with(
        &emulator,
        &[
            "--faults",
            "lost",
            "--fault-rate",
            "0.5",
            "--fault-actions",
            "PUT /webapp-envctl-locks/envctl-locks/webapp/staging.verifications/*",
            // As for the lock's put: with this seed the first put's answer is lost and its
            // retry's is not.
            "--seed",
            "1",
        ],
    );
    let run = project.envctl_via(
        &proxy.endpoint,
        &[
            "verify",
            "staging",
            "--initial-backoff",
            "20ms",
            "--",
            "true",
        ],
    );
    let lost = proxy.stats()["lost_by_action"].clone();
    assert!(
        lost.as_object().is_some_and(|m| !m.is_empty()),
        "the record's answer was lost: {lost}"
    );
    let run = run.expect_code(0);
    assert!(
        run.stderr.contains("recorded: `staging` passed `true`"),
        "{}",
        run.stderr
    );
    let listed = project
        .envctl(&emulator, &["verifications", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(
        listed["verifications"].as_array().map(Vec::len),
        Some(1),
        "one record, never two: {listed:#} (lost: {lost})"
    );
}
