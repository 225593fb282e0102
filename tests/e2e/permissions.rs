//! The least-privilege IAM policy the README gives is exactly what envctl needs: every call a
//! whole life cycle makes (seen by the proxy, named by the IAM action it needs) is allowed by
//! it, and every action it allows is one envctl's AWS code calls.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::{Emulator, Project, Proxy};

/// Actions AWS allows without a statement (STS says who the credentials are to anyone).
const NEEDS_NO_PERMISSION: [&str; 1] = ["sts:GetCallerIdentity"];

/// Policy actions no single SDK call names: what AWS checks on top of a call.
const IMPLIED: [(&str, &str); 3] = [
    // A delete with a final snapshot also needs the right to take the snapshot.
    (
        "rds:CreateDBClusterSnapshot",
        "final_db_snapshot_identifier",
    ),
    // HeadBucket and ListObjectsV2 are authorized as ListBucket.
    ("s3:ListBucket", "head_bucket"),
    // The SDK's method drops the IAM action's `Bucket`.
    ("s3:PutBucketPublicAccessBlock", ".put_public_access_block("),
];

/// The README's policy: the JSON block after `<!-- iam-policy -->`.
fn readme_policy() -> BTreeSet<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let after = &readme[readme
        .find("<!-- iam-policy -->")
        .expect("the policy marker")..];
    let start = after.find("```json\n").unwrap() + "```json\n".len();
    let end = start + after[start..].find("```").unwrap();
    let policy: serde_json::Value = serde_json::from_str(&after[start..end]).unwrap();
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// `DescribeVpcs` -> `describe_vpcs`, `CreateDBCluster` -> `create_db_cluster`.
fn snake(operation: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = operation.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_lowercase();
        if c.is_uppercase() && i > 0 && (prev_lower || next_lower) {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Every Rust source file of the providers crate, concatenated.
fn providers_source() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers/src"),
        &mut out,
    );
    out
}

#[test]
fn the_readme_policy_allows_every_call_of_a_life_cycle_and_nothing_envctl_never_calls() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator, 0.0, 0);
    let project = Project::verified("permissions", &[]);
    let run = |args: &[&str], code: i32| {
        project.envctl_via(&proxy.endpoint, args).expect_code(code);
    };
    run(&["plan", "staging"], 0);
    run(&["apply", "staging", "--yes"], 0);
    // A hand change for drift, compliance and reconcile to find and repair.
    let group = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    let instance = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[0]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["set-instance-type", &instance, "m5.large"]);
    emulator.client(&["stop-instance", &instance]);
    run(&["drift", "staging"], 2);
    run(&["compliance", "staging"], 2);
    run(&["reconcile", "staging", "--yes"], 0);
    run(&["verify", "staging", "--", "true"], 0);
    run(&["verifications", "staging"], 0);
    run(&["apply", "production", "--yes"], 0);
    run(&["parity"], 0);
    run(&["audit"], 0);
    run(&["state", "production"], 0);
    run(&["graph", "production", "--destroy"], 0);
    // Importing staging's network into another spec reads it whole (and adopting it there is
    // refused: it is staging's).
    let vpc = emulator
        .inventory()
        .by_address("vpcs", "staging", "vpc.main")["id"]
        .as_str()
        .unwrap()
        .to_string();
    run(
        &[
            "--spec",
            "imported.toml",
            "--region",
            "us-east-1",
            "import",
            "staging",
            "--vpc",
            &vpc,
            "--project",
            "other",
        ],
        0,
    );
    run(&["--spec", "imported.toml", "adopt", "staging", "--yes"], 1);
    run(&["destroy", "staging", "--yes"], 0);
    run(
        &["destroy", "production", "--yes", "--confirm", "production"],
        0,
    );

    let seen: BTreeSet<String> = proxy.stats()["iam_actions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let policy = readme_policy();
    let missing: Vec<&String> = seen
        .iter()
        .filter(|a| !policy.contains(*a) && !NEEDS_NO_PERMISSION.contains(&a.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "calls the README's IAM policy does not allow: {missing:#?}\n(seen: {seen:#?})"
    );

    // And nothing more: each allowed action is one envctl's AWS code makes.
    let source = providers_source();
    let unused: Vec<&String> = policy
        .iter()
        .filter(|action| {
            if let Some((_, evidence)) = IMPLIED.iter().find(|(a, _)| a == action) {
                return !source.contains(evidence);
            }
            let operation = action.split_once(':').map_or("", |(_, op)| op);
            !source.contains(&format!(".{}(", snake(operation)))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "the README's IAM policy allows actions envctl never calls: {unused:#?}"
    );
}

#[test]
fn operation_names_become_the_sdks_method_names() {
    assert_eq!(snake("DescribeVpcs"), "describe_vpcs");
    assert_eq!(snake("CreateDBCluster"), "create_db_cluster");
    assert_eq!(
        snake("DescribeDBClusterParameters"),
        "describe_db_cluster_parameters"
    );
    assert_eq!(snake("PutObject"), "put_object");
    assert_eq!(snake("GetResources"), "get_resources");
}
