//! The interface a pipeline or a person meets: the JSON documents of `--output json`, held to
//! `docs/json-output.md`, and the confirmation prompts on a real (pseudo-)terminal.

use serde_json::Value;

use crate::support::{Emulator, Project};

/// The example document named `name` in `docs/json-output.md` (the ```json block after its
/// `<!-- example: NAME -->` marker).
fn documented_example(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json-output.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let marker = format!("<!-- example: {name} -->");
    let after = &doc[doc.find(&marker).unwrap_or_else(|| panic!("no {marker}"))..];
    let start = after.find("```json\n").unwrap() + "```json\n".len();
    let end = start + after[start..].find("```").unwrap();
    serde_json::from_str(&after[start..end])
        .unwrap_or_else(|e| panic!("the `{name}` example is not JSON: {e}"))
}

/// Keys whose values are field values: any JSON type.
const ANY_VALUE: [&str; 4] = ["live", "desired", "from_value", "to_value"];

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `actual` against the documented `example`: same types, no undocumented key (extra
/// keys are allowed only under `open`, such as a resource's fields), arrays element by element
/// against the example's first element.
fn check_shape(
    actual: &Value,
    example: &Value,
    at: &str,
    open: &[&str],
    problems: &mut Vec<String>,
) {
    if actual.is_null() || example.is_null() {
        return;
    }
    if type_name(actual) != type_name(example) {
        problems.push(format!(
            "{at}: {} where the documentation shows {}",
            type_name(actual),
            type_name(example)
        ));
        return;
    }
    match (actual, example) {
        (Value::Object(actual), Value::Object(example)) => {
            for (key, value) in actual {
                let here = format!("{at}/{key}");
                match example.get(key) {
                    Some(documented) if !ANY_VALUE.contains(&key.as_str()) => {
                        check_shape(value, documented, &here, open, problems);
                    }
                    Some(_) => {}
                    None if open.contains(&at) => {}
                    None => problems.push(format!("{here}: not documented")),
                }
            }
        }
        (Value::Array(actual), Value::Array(example)) => {
            if let Some(first) = example.first() {
                for item in actual {
                    check_shape(item, first, &format!("{at}[]"), open, problems);
                }
            }
        }
        _ => {}
    }
}

fn assert_documented(name: &str, actual: &Value, open: &[&str]) {
    let example = documented_example(name);
    assert_eq!(actual["format_version"], 1, "{name}: {actual:#}");
    assert_eq!(example["format_version"], 1, "{name} example");
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(actual), keys(&example), "{name}: top-level keys");
    let mut problems = Vec::new();
    check_shape(actual, &example, "", open, &mut problems);
    assert!(problems.is_empty(), "{name}: {problems:#?}\n{actual:#}");
}

#[test]
fn json_output_follows_the_documented_schema() {
    let emulator = Emulator::start();
    let project = Project::new("json-output", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);
    // One change made by hand, so that plan, drift and audit have something to report.
    let instance = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]");
    emulator.client(&[
        "set-instance-type",
        instance["id"].as_str().unwrap(),
        "m5.4xlarge",
    ]);

    let json = |args: &[&str], code: i32| {
        let run = project.envctl(&emulator, args).expect_code(code);
        assert!(
            !run.stdout.contains('\u{1b}'),
            "{args:?}: escape codes in JSON"
        );
        run.json()
    };
    let plan = json(
        &["plan", "staging", "--output", "json", "--detailed-exitcode"],
        2,
    );
    assert_documented("plan", &plan, &[]);
    assert_eq!(plan["changes"][0]["cause"], "drift");

    let drift = json(&["drift", "--output", "json"], 2);
    assert_documented("drift", &drift, &[]);
    assert_eq!(drift["environments"][0]["clean"], false);

    let parity = json(&["parity", "--output", "json"], 0);
    assert_documented("parity", &parity, &[]);

    let differences = json(&["parity", "--differences", "--output", "json"], 0);
    assert_documented("parity-differences", &differences, &[]);

    let compliance = json(&["compliance", "--output", "json"], 0);
    assert_documented("compliance", &compliance, &[]);

    let state = json(&["state", "staging", "--output", "json"], 0);
    assert_documented("state", &state, &["/resources[]/outputs"]);

    let verifications = json(&["verifications", "staging", "--output", "json"], 0);
    assert_documented("verifications", &verifications, &[]);

    let audit = json(&["audit", "--output", "json"], 2);
    assert_documented("audit", &audit, &[]);
    assert_eq!(audit["findings"], 1);

    // A resource carries its kind's fields by name: open.
    let show = json(&["show", "staging", "--output", "json"], 0);
    assert_documented("show", &show, &["/resources[]", "/resources[]/tags"]);
}

#[test]
fn answering_the_prompt_on_a_terminal_decides_whether_anything_changes() {
    let emulator = Emulator::start();
    let project = Project::new("prompt", &[]);
    let question = "Apply these changes to `staging`?";

    let declined = project
        .envctl_on_terminal(&emulator, &["apply", "staging"], &[(question, "n")], false)
        .expect_code(1);
    assert!(
        declined
            .output
            .contains("apply cancelled: nothing was changed"),
        "{}",
        declined.output
    );
    assert!(
        emulator.inventory().owned_addresses("staging").is_empty(),
        "`n` changed the cloud"
    );

    let accepted = project
        .envctl_on_terminal(&emulator, &["apply", "staging"], &[(question, "y")], false)
        .expect_code(0);
    assert!(
        accepted.output.contains("Apply complete"),
        "{}",
        accepted.output
    );
    assert_eq!(emulator.inventory().owned("instances", "staging").len(), 1);
    // Without color, a terminal gets no escape codes in the plan or the messages.
    let plan_line = accepted
        .output
        .lines()
        .find(|l| l.contains("+ vpc.main"))
        .unwrap_or_default();
    assert_eq!(
        plan_line.trim_end(),
        "    + vpc.main  (spec)",
        "{}",
        accepted.output
    );
}

#[test]
fn a_protected_environment_is_destroyed_only_when_its_name_is_typed() {
    let emulator = Emulator::start();
    let project = Project::new("prompt-protected", &[]);
    // Production is promoted from staging: staging converges first.
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);
    let before = emulator.inventory().owned_addresses("production");
    assert!(!before.is_empty());
    let prompt = "type its name to confirm";

    let wrong = project
        .envctl_on_terminal(
            &emulator,
            &["destroy", "production"],
            &[(prompt, "staging\r")],
            false,
        )
        .expect_code(1);
    assert!(
        wrong
            .output
            .contains("destroy cancelled: nothing was changed"),
        "{}",
        wrong.output
    );
    assert!(
        wrong
            .output
            .contains("`staging` does not match `production`"),
        "a mistyped name says so: {}",
        wrong.output
    );
    // The question says exactly what will happen.
    assert!(
        wrong.output.contains("Destroy 24 resources of `production`?")
            && wrong
                .output
                .contains("Deletion protection of db_cluster.main will be lifted.")
            && wrong
                .output
                .contains("A final snapshot of db_cluster.main will be kept as `webapp-production-main-final-<unix time>`."),
        "{}",
        wrong.output
    );
    assert_eq!(emulator.inventory().owned_addresses("production"), before);

    let typed = project
        .envctl_on_terminal(
            &emulator,
            &["destroy", "production"],
            &[(prompt, "production\r")],
            false,
        )
        .expect_code(0);
    assert!(
        typed.output.contains("Destroy complete"),
        "{}",
        typed.output
    );
    assert!(
        emulator
            .inventory()
            .owned_addresses("production")
            .is_empty()
    );
    // Staging is untouched.
    assert!(!emulator.inventory().owned_addresses("staging").is_empty());
}

#[test]
fn a_terminal_gets_color_unless_no_color_is_set() {
    let emulator = Emulator::start();
    let project = Project::new("color", &[]);
    let colored = project
        .envctl_on_terminal(&emulator, &["plan", "staging", "--no-progress"], &[], true)
        .expect_code(0);
    assert!(colored.output.contains("\u{1b}["), "{}", colored.output);
    let plain = project
        .envctl_on_terminal(&emulator, &["plan", "staging", "--no-progress"], &[], false)
        .expect_code(0);
    assert!(!plain.output.contains('\u{1b}'), "{}", plain.output);
    // The same words either way.
    let strip = |text: &str| -> String {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' && chars.peek() == Some(&'[') {
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    assert_eq!(strip(&colored.output), plain.output);
    // A message's prefix is colored too.
    let error = project
        .envctl_on_terminal(&emulator, &["plan", "nowhere"], &[], true)
        .expect_code(1);
    let before = error.output.split("error:").next().unwrap_or_default();
    assert!(
        error.output.contains("error:") && before.contains('\u{1b}') && before.ends_with('m'),
        "{:?}",
        error.output
    );
}

#[test]
fn state_lists_what_an_environment_owns_and_graph_prints_the_apply_order_in_dot() {
    let emulator = Emulator::start();
    let project = Project::new("state-graph", &[]);
    // Before the first apply: the graph of creating everything, dependencies first.
    let before = project
        .envctl(&emulator, &["graph", "staging"])
        .expect_code(0);
    assert!(
        before
            .stdout
            .starts_with("digraph \"apply webapp staging\" {"),
        "{}",
        before.stdout
    );
    assert!(
        before
            .stdout
            .contains("\"create vpc.main\" -> \"create subnet.a\";"),
        "{}",
        before.stdout
    );
    assert!(
        before
            .stdout
            .contains("\"create db_subnet_group.main\" -> \"create db_cluster.main\";"),
        "{}",
        before.stdout
    );
    let empty = project
        .envctl(&emulator, &["state", "staging"])
        .expect_code(0);
    assert!(empty.stdout.contains("owns nothing"), "{}", empty.stdout);

    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    let state = project
        .envctl(&emulator, &["state", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    let resources = state["resources"].as_array().unwrap();
    let inventory = emulator.inventory();
    let instance = resources
        .iter()
        .find(|r| r["address"] == "instance.app[0]")
        .expect("the instance");
    assert_eq!(
        instance["id"],
        inventory.by_address("instances", "staging", "instance.app[0]")["id"]
    );
    assert_eq!(instance["state"], "running");
    assert!(
        instance["outputs"]["private_ip"].as_str().is_some(),
        "{instance:#}"
    );
    let cluster = resources
        .iter()
        .find(|r| r["address"] == "db_cluster.main")
        .expect("the cluster");
    assert_eq!(
        cluster["outputs"]["endpoint"],
        emulator.client(&["cluster", "webapp-staging-main"])["endpoint"]
    );
    assert_eq!(resources.len(), inventory.owned_addresses("staging").len());
    let text = project
        .envctl(&emulator, &["state", "staging"])
        .expect_code(0);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("instance.app[0]") && l.contains("running")),
        "{}",
        text.stdout
    );

    // Converged: nothing to order. Destroy: deletes in reverse, dependents first.
    let converged = project
        .envctl(&emulator, &["graph", "staging"])
        .expect_code(0);
    assert!(
        converged.stderr.contains("the graph is empty"),
        "{}",
        converged.stderr
    );
    let destroy = project
        .envctl(&emulator, &["graph", "staging", "--destroy"])
        .expect_code(0);
    assert!(
        destroy
            .stdout
            .contains("\"delete subnet.a\" -> \"delete vpc.main\";"),
        "{}",
        destroy.stdout
    );
    assert!(
        destroy
            .stdout
            .contains("\"delete db_cluster.main\" -> \"delete db_subnet_group.main\";"),
        "{}",
        destroy.stdout
    );
    assert_eq!(
        destroy.stdout.matches("[label=").count(),
        resources.len(),
        "one delete per resource"
    );
}

#[test]
fn changing_commands_report_their_result_as_json_with_the_plan_on_stderr() {
    let emulator = Emulator::start();
    let project = Project::new("change-json", &[]);
    let run = project
        .envctl(
            &emulator,
            &["apply", "staging", "--yes", "--output", "json"],
        )
        .expect_code(0);
    assert!(
        run.stderr.contains("Plan: "),
        "the plan is on stderr: {}",
        run.stderr
    );
    let result = run.json();
    assert_documented("apply", &result, &[]);
    assert_eq!(result["operation"], "apply");
    assert_eq!(result["success"], true);
    let operations = result["changes"][0]["operations"].as_array().unwrap();
    let vpc = operations
        .iter()
        .find(|o| o["address"] == "vpc.main")
        .expect("the VPC's create");
    assert_eq!(vpc["action"], "create");
    assert_eq!(vpc["outcome"], "succeeded");
    assert_eq!(
        vpc["cloud_id"],
        emulator
            .inventory()
            .by_address("vpcs", "staging", "vpc.main")["id"]
    );
    assert!(vpc["duration_ms"].is_u64(), "{vpc:#}");
    assert_eq!(
        result["changes"][0]["succeeded"].as_u64(),
        Some(operations.len() as u64)
    );

    // Nothing to do: still one document.
    let again = project
        .envctl(&emulator, &["apply", "staging", "--yes", "-o", "json"])
        .expect_code(0)
        .json();
    assert_eq!(again["changes"], serde_json::json!([]));

    // Reconcile after a hand change, and destroy: the same shape.
    let group = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    let repaired = project
        .envctl(&emulator, &["reconcile", "staging", "--yes", "-o", "json"])
        .expect_code(0);
    assert!(
        repaired.stderr.contains("departure"),
        "the drift is on stderr: {}",
        repaired.stderr
    );
    let repaired = repaired.json();
    assert_eq!(repaired["operation"], "reconcile");
    assert_eq!(
        repaired["changes"][0]["operations"][0]["address"],
        "security_group.app"
    );
    let destroyed = project
        .envctl(&emulator, &["destroy", "staging", "--yes", "-o", "json"])
        .expect_code(0)
        .json();
    assert_eq!(destroyed["operation"], "destroy");
    assert!(
        destroyed["changes"][0]["operations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["action"] == "delete" && o["outcome"] == "succeeded"),
        "{destroyed:#}"
    );
}
