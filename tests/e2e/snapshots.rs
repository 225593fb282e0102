//! Whole runs of the main commands as a user reads them, snapshotted with `insta`: plan,
//! apply, drift after an incident, reconcile, and the plan in JSON. Cloud ids, durations,
//! times, ports and paths differ between runs and are filtered to stable placeholders; all
//! else (wording, order, counts, the values shown) must stay as reviewed.
//!
//! After a deliberate change of output, review and accept it with `cargo insta review`, or
//! rerun with `INSTA_UPDATE=always` and read the diff of `tests/e2e/snapshots/` in git.

use crate::support::{Emulator, Project, Run};

/// The filters that make a run's output the same from one run to the next.
fn stable() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (pattern, replacement) in [
        (
            r"\b(vpc|subnet|sg|i|vol|eni|igw|rtb|acl)-[0-9a-f]{8,17}\b",
            "[$1-id]",
        ),
        (
            r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\b",
            "[time]",
        ),
        (r"\b\d+(\.\d+)?(ms|s)\b", "[duration]"),
        (r"\b\d+m\d{2}s\b", "[duration]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"envctl-locks-\d{12}-", "envctl-locks-[account]-"),
        (r"\b[0-9a-f]{64}\b", "[sha256]"),
        (r#""lock_id": "[^"]+""#, r#""lock_id": "[lock]""#),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings
}

/// What a person sees of a run: its exit code, then stdout, then stderr.
fn shown(run: &Run) -> String {
    format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    )
}

#[test]
fn plan_apply_drift_and_reconcile_read_as_reviewed() {
    let emulator = Emulator::start();
    let project = Project::new("snapshots-run", &[]);
    let settings = stable();
    let _guard = settings.bind_to_scope();

    let plan = project.envctl(&emulator, &["plan", "staging"]);
    insta::assert_snapshot!("plan-first", shown(&plan));

    let json = project.envctl(&emulator, &["plan", "staging", "-o", "json"]);
    insta::assert_snapshot!("plan-first-json", shown(&json));

    // One change at a time: the order of the progress lines is then the apply graph's, the
    // same in every run.
    let apply = project.envctl(
        &emulator,
        &["apply", "staging", "--yes", "--parallelism", "1"],
    );
    insta::assert_snapshot!("apply", shown(&apply));

    let clean = project.envctl(&emulator, &["drift", "staging"]);
    insta::assert_snapshot!("drift-none", shown(&clean));

    // An incident: a port opened to the world and an instance stopped, by hand.
    let inventory = emulator.inventory();
    let group = inventory.by_address("security_groups", "staging", "security_group.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let instance = inventory.by_address("instances", "staging", "instance.app[0]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    emulator.client(&["stop-instance", &instance]);

    let drift = project.envctl(&emulator, &["drift", "staging"]);
    insta::assert_snapshot!("drift-incident", shown(&drift));

    let reconcile = project.envctl(
        &emulator,
        &["reconcile", "staging", "--yes", "--parallelism", "1"],
    );
    insta::assert_snapshot!("reconcile", shown(&reconcile));

    let after = project.envctl(&emulator, &["drift", "staging"]);
    insta::assert_snapshot!("drift-repaired", shown(&after));
}
