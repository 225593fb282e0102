//! Misuse: bad flags, unknown environments, unreadable files, missing credentials. Each gets a
//! one-line cause and a hint, exit code 1, and changes nothing.

use std::process::{Command, Stdio};

use crate::support::{Emulator, Project};

#[test]
fn a_bad_flag_exits_1_with_usage_not_the_changes_pending_code() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-flag", &[]);
    let run = project
        .envctl(&emulator, &["plan", "staging", "--bogus"])
        .expect_code(1);
    assert!(
        run.stderr.contains("unexpected argument '--bogus'"),
        "{}",
        run.stderr
    );
    let missing = project.envctl(&emulator, &["plan"]).expect_code(1);
    assert!(
        missing.stderr.contains("<ENVIRONMENT>"),
        "{}",
        missing.stderr
    );
    project.envctl(&emulator, &["--help"]).expect_code(0);
}

#[test]
fn an_unknown_environment_is_refused_with_a_suggestion_and_nothing_changes() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-env", &[]);
    let run = project
        .envctl(&emulator, &["apply", "stagin", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr
            .starts_with("error: unknown environment `stagin`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `staging`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(emulator.inventory().owned_addresses("staging").is_empty());
}

#[test]
fn a_missing_or_invalid_spec_is_refused_before_any_cloud_call() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-spec", &[]);
    let missing = project
        .envctl(
            &emulator,
            &["--spec", "nope.toml", "apply", "staging", "--yes"],
        )
        .expect_code(1);
    assert!(
        missing
            .stderr
            .starts_with("error: failed to read `nope.toml`"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("hint: pass `--spec PATH`"),
        "{}",
        missing.stderr
    );

    project.write_spec(&[(r#"engine_version = "15.4""#, r#"engine_version = "latest""#)]);
    let invalid = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(
        invalid.stderr.contains("--> envctl.toml:"),
        "{}",
        invalid.stderr
    );
    assert!(
        invalid.stderr.contains("error: `envctl.toml` has 1 error"),
        "{}",
        invalid.stderr
    );
    assert!(emulator.inventory().owned_addresses("staging").is_empty());
}

#[test]
fn missing_credentials_get_a_hint_about_the_credential_chain() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-credentials", &[]);
    let output = Command::new(env!("CARGO_BIN_EXE_envctl"))
        .args(["plan", "staging"])
        .current_dir(&project.dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &project.dir)
        .env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        // The first call of a run asks STS who the credentials are.
        stderr.starts_with("error: failed to ask AWS who the credentials of `staging` are"),
        "{stderr}"
    );
    assert!(stderr.contains("no usable credentials"), "{stderr}");
    assert!(!stderr.contains("Attempted:"), "no dangling list: {stderr}");
    assert!(
        !stderr.contains("dispatch failure"),
        "no SDK internals: {stderr}"
    );
    assert!(
        stderr.contains("hint: the AWS credential chain was tried in order: the environment"),
        "{stderr}"
    );

    // A profile that is nowhere is named, before any call, with those that exist.
    std::fs::write(
        project.dir.join("aws-config"),
        "[profile other]\nregion = us-east-1\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_envctl"))
        .args(["plan", "staging", "--profile", "nosuch"])
        .current_dir(&project.dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &project.dir)
        .env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", project.dir.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: the AWS profile `nosuch` (for `staging`) is in neither"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the profiles defined are `other`"),
        "{stderr}"
    );
}

#[test]
fn degenerate_input_is_refused_or_deduped_with_a_message() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-degenerate", &[]);
    let same = project
        .envctl(&emulator, &["parity", "staging", "staging"])
        .expect_code(1);
    assert!(
        same.stderr
            .contains("`envctl parity staging staging` compares `staging` with itself"),
        "{}",
        same.stderr
    );
    // Named twice, checked once.
    let twice = project
        .envctl(&emulator, &["drift", "staging", "staging", "-o", "json"])
        .expect_code(2);
    let report = twice.json();
    assert_eq!(report["environments"].as_array().map(Vec::len), Some(1));
    // The report says what it covers, where and when.
    assert_eq!(report["project"], "webapp");
    assert_eq!(report["region"], "us-east-1");
    assert_eq!(report["account"], "123456789012", "the emulator's account");
    assert!(
        report["generated_at"]
            .as_str()
            .is_some_and(|t| t.len() == 20 && t.ends_with('Z')),
        "{report}"
    );
    // A directory as the spec says so.
    let dir = project
        .envctl(&emulator, &["--spec", ".", "plan", "staging"])
        .expect_code(1);
    assert!(
        dir.stderr.contains("`.` is a directory, not a spec file"),
        "{}",
        dir.stderr
    );
}

#[test]
fn plan_out_dash_writes_the_plan_to_stdout_and_a_bad_out_fails_before_any_call() {
    let emulator = Emulator::start();
    let proxy = crate::support::Proxy::start(&emulator, 0.0, 0);
    let project = Project::new("misuse-out", &[]);
    let run = project
        .envctl_via(&proxy.endpoint, &["plan", "staging", "--out", "-"])
        .expect_code(0);
    let saved: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is the plan");
    assert_eq!(saved["environment"], "staging");
    assert!(
        run.stderr.contains("envctl will make these changes"),
        "{}",
        run.stderr
    );
    assert!(!project.dir.join("-").exists(), "no file named `-`");

    proxy.reset_stats();
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &["plan", "staging", "--out", "no/such/dir/p.plan"],
        )
        .expect_code(1);
    assert!(
        run.stderr
            .contains("cannot save the plan to `no/such/dir/p.plan`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        proxy.stats()["total"],
        0,
        "checked before reading the cloud"
    );
}

#[test]
fn an_empty_no_color_keeps_color_and_term_dumb_drops_it() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-color", &[]);
    let on_terminal = |envs: &[(&str, &str)]| {
        project
            .envctl_on_terminal_with(&emulator, &["plan", "nowhere"], &[], true, envs)
            .expect_code(1)
            .output
    };
    // no-color.org: only a non-empty NO_COLOR turns color off.
    let empty = on_terminal(&[("NO_COLOR", "")]);
    assert!(empty.contains("\u{1b}["), "{empty:?}");
    let set = on_terminal(&[("NO_COLOR", "1")]);
    assert!(!set.contains('\u{1b}'), "{set:?}");
    // A dumb terminal gets none either, and still every word.
    let dumb = on_terminal(&[("TERM", "dumb")]);
    assert!(!dumb.contains('\u{1b}'), "{dumb:?}");
    assert!(dumb.contains("error:"), "{dumb:?}");
    // --color decides over the terminal and the variables.
    let never = project
        .envctl_on_terminal(
            &emulator,
            &["plan", "nowhere", "--color", "never"],
            &[],
            true,
        )
        .expect_code(1)
        .output;
    assert!(!never.contains('\u{1b}'), "{never:?}");
    let piped = project
        .envctl(&emulator, &["plan", "nowhere", "--color", "always"])
        .expect_code(1);
    assert!(piped.stderr.contains("\u{1b}["), "{:?}", piped.stderr);
}

#[test]
fn an_unreachable_or_garbage_endpoint_and_a_bad_region_fail_fast_and_say_so() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-endpoint", &[]);
    // Nothing listens on port 9 of loopback (discard): refused at once.
    let started = std::time::Instant::now();
    let run = project
        .envctl_via("http://127.0.0.1:9", &["plan", "staging"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("cannot reach the endpoint `http://127.0.0.1:9`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "fails fast, not after a minute of retries"
    );
    let run = project
        .envctl_via("htp:/nowhere", &["plan", "staging"])
        .expect_code(1);
    assert!(
        run.stderr.contains("`htp:/nowhere` is not an endpoint URL"),
        "{}",
        run.stderr
    );
    let run = project
        .envctl(&emulator, &["plan", "staging", "--region", "europe"])
        .expect_code(1);
    assert!(
        run.stderr.contains("`europe` is not an AWS region"),
        "{}",
        run.stderr
    );
    // A real region, but the spec's zones are elsewhere: refused before any call.
    let run = project
        .envctl(&emulator, &["plan", "staging", "--region", "eu-west-1"])
        .expect_code(1);
    assert!(
        run.stderr.contains(
            "subnet.a is in zone `us-east-1a`, which is not in eu-west-1, the region this run works in"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_held_lock_is_described_with_a_human_age_and_its_time() {
    let emulator = Emulator::start();
    let project = Project::new("misuse-lock-age", &[]);
    let lock = r#"{"id": "abc123", "holder": "ci@runner-7", "host": "runner-7", "pid": 4242,
        "command": "envctl apply staging --yes", "since_unix": 1700000000}"#;
    emulator.client(&[
        "put-lock",
        "webapp-envctl-locks",
        "envctl-locks/webapp/staging.json",
        lock,
    ]);
    let run = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(1);
    assert!(
        run.stderr.contains("since ") && run.stderr.contains("ago (2023-11-14 22:13 UTC)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("s ago (") || run.stderr.contains("d"),
        "{}",
        run.stderr
    );
    // With `--lock-timeout`, it says that it waits, for whom, and how long at most.
    let waited = project
        .envctl(
            &emulator,
            &["apply", "staging", "--yes", "--lock-timeout", "1s"],
        )
        .expect_code(1);
    assert!(
        waited
            .stderr
            .contains("waiting up to 1s for the lock of `staging`, held by ci@runner-7 since ")
            && waited
                .stderr
                .contains("(2023-11-14 22:13 UTC) for `envctl apply staging --yes`"),
        "{}",
        waited.stderr
    );
}
