//! The command line as a user meets it, without a cloud: every `--help` (`insta` snapshots in
//! `tests/snapshots/`; accept a deliberate change with `cargo insta review`), the man page
//! (`docs/envctl.1`), the spec's JSON Schema (`schema/envctl.schema.json`) and the shell
//! completions. The man page is a committed, generated file, not a snapshot: regenerate it
//! with `ENVCTL_BLESS=1`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn bless() -> bool {
    std::env::var_os("ENVCTL_BLESS").is_some_and(|v| v == "1")
}

/// Runs `envctl` with `args`, no terminal, a fixed width; returns (exit code, stdout, stderr).
fn envctl(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_envctl"))
        .args(args)
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("ENVCTL_SPEC")
        .env_remove("ENVCTL_REGION")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Compares `actual` with the file at `path`, or rewrites the file under `ENVCTL_BLESS=1`.
fn assert_file(path: &Path, actual: &str) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        expected == actual,
        "`{}` is out of date: run the tests with ENVCTL_BLESS=1 and commit it\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Compares a help text with its `insta` snapshot `tests/snapshots/NAME.snap`.
fn assert_help(name: &str, help: &str) {
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, help);
    });
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The subcommands the top-level help lists (without `help`).
fn subcommands() -> Vec<String> {
    let (_, help, _) = envctl(&["--help"]);
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        // Continuation lines of a wrapped description are indented further.
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_help_matches_its_snapshot_and_shows_an_example() {
    let (code, help, _) = envctl(&["--help"]);
    assert_eq!(code, 0);
    assert_help("help", &help);
    let commands = subcommands();
    assert!(commands.len() >= 14, "{commands:?}");
    for command in &commands {
        let (code, help, stderr) = envctl(&[command, "--help"]);
        assert_eq!(code, 0, "{command}: {stderr}");
        assert!(
            help.contains("\nExample:\n  envctl ") || help.contains("\nExamples:\n  envctl "),
            "`envctl {command} --help` shows no example:\n{help}"
        );
        assert_help(&format!("help-{command}"), &help);
    }
}

#[test]
fn the_top_level_help_documents_every_exit_code() {
    let (_, help, _) = envctl(&["--help"]);
    for line in [
        "Exit codes:",
        "  0  success",
        "  1  error",
        "  2  pending: changes (plan --detailed-exitcode), drift (drift)",
    ] {
        assert!(help.contains(line), "no `{line}` in:\n{help}");
    }
    // `-v` is global: every command's help offers it.
    let (_, help, _) = envctl(&["plan", "--help"]);
    assert!(help.contains("-v, --verbose"), "{help}");
}

#[test]
fn the_committed_man_page_is_up_to_date() {
    let (code, page, stderr) = envctl(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
    assert!(page.contains(".TH envctl 1"), "{page}");
    for command in subcommands() {
        assert!(
            page.contains(&format!(".SS \"envctl {command}\"")),
            "the man page has no section for `{command}`"
        );
    }
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        "RUST_LOG",
        "NO_COLOR",
    ] {
        assert!(page.contains(section), "no `{section}` in the man page");
    }
    assert_file(&repo_file("docs/envctl.1"), &page);
}

#[test]
fn the_committed_schema_is_what_envctl_schema_prints() {
    let (code, schema, stderr) = envctl(&["schema"]);
    assert_eq!(code, 0, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(
        printed["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let committed = std::fs::read_to_string(repo_file("schema/envctl.schema.json")).unwrap();
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert!(
        printed == committed,
        "`schema/envctl.schema.json` differs from `envctl schema`: run \
         `ENVCTL_BLESS=1 cargo test -p envctl-spec --test schema`"
    );
}

#[test]
fn completions_cover_every_command_in_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _envctl"),
        ("zsh", "#compdef envctl"),
        ("fish", "complete -c envctl"),
    ] {
        let (code, script, stderr) = envctl(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for command in subcommands() {
            assert!(
                script.contains(&command),
                "{shell}: `{command}` is not completed"
            );
        }
        assert!(
            script.contains("detailed-exitcode"),
            "{shell}: flags are not completed"
        );
    }
    let (code, _, stderr) = envctl(&["completions", "tcsh"]);
    assert_eq!(code, 1, "an unknown shell is a usage error");
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
}

#[test]
fn data_commands_keep_stderr_empty_and_stdout_clean() {
    // Generated files go to stdout alone, with nothing on stderr, so `> file` captures them.
    for args in [&["man"][..], &["schema"], &["completions", "bash"]] {
        let (code, stdout, stderr) = envctl(args);
        assert_eq!(code, 0);
        assert!(!stdout.is_empty());
        assert_eq!(stderr, "", "{args:?}");
        assert!(!stdout.contains('\u{1b}'), "{args:?}: escape codes in data");
    }
}

#[test]
fn the_ci_example_runs_only_commands_envctl_accepts() {
    let path = repo_file("examples/ci/github-actions.yml");
    let workflow = std::fs::read_to_string(&path).unwrap();
    // Every `envctl ...` command line of the workflow parses (`--help` after the arguments
    // stops before anything runs, but only once every argument before it was accepted).
    let mut checked = 0;
    for line in workflow.lines() {
        let line = line.trim().trim_start_matches("run: ");
        let Some(args) = line.strip_prefix("envctl ") else {
            continue;
        };
        let args = args.split(['>', ';', '|']).next().unwrap_or_default();
        let args = args.replace("\"${{ matrix.environment }}\"", "staging");
        let mut args: Vec<&str> = args.split_whitespace().collect();
        // After `--` everything is the command `envctl verify` runs: `--help` goes before it.
        let at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        args.insert(at, "--help");
        let (code, _, stderr) = envctl(&args);
        assert_eq!(
            code,
            0,
            "`envctl {}` does not parse: {stderr}",
            args.join(" ")
        );
        checked += 1;
    }
    assert!(checked >= 6, "found only {checked} envctl commands");
    // And the file is YAML, where a YAML parser is at hand.
    if let Ok(output) = Command::new("python3")
        .args(["-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))"])
        .arg(&path)
        .output()
    {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() || stderr.contains("No module named 'yaml'"),
            "{stderr}"
        );
    }
}

/// The JSON output reference names every resource kind, in creation order, as JSON writes it.
#[test]
fn the_json_reference_lists_every_resource_kind() {
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json-output.md"),
    )
    .unwrap();
    let row = reference
        .lines()
        .find(|line| line.starts_with("| resource kind |"))
        .expect("docs/json-output.md has a `resource kind` row");
    let listed: Vec<&str> = row.split('`').skip(1).step_by(2).collect();
    let kinds: Vec<&str> = envctl_spec::ResourceKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    assert_eq!(listed, kinds, "{row}");
}

/// `validate --output json`: every diagnostic as data (severity, message, file, 1-based line
/// and column of both ends, label, hints), one document whatever the spec holds, exit 1 on
/// errors; a valid spec is `valid` with its environments.
#[test]
fn validate_json_gives_editors_and_ci_every_diagnostic_as_data() {
    let spec = repo_file("environments/webapp.toml");
    let (code, stdout, stderr) =
        envctl(&["validate", "--spec", spec.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let valid: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(valid["valid"], true);
    assert_eq!(
        valid["environments"],
        serde_json::json!(["staging", "production"])
    );
    assert_eq!(valid["diagnostics"], serde_json::json!([]));

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("validate-json");
    std::fs::create_dir_all(dir.join("dashboards")).unwrap();
    std::fs::copy(
        repo_file("environments/dashboards/main.json"),
        dir.join("dashboards/main.json"),
    )
    .unwrap();
    let example = std::fs::read_to_string(&spec).unwrap();
    let broken = example
        .replacen("cidr = \"10.0.1.0/24\"", "cidr = \"10.0.1.0/33\"", 1)
        .replacen(
            "instance_type = \"t3.medium\"     # scale",
            "instance_typ = \"t3.medium\"",
            1,
        );
    let path = dir.join("envctl.toml");
    std::fs::write(&path, broken).unwrap();
    let (code, stdout, stderr) = envctl(&[
        "validate",
        "--spec",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.is_empty(), "the document says it all: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 2, "every problem in one run: {report:#}");
    let cidr = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap_or_default().contains("CIDR"))
        .expect("the CIDR error");
    assert_eq!(cidr["severity"], "error");
    assert_eq!(
        cidr["start"],
        serde_json::json!({ "line": 34, "column": 8 })
    );
    assert_eq!(cidr["end"]["line"], 34);
    assert!(cidr["file"].as_str().unwrap().ends_with("envctl.toml"));
    let unknown = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["message"]
                .as_str()
                .unwrap_or_default()
                .contains("instance_typ")
        })
        .expect("the unknown field");
    assert!(
        unknown["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap_or_default().contains("instance_type")),
        "{unknown:#}"
    );
}

/// `envctl fmt`: the canonical layout with comments kept; `--check` changes nothing and exits 2
/// when the file is not in it; the example is in it.
#[test]
fn fmt_rewrites_the_spec_in_the_canonical_layout_and_check_says_so() {
    let example_path = repo_file("environments/webapp.toml");
    let (code, _, stderr) = envctl(&["fmt", "--check", "--spec", example_path.to_str().unwrap()]);
    assert_eq!(code, 0, "the example is formatted: {stderr}");

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fmt");
    std::fs::create_dir_all(&dir).unwrap();
    let example = std::fs::read_to_string(&example_path).unwrap();
    let messy = example
        .replacen("cidr = \"10.0.0.0/16\"", "cidr=\"10.0.0.0/16\"   ", 1)
        .replacen("[subnet.a]", "\n\n\n[subnet.a]", 1);
    let path = dir.join("envctl.toml");
    std::fs::write(&path, &messy).unwrap();
    let spec = path.to_str().unwrap();
    let (code, stdout, stderr) = envctl(&["fmt", "--check", "--spec", spec]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("is not in the canonical layout (first difference at line 30)"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        messy,
        "--check writes nothing"
    );
    let (code, _, stderr) = envctl(&["fmt", "--spec", spec]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        example,
        "comments and order kept"
    );
    let (code, _, _) = envctl(&["fmt", "--check", "--spec", spec]);
    assert_eq!(code, 0);
}
