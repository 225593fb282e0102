//! Convergence under throttling and transient errors, and after being killed at any moment.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{Emulator, Inventory, Project, Proxy};

const FOUR_INSTANCES: (&str, &str) = (
    r#"instance.app = { instance_type = "t3.medium", count = 1 }"#,
    r#"instance.app = { instance_type = "t3.medium", count = 4 }"#,
);

/// Fast retries for tests (shipped: 50 ms first, 200 ms with `--retry-mode standard`).
const FAST_RETRIES: [&str; 4] = ["--initial-backoff", "20ms", "--max-attempts", "25"];

fn with_retries<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(FAST_RETRIES);
    all
}

fn assert_exactly_once(inventory: &Inventory, expected: &[String]) {
    let owned = inventory.owned_addresses("staging");
    assert_eq!(
        owned, expected,
        "every expanded resource exactly once, nothing else"
    );
}

fn expected(project: &Project, emulator: &Emulator) -> Vec<String> {
    let shown = project
        .envctl(emulator, &["show", "staging", "--output", "json"])
        .expect_code(0)
        .json();
    let mut addresses: Vec<String> = shown["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect();
    addresses.sort();
    addresses
}

#[test]
fn apply_and_reconcile_converge_when_30_percent_of_calls_fail() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator, 0.3, 0);
    let project = Project::new("faults-30", &[FOUR_INSTANCES]);
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &with_retries(&["apply", "staging", "--yes"]),
        )
        .expect_code(0);
    assert!(run.stderr.contains("Apply complete"), "{}", run.stderr);
    let stats = proxy.stats();
    assert!(
        stats["faulted"].as_u64().unwrap() > 5,
        "faults were injected: {stats}"
    );
    assert_exactly_once(&emulator.inventory(), &expected(&project, &emulator));

    // Break it, then repair it through the same faulty network.
    let id = emulator
        .inventory()
        .by_address("instances", "staging", "instance.app[2]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["terminate-instance", &id]);
    let group = emulator
        .inventory()
        .by_address("security_groups", "staging", "security_group.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.client(&["authorize-ingress", &group, "tcp", "22", "0.0.0.0/0"]);
    project
        .envctl_via(
            &proxy.endpoint,
            &with_retries(&["reconcile", "staging", "--yes"]),
        )
        .expect_code(0);
    assert_exactly_once(&emulator.inventory(), &expected(&project, &emulator));
    project
        .envctl_via(&proxy.endpoint, &with_retries(&["drift", "staging"]))
        .expect_code(0);
}

#[test]
fn apply_converges_when_half_of_all_calls_are_throttled() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator, 0.5, 0);
    let project = Project::new("faults-50", &[FOUR_INSTANCES]);
    project
        .envctl_via(
            &proxy.endpoint,
            &with_retries(&["apply", "staging", "--yes"]),
        )
        .expect_code(0);
    assert_exactly_once(&emulator.inventory(), &expected(&project, &emulator));
    project
        .envctl_via(
            &proxy.endpoint,
            &with_retries(&["plan", "staging", "--detailed-exitcode"]),
        )
        .expect_code(0);
}

#[test]
fn when_retries_run_out_the_error_says_so_and_names_the_throttling() {
    let emulator = Emulator::start();
    let proxy = Proxy::start(&emulator, 1.0, 0);
    let project = Project::new("faults-all", &[]);
    let run = project
        .envctl_via(
            &proxy.endpoint,
            &[
                "plan",
                "staging",
                "--initial-backoff",
                "10ms",
                "--max-attempts",
                "3",
            ],
        )
        .expect_code(1);
    // Each retry is said as it happens, then the error once retries run out. The first call
    // of a run asks STS who the credentials are.
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines[0].starts_with("retrying GetCallerIdentity (2/3) after "),
        "{}",
        run.stderr
    );
    assert!(
        lines[1].starts_with("retrying GetCallerIdentity (3/3) after "),
        "{}",
        run.stderr
    );
    assert!(
        lines[0].ends_with("after throttling") || lines[0].ends_with("after HTTP 503"),
        "the reason is named: {}",
        run.stderr
    );
    assert!(
        lines[2].starts_with("error: failed to ask AWS who the credentials of `staging` are"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("throttled") || run.stderr.contains("persisted through retries"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn a_request_budget_spaces_the_calls_out() {
    let emulator = Emulator::start();
    let project = Project::new("budget", &[]);
    project
        .envctl(&emulator, &["apply", "staging", "--yes"])
        .expect_code(0);
    // A no-change plan makes more than 5 calls to EC2 and more than 3 to RDS: at 2 requests
    // per second and service, the burst covers 2 each and the rest wait about half a second each.
    let started = Instant::now();
    project
        .envctl(
            &emulator,
            &["plan", "staging", "--max-requests-per-second", "2"],
        )
        .expect_code(0);
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

/// A small deterministic generator, seeded from the clock and printed for reruns.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound.max(1)
    }
}

#[test]
fn an_apply_killed_at_random_moments_is_finished_by_the_next_run_without_duplicates() {
    let emulator = Emulator::start();
    // Latency widens the windows between calls so that kills land mid-apply.
    let proxy = Proxy::start(&emulator, 0.0, 15);
    let project = Project::new("crash", &[FOUR_INSTANCES]);
    let expected = expected(&project, &emulator);

    // How long an uninterrupted apply takes here.
    let started = Instant::now();
    project
        .envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"])
        .expect_code(0);
    let full = started.elapsed();

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}, full apply {full:?}");
    let mut random = Lcg(seed);
    for trial in 0..8 {
        emulator.reset();
        let baseline: BTreeSet<String> = all_ids(&emulator.inventory());
        let kill_after = Duration::from_millis(random.below(full.as_millis() as u64));
        let mut child = project
            .command_via(&proxy.endpoint, &["apply", "staging", "--yes"])
            .spawn()
            .unwrap();
        std::thread::sleep(kill_after);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let rerun = project.envctl_via(&proxy.endpoint, &["apply", "staging", "--yes"]);
        assert_eq!(
            rerun.code, 0,
            "trial {trial} (seed {seed}, killed after {kill_after:?}): {}",
            rerun.stderr
        );
        let inventory = emulator.inventory();
        assert_exactly_once(&inventory, &expected);
        // Nothing untagged was left behind either.
        let owned: usize = [
            "vpcs",
            "subnets",
            "security_groups",
            "instances",
            "db_subnet_groups",
            "db_clusters",
            "db_instances",
        ]
        .iter()
        .map(|kind| inventory.owned(kind, "staging").len())
        .sum();
        let new_ids: Vec<String> = all_ids(&inventory).difference(&baseline).cloned().collect();
        let strays = new_ids.len() - owned;
        assert_eq!(strays, 0, "trial {trial}: untracked resources {new_ids:?}");
        project
            .envctl_via(&proxy.endpoint, &["plan", "staging", "--detailed-exitcode"])
            .expect_code(0);
    }
}

/// Ids of every live resource in the emulator (terminated instances excluded).
fn all_ids(inventory: &Inventory) -> BTreeSet<String> {
    [
        "vpcs",
        "subnets",
        "security_groups",
        "instances",
        "db_subnet_groups",
        "db_clusters",
        "db_instances",
    ]
    .iter()
    .flat_map(|kind| inventory.0[*kind].as_array().cloned().unwrap_or_default())
    .filter(|item| !matches!(item["state"].as_str(), Some("terminated" | "shutting-down")))
    .filter(|item| !matches!(item["status"].as_str(), Some("deleting" | "deleted")))
    .map(|item| item["id"].as_str().unwrap_or_default().to_string())
    .collect()
}

/// The throttled answers of the requests counted since the proxy's last reset.
fn throttled_answers(proxy: &Proxy) -> u64 {
    proxy.stats()["rate_limited_by_action"]
        .as_object()
        .map_or(0, |by_action| {
            by_action.values().filter_map(|n| n.as_u64()).sum()
        })
}

#[test]
fn against_request_limits_paced_sending_meets_fewer_throttles_than_fixed_backoff() {
    // AWS limits requests per account, service and API family with a token bucket: here 5
    // per second with a burst of 5. 20 instances and their 21 alarms are 41 launches and
    // alarm writes in two families, sent 10 at a time. Each mode gets an account of its own.
    let twenty = (
        FOUR_INSTANCES.0,
        r#"instance.app = { instance_type = "t3.medium", count = 20 }"#,
    );
    let mut throttled = Vec::new();
    for mode in ["standard", "adaptive"] {
        let emulator = Emulator::start();
        let proxy = Proxy::start_with(&emulator, &["--rate-limit", "5", "--burst", "5"]);
        let project = Project::new(&format!("limits-{mode}"), &[twenty]);
        let mut args = vec!["apply", "staging", "--yes"];
        if mode == "standard" {
            // Adaptive is the default.
            args.extend(["--retry-mode", "standard"]);
        }
        let run = project.envctl_via(&proxy.endpoint, &args);
        if mode == "adaptive" {
            run.expect_code(0);
            assert_exactly_once(&emulator.inventory(), &expected(&project, &emulator));
        }
        throttled.push(throttled_answers(&proxy));
    }
    let (fixed, paced) = (throttled[0], throttled[1]);
    assert!(
        paced * 2 <= fixed,
        "paced sending got {paced} throttled answers, fixed backoff {fixed}"
    );
}
