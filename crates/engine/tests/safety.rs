//! Engine safety against an in-memory cloud: refusals known before the first change, data
//! never replaced as a side effect, replacements that re-point instead of cascading, rolling
//! batches, and rollback that never restores drift.
#![allow(clippy::unwrap_used)]

mod fake;

use std::time::Duration;

use envctl_engine::{
    Action, ApplyOptions, BlockerKind, Cause, PlanOptions, ReplaceOrder, ReplacePolicy,
    SilentReporter, Step, ops, rollback,
};
use envctl_spec::{Address, ResourceKind, Value};
use fake::{FakeCloud, environment, with_database};

async fn apply_env(cloud: &FakeCloud, desired: &envctl_spec::DesiredState) {
    let plan = ops::plan(cloud, desired).await.unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let report = ops::apply(cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
}

fn set(state: &mut envctl_spec::DesiredState, address: &str, field: &str, value: Value) {
    for r in &mut state.resources {
        if r.address.to_string() == address {
            r.fields.insert(field.into(), value.clone());
        }
    }
}

fn mutating_calls(cloud: &FakeCloud) -> Vec<String> {
    cloud
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.as_str() != "read")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_subnet_change_that_would_replace_the_database_is_a_blocker_and_changes_nothing() {
    let cloud = FakeCloud::default();
    let mut desired = with_database(environment("staging", 2, "t3.small"), false);
    apply_env(&cloud, &desired).await;
    cloud.calls.lock().unwrap().clear();

    set(
        &mut desired,
        "subnet.a",
        "cidr",
        Value::Str("10.0.9.0/24".into()),
    );
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    let blockers: Vec<(String, BlockerKind)> = plan
        .blockers
        .iter()
        .map(|b| (b.address.as_ref().unwrap().to_string(), b.kind))
        .collect();
    assert_eq!(
        blockers,
        [("db_cluster.main".to_string(), BlockerKind::ReplacesData)]
    );
    assert!(
        plan.blockers[0].message.contains("subnet.a"),
        "{:?}",
        plan.blockers[0]
    );
    assert!(
        plan.blockers[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("--replace db_cluster.main")
    );
    let refused = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter).await;
    assert!(matches!(refused, Err(ops::ApplyError::Blocked { .. })));
    assert_eq!(mutating_calls(&cloud), Vec::<String>::new());
}

#[tokio::test]
async fn a_database_is_replaced_only_when_asked_for_by_name() {
    let cloud = FakeCloud::default();
    let mut desired = with_database(environment("staging", 1, "t3.small"), false);
    apply_env(&cloud, &desired).await;
    let old = cloud.ids_of("db_cluster.main");
    set(
        &mut desired,
        "db_cluster.main",
        "storage_encrypted",
        Value::Bool(false),
    );
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    assert_eq!(plan.blockers.len(), 1, "{:?}", plan.blockers);
    assert!(
        plan.blockers[0].message.contains("`storage_encrypted`"),
        "{:?}",
        plan.blockers[0]
    );

    let asked = PlanOptions {
        force_replace: ["db_cluster.main".parse::<Address>().unwrap()].into(),
        ..PlanOptions::default()
    };
    let plan = ops::plan_with(&cloud, &desired, &asked).await.unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(plan.summary().replace, 1);
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success());
    assert_ne!(cloud.ids_of("db_cluster.main"), old);
}

#[tokio::test]
async fn deleting_or_replacing_a_deletion_protected_resource_is_a_blocker() {
    let cloud = FakeCloud::default();
    let desired = with_database(environment("staging", 1, "t3.small"), true);
    apply_env(&cloud, &desired).await;
    cloud.calls.lock().unwrap().clear();
    // The spec drops the cluster: the orphan delete is refused before anything runs.
    let without = environment("staging", 1, "t3.small");
    let plan = ops::plan(&cloud, &without).await.unwrap();
    assert_eq!(plan.summary().delete, 1);
    assert_eq!(plan.blockers.len(), 1);
    assert_eq!(plan.blockers[0].kind, BlockerKind::DeletionProtection);
    assert!(
        ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
            .await
            .is_err()
    );
    assert_eq!(mutating_calls(&cloud), Vec::<String>::new());

    // Asked for by name, but protected: still a blocker.
    let mut changed = desired.clone();
    set(
        &mut changed,
        "db_cluster.main",
        "storage_encrypted",
        Value::Bool(false),
    );
    let asked = PlanOptions {
        force_replace: ["db_cluster.main".parse::<Address>().unwrap()].into(),
        ..PlanOptions::default()
    };
    let plan = ops::plan_with(&cloud, &changed, &asked).await.unwrap();
    let kinds: Vec<BlockerKind> = plan.blockers.iter().map(|b| b.kind).collect();
    assert_eq!(kinds, [BlockerKind::DeletionProtection]);

    // destroy lifts protection after confirmation: no blocker there.
    let destroy = ops::plan_destroy(&cloud, &desired).await.unwrap();
    assert!(destroy.blockers.is_empty());
}

#[tokio::test]
async fn a_replaced_group_is_created_first_and_instances_move_to_it_in_place() {
    let cloud = FakeCloud::default();
    let mut desired = environment("staging", 2, "t3.small");
    for r in &mut desired.resources {
        if r.kind == ResourceKind::Instance {
            r.fields.insert(
                "security_groups".into(),
                Value::set([Value::Ref(Address::new(ResourceKind::SecurityGroup, "app"))]),
            );
        }
    }
    apply_env(&cloud, &desired).await;
    let instances = [
        cloud.ids_of("instance.app[0]"),
        cloud.ids_of("instance.app[1]"),
    ];
    // Force the group's replacement (as a description change does on AWS).
    let asked = PlanOptions {
        force_replace: ["security_group.app".parse::<Address>().unwrap()].into(),
        ..PlanOptions::default()
    };
    let plan = ops::plan_with(&cloud, &desired, &asked).await.unwrap();
    let actions: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action(), c.address))
        .collect();
    assert_eq!(
        actions,
        [
            "replace security_group.app",
            "update instance.app[0]",
            "update instance.app[1]"
        ]
    );
    assert_eq!(
        plan.changes[0].action(),
        Action::Replace(ReplaceOrder::CreateBeforeDestroy)
    );
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    // The fake refuses deleting a group still referenced, so the instances moved first.
    assert_eq!(
        [
            cloud.ids_of("instance.app[0]"),
            cloud.ids_of("instance.app[1]")
        ],
        instances,
        "no instance was replaced"
    );
    let calls = cloud.calls.lock().unwrap().clone();
    let position = |call: &str| calls.iter().rposition(|c| c == call).unwrap();
    assert!(position("create security_group.app") < position("update instance.app[0]"));
    assert!(position("update instance.app[1]") < position("delete security_group.app"));
    assert!(ops::plan(&cloud, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn replace_all_keeps_what_holds_data_and_says_so() {
    let cloud = FakeCloud::default();
    let desired = with_database(environment("staging", 1, "t3.small"), false);
    apply_env(&cloud, &desired).await;
    let all = PlanOptions {
        replace: ReplacePolicy::All,
        ..PlanOptions::default()
    };
    let plan = ops::plan_with(&cloud, &desired, &all).await.unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let replaced: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert!(
        !replaced.contains(&"db_cluster.main".to_string()),
        "{replaced:?}"
    );
    // The subnet the cluster lives in cannot be rebuilt without it either.
    assert!(!replaced.contains(&"subnet.a".to_string()), "{replaced:?}");
    assert!(replaced.contains(&"instance.app[0]".to_string()));
    let kept: Vec<String> = plan
        .notes
        .iter()
        .map(|n| format!("{}: {}", n.address, n.message))
        .collect();
    assert!(
        kept.iter()
            .any(|n| n.starts_with("db_cluster.main: not rebuilt: it holds data")),
        "{kept:?}"
    );
    assert!(
        kept.iter()
            .any(|n| n
                .starts_with("subnet.a: not rebuilt: rebuilding it would replace db_cluster.main")),
        "{kept:?}"
    );
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
}

#[tokio::test]
async fn a_resize_rolls_through_a_group_a_quarter_at_a_time() {
    let cloud = FakeCloud::with_delay(Duration::from_millis(40));
    apply_env(&cloud, &environment("staging", 8, "t3.small")).await;
    cloud
        .max_in_flight
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let plan = ops::plan(&cloud, &environment("staging", 8, "t3.large"))
        .await
        .unwrap();
    assert_eq!(plan.summary().update, 8);
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success());
    assert_eq!(
        cloud
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        2,
        "8 instances: 2 down at a time by default"
    );

    // --max-unavailable 1, and a failure stops the roll-out.
    cloud.fail_on("instance.app[1]", Step::Update);
    let plan = ops::plan(&cloud, &environment("staging", 8, "t3.xlarge"))
        .await
        .unwrap();
    let options = ApplyOptions {
        max_unavailable: Some(1),
        ..ApplyOptions::default()
    };
    let report = ops::apply(&cloud, &plan, options, &SilentReporter)
        .await
        .unwrap();
    assert_eq!(report.succeeded(), 1, "only instance.app[0] was resized");
    assert_eq!(report.failed(), 1);
    assert_eq!(report.skipped(), 6, "the later batches never started");
}

#[tokio::test]
async fn rollback_never_restores_values_that_were_drift() {
    let cloud = FakeCloud::default();
    let desired = environment("staging", 2, "t3.small");
    apply_env(&cloud, &desired).await;
    // instance.app[0] drifted; the run repairs it, then instance.app[1]'s update fails.
    cloud.tamper(
        "instance.app[0]",
        "instance_type",
        Value::Str("m5.large".into()),
    );
    cloud.fail_on("instance.app[1]", Step::Update);
    let mut next = desired.clone();
    set(
        &mut next,
        "instance.app[1]",
        "instance_type",
        Value::Str("t3.large".into()),
    );
    let plan = ops::plan(&cloud, &next).await.unwrap();
    assert_eq!(plan.changes[0].cause, Cause::Drift);
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert_eq!(report.failed(), 1);
    let undone = rollback(&plan, &report, &cloud, &SilentReporter).await;
    assert_eq!(undone.undone(), 0, "{undone:?}");
    assert_eq!(undone.kept.len(), 1);
    assert_eq!(undone.kept[0].0, "instance.app[0]");
    let repaired = cloud
        .resources
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.address.to_string() == "instance.app[0]")
        .cloned()
        .unwrap();
    assert_eq!(
        repaired.fields["instance_type"],
        Value::Str("t3.small".into()),
        "the drift stays repaired"
    );
    assert!(
        plan.changes
            .iter()
            .all(|c| c.action() == Action::Update || c.action() == Action::Create)
    );
}

#[tokio::test]
async fn of_two_copies_of_an_address_the_one_in_use_is_kept() {
    let cloud = FakeCloud::default();
    let desired = environment("staging", 2, "t3.small");
    apply_env(&cloud, &desired).await;
    // A lost CreateSubnet answer left a second subnet.a; the instances use the first.
    let used = cloud.ids_of("subnet.a");
    cloud.duplicate("subnet.a");
    let copy = cloud
        .ids_of("subnet.a")
        .into_iter()
        .find(|id| !used.contains(id))
        .unwrap();
    // Both copies match the spec and the copy's id (`dup-…`) sorts first: being in use
    // must decide which one stays.
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    let deletes: Vec<(String, Cause)> = plan
        .changes
        .iter()
        .filter(|c| c.action() == Action::Delete)
        .map(|c| (c.live().unwrap().id.clone(), c.cause))
        .collect();
    assert_eq!(deletes, [(copy.clone(), Cause::Duplicate)]);
    apply_env(&cloud, &desired).await;
    assert_eq!(cloud.ids_of("subnet.a"), used);
}
