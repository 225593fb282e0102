//! Environments in their own accounts and regions: staging in account 111111111111 and
//! us-west-2, production in 222222222222 and us-east-1, each reached by assuming its own role.
//! Each lives only where the spec says (checked with an independent client that assumes the
//! same roles); credentials for the wrong account are refused before any call but STS's; a
//! saved plan is carried out only in the account it was made in; parity compares the two
//! across accounts.

use crate::support::{Emulator, Inventory, Project, Proxy};

const STAGING_ROLE: &str = "arn:aws:iam::111111111111:role/envctl-deploy";
const PRODUCTION_ROLE: &str = "arn:aws:iam::222222222222:role/envctl-deploy";

/// The example, with staging and production in their own accounts and regions.
fn two_accounts(production_role: bool) -> Vec<(&'static str, String)> {
    let production_role = if production_role {
        format!("role_arn = \"{PRODUCTION_ROLE}\"\n")
    } else {
        String::new()
    };
    vec![
        (
            "[environments.staging]\n",
            format!(
                "[environments.staging]\naccount_id = \"111111111111\"\nrole_arn = \"{STAGING_ROLE}\"\nregion = \"us-west-2\"\n"
            ),
        ),
        (
            "[environments.production]\n",
            format!(
                "[environments.production]\naccount_id = \"222222222222\"\n{production_role}region = \"us-east-1\"\nlock_bucket = \"webapp-prod-envctl-locks\"\n"
            ),
        ),
        (
            "# The only way a non-scale field may differ: declared, justified, owned, expiring.\n",
            "[[differences]]\nresource = \"project\"\nfield = \"region\"\nvalues = { staging = \"us-west-2\", production = \"us-east-1\" }\nreason = \"Staging in one region is enough for testing\"\nrisk = \"Region-specific issues may not surface in staging\"\nowner = \"platform-team\"\nexpires = 2027-06-30\n\n".to_string(),
        ),
        ("zone = \"us-east-1a\"", "zone = \"a\"".to_string()),
        ("zone = \"us-east-1b\"", "zone = \"b\"".to_string()),
    ]
}

fn project(name: &str, production_role: bool) -> Project {
    let edits = two_accounts(production_role);
    let edits: Vec<(&str, &str)> = edits.iter().map(|(a, b)| (*a, b.as_str())).collect();
    Project::new(name, &edits)
}

/// What the independent client sees in `region` of the account `role` (`None`: the default
/// credentials' account, 123456789012).
fn inventory_in(emulator: &Emulator, role: Option<&str>, region: &str) -> Inventory {
    let mut args = vec!["--region", region];
    if let Some(role) = role {
        args.extend(["--role", role]);
    }
    args.push("inventory");
    Inventory(emulator.client(&args))
}

#[test]
fn each_environment_lives_only_in_its_own_account_and_region() {
    let emulator = Emulator::start();
    let project = project("accounts", true);
    let staging = project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    assert!(
        staging
            .stderr
            .contains("`staging`: account 111111111111, region us-west-2"),
        "the run says where it works: {}",
        staging.stderr
    );
    // Production's apply reads staging for its promotion gate, in staging's account.
    let production = project
        .envctl(&emulator, &["apply", "production", "--yes"])
        .expect_code(0);
    assert!(
        production
            .stderr
            .contains("`production`: account 222222222222, region us-east-1"),
        "{}",
        production.stderr
    );

    let staging_home = inventory_in(&emulator, Some(STAGING_ROLE), "us-west-2");
    let production_home = inventory_in(&emulator, Some(PRODUCTION_ROLE), "us-east-1");
    assert_eq!(staging_home.owned("vpcs", "staging").len(), 1);
    assert!(staging_home.owned("vpcs", "production").is_empty());
    assert_eq!(production_home.owned("vpcs", "production").len(), 1);
    assert!(production_home.owned("vpcs", "staging").is_empty());
    // Zones written as suffixes land in each environment's region.
    let zones = |inventory: &Inventory, environment: &str| -> Vec<String> {
        let mut zones: Vec<String> = inventory
            .owned("subnets", environment)
            .iter()
            .map(|s| s["zone"].as_str().unwrap_or_default().to_string())
            .collect();
        zones.sort();
        zones
    };
    assert_eq!(
        zones(&staging_home, "staging"),
        ["us-west-2a", "us-west-2b"]
    );
    assert_eq!(
        zones(&production_home, "production"),
        ["us-east-1a", "us-east-1b"]
    );
    // Nothing in the other region of each account, nothing in the shell's own account.
    assert!(
        inventory_in(&emulator, Some(STAGING_ROLE), "us-east-1")
            .owned_addresses("staging")
            .is_empty()
    );
    assert!(
        inventory_in(&emulator, None, "us-east-1")
            .owned_addresses("production")
            .is_empty()
    );
    assert!(
        inventory_in(&emulator, None, "us-west-2")
            .owned_addresses("staging")
            .is_empty()
    );

    // Each lock bucket is in its environment's own account.
    let bucket = |role: &str, region: &str, bucket: &str| {
        emulator.client(&["--region", region, "--role", role, "bucket-info", bucket])
    };
    assert_ne!(
        bucket(PRODUCTION_ROLE, "us-east-1", "webapp-prod-envctl-locks"),
        serde_json::Value::Null
    );
    assert_ne!(
        bucket(STAGING_ROLE, "us-west-2", "webapp-envctl-locks"),
        serde_json::Value::Null
    );

    // Parity across the two accounts: clean, then a change by hand in one is reported.
    project
        .envctl(&emulator, &["parity", "staging", "production"])
        .expect_code(0);
    emulator.client(&[
        "--region",
        "us-east-1",
        "--role",
        PRODUCTION_ROLE,
        "set-alarm-threshold",
        "webapp-production-db-cpu",
        "50",
    ]);
    let parity = project.envctl(&emulator, &["parity", "staging", "production"]);
    assert_eq!(parity.code, 2, "{}\n{}", parity.stdout, parity.stderr);
    assert!(parity.stdout.contains("threshold"), "{}", parity.stdout);
}

#[test]
fn credentials_for_another_account_are_refused_before_any_other_call() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator, 0.0, 0);
    // Production names its account but no role: the shell's credentials are account
    // 123456789012's.
    let project = project("wrong-account", false);
    proxy.reset_stats();
    let run = project.envctl_via(&proxy.endpoint, &["plan", "production"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: the credentials are for account 123456789012, but production lives in 222222222222"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("role_arn"), "a hint: {}", run.stderr);
    let stats = proxy.stats();
    assert_eq!(
        stats["by_action"],
        serde_json::json!({"GetCallerIdentity": 1}),
        "only STS was asked: {stats}"
    );
    // Apply is refused the same way, and nothing was made anywhere.
    let run = project.envctl_via(&proxy.endpoint, &["apply", "production", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        proxy.mutating_calls().is_empty(),
        "{:?}",
        proxy.mutating_calls()
    );
}

#[test]
fn a_saved_plan_is_carried_out_only_in_the_account_it_was_made_in() {
    let emulator = Emulator::start();
    // Staging by its role alone (no `account_id`), so that the role can be changed under a
    // saved plan.
    let without_account = |role: &str| -> Vec<(String, String)> {
        two_accounts(true)
            .into_iter()
            .map(|(from, to)| {
                let to = to
                    .replace("account_id = \"111111111111\"\n", "")
                    .replace(STAGING_ROLE, role);
                (from.to_string(), to)
            })
            .collect()
    };
    let edits = without_account(STAGING_ROLE);
    let edits: Vec<(&str, &str)> = edits
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let project = Project::new("saved-plan-account", &edits);
    project
        .envctl(&emulator, &["plan", "staging", "--out", "staging.plan"])
        .expect_code(0);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.dir.join("staging.plan")).unwrap())
            .unwrap();
    assert_eq!(saved["account"], "111111111111");
    assert_eq!(saved["region"], "us-west-2");
    let edits = without_account("arn:aws:iam::333333333333:role/envctl-deploy");
    let edits: Vec<(&str, &str)> = edits
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    project.write_spec(&edits);
    let run = project.envctl(&emulator, &["apply", "--plan", "staging.plan", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "was made in account 111111111111, but these credentials act in 333333333333"
        ),
        "{}",
        run.stderr
    );
    assert!(
        inventory_in(
            &emulator,
            Some("arn:aws:iam::333333333333:role/envctl-deploy"),
            "us-west-2"
        )
        .owned_addresses("staging")
        .is_empty(),
        "nothing was made in the other account"
    );
}
