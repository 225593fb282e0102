//! Engine behaviour against an in-memory cloud: plans, apply order, failures, parallelism.
#![allow(clippy::unwrap_used)]

mod fake;

use std::time::Duration;

use envctl_engine::{Action, ApplyOptions, Cause, Outcome, SilentReporter, Step, ops};
use envctl_spec::Value;
use fake::{FakeCloud, environment};

async fn apply_env(
    cloud: &FakeCloud,
    desired: &envctl_spec::DesiredState,
) -> envctl_engine::ApplyReport {
    let plan = ops::plan(cloud, desired).await.unwrap();
    ops::apply(cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap()
}

#[tokio::test]
async fn first_plan_creates_everything_and_plan_after_apply_is_empty() {
    let cloud = FakeCloud::default();
    let desired = environment("staging", 3, "t3.small");
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    assert_eq!(plan.summary().create, desired.resources.len());
    assert!(plan.changes.iter().all(|c| c.action() == Action::Create));

    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(cloud.count(), desired.resources.len());
    let again = ops::plan(&cloud, &desired).await.unwrap();
    assert!(
        again.is_empty(),
        "second plan not empty: {:?}",
        again.changes
    );
}

#[tokio::test]
async fn scale_change_is_an_in_place_update_caused_by_the_spec() {
    let cloud = FakeCloud::default();
    apply_env(&cloud, &environment("staging", 2, "t3.small")).await;
    let bigger = environment("staging", 2, "t3.large");
    let plan = ops::plan(&cloud, &bigger).await.unwrap();
    assert_eq!(plan.summary().update, 2);
    assert_eq!(plan.summary().total(), 2);
    for change in &plan.changes {
        assert_eq!(change.cause, Cause::Spec);
        assert_eq!(change.fields().len(), 1);
        assert_eq!(change.fields()[0].field, "instance_type");
        assert_eq!(change.fields()[0].live, Some(Value::Str("t3.small".into())));
        assert_eq!(
            change.fields()[0].desired,
            Some(Value::Str("t3.large".into()))
        );
    }
}

#[tokio::test]
async fn out_of_band_change_is_reported_as_drift() {
    let cloud = FakeCloud::default();
    let desired = environment("staging", 1, "t3.small");
    apply_env(&cloud, &desired).await;
    cloud.tamper(
        "instance.app[0]",
        "instance_type",
        Value::Str("m5.24xlarge".into()),
    );
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].cause, Cause::Drift);
    assert_eq!(plan.changes[0].action(), Action::Update);
}

#[tokio::test]
async fn count_decrease_deletes_the_highest_indices() {
    let cloud = FakeCloud::default();
    apply_env(&cloud, &environment("staging", 3, "t3.small")).await;
    let plan = ops::plan(&cloud, &environment("staging", 1, "t3.small"))
        .await
        .unwrap();
    let deleted: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action(), c.address))
        .collect();
    assert_eq!(
        deleted,
        ["delete instance.app[1]", "delete instance.app[2]"]
    );
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success());
    assert_eq!(cloud.ids_of("instance.app[0]").len(), 1);
    assert!(cloud.ids_of("instance.app[2]").is_empty());
}

#[tokio::test]
async fn destroy_deletes_in_reverse_dependency_order() {
    // The fake refuses to delete anything still referenced, as AWS does.
    let cloud = FakeCloud::default();
    let desired = environment("staging", 4, "t3.small");
    apply_env(&cloud, &desired).await;
    let plan = ops::plan_destroy(&cloud, &desired).await.unwrap();
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(cloud.count(), 0);
    let calls = cloud.calls.lock().unwrap().clone();
    let position = |what: &str| calls.iter().position(|c| c == what).unwrap();
    assert!(position("delete instance.app[0]") < position("delete subnet.a"));
    assert!(position("delete subnet.a") < position("delete vpc.main"));
    assert!(position("delete security_group.app") < position("delete vpc.main"));
}

#[tokio::test]
async fn a_failure_skips_its_dependents_and_lets_independent_work_finish() {
    let cloud = FakeCloud::default();
    cloud.fail_on("subnet.a", Step::Create);
    let desired = environment("staging", 4, "t3.small");
    let report = apply_env(&cloud, &desired).await;
    assert!(!report.is_success());
    assert_eq!(report.failed(), 1);
    // instances 0 and 2 sit in subnet a; 1 and 3 in subnet b and must have been created.
    let skipped: Vec<String> = report
        .operations
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Skipped { .. }))
        .map(|o| o.address.to_string())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.contains(&"instance.app[0]".to_string()));
    assert!(skipped.contains(&"instance.app[2]".to_string()));
    assert_eq!(cloud.ids_of("instance.app[1]").len(), 1);
    assert_eq!(cloud.ids_of("instance.app[3]").len(), 1);
    // Every operation is reported exactly once.
    assert_eq!(report.operations.len(), desired.resources.len());

    // The next run finishes the job.
    cloud.fail.lock().unwrap().clear();
    let report = apply_env(&cloud, &desired).await;
    assert!(report.is_success());
    assert_eq!(cloud.count(), desired.resources.len());
}

#[tokio::test]
async fn independent_operations_run_in_parallel_within_the_bound() {
    let cloud = FakeCloud::with_delay(Duration::from_millis(30));
    let desired = environment("staging", 20, "t3.small");
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    let options = ApplyOptions {
        parallelism: 5,
        ..ApplyOptions::default()
    };
    let report = ops::apply(&cloud, &plan, options, &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success());
    assert_eq!(
        cloud
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        5
    );
}

#[tokio::test]
async fn replacing_a_field_aws_cannot_change_creates_before_destroying_an_instance() {
    let cloud = FakeCloud::default();
    let mut desired = environment("staging", 1, "t3.small");
    apply_env(&cloud, &desired).await;
    let old = cloud.ids_of("instance.app[0]");
    for r in &mut desired.resources {
        if r.address.to_string() == "instance.app[0]" {
            r.fields
                .insert("ami".into(), Value::Str("ami-87654321".into()));
        }
    }
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert!(matches!(plan.changes[0].action(), Action::Replace(_)));
    assert!(plan.changes[0].fields()[0].forces_replacement);
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success());
    let calls = cloud.calls.lock().unwrap().clone();
    let create = calls
        .iter()
        .rposition(|c| c == "create instance.app[0]")
        .unwrap();
    let delete = calls
        .iter()
        .rposition(|c| c == "delete instance.app[0]")
        .unwrap();
    assert!(create < delete, "{calls:?}");
    let new = cloud.ids_of("instance.app[0]");
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
}

#[tokio::test]
async fn duplicates_left_by_an_interrupted_run_are_removed() {
    let cloud = FakeCloud::default();
    let desired = environment("staging", 2, "t3.small");
    apply_env(&cloud, &desired).await;
    cloud.duplicate("instance.app[1]");
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action(), Action::Delete);
    assert_eq!(plan.changes[0].cause, Cause::Duplicate);
    apply_env(&cloud, &desired).await;
    assert_eq!(cloud.ids_of("instance.app[1]").len(), 1);
    assert!(ops::plan(&cloud, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn environments_do_not_see_each_other() {
    let cloud = FakeCloud::default();
    apply_env(&cloud, &environment("staging", 1, "t3.small")).await;
    let production = environment("production", 3, "t3.xlarge");
    let plan = ops::plan(&cloud, &production).await.unwrap();
    assert_eq!(plan.summary().create, production.resources.len());
    assert_eq!(plan.summary().delete, 0);
}

#[tokio::test]
async fn a_plan_survives_a_round_trip_through_json() {
    let cloud = FakeCloud::default();
    let desired = environment("staging", 2, "t3.small");
    apply_env(&cloud, &environment("staging", 3, "t3.micro")).await;
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    let back: envctl_engine::Plan = serde_json::from_str(&text).unwrap();
    assert_eq!(back, plan);
}

#[tokio::test]
async fn replacing_a_subnet_replaces_the_instances_in_it_old_copies_first() {
    let cloud = FakeCloud::default();
    let mut desired = environment("staging", 2, "t3.small");
    apply_env(&cloud, &desired).await;
    let untouched = cloud.ids_of("instance.app[1]");
    for r in &mut desired.resources {
        if r.address.to_string() == "subnet.a" {
            r.fields
                .insert("cidr".into(), Value::Str("10.0.9.0/24".into()));
        }
    }
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    let replaced: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action(), c.address))
        .collect();
    assert_eq!(replaced, ["replace subnet.a", "replace instance.app[0]"]);
    assert!(
        plan.changes[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("subnet.a")
    );
    // The fake refuses to delete a subnet that an instance still uses, as AWS does.
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(cloud.ids_of("instance.app[1]"), untouched);
    assert!(ops::plan(&cloud, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn drift_sorts_departures_and_reconcile_repairs_all_of_them() {
    use envctl_engine::{DriftKind, PlanOptions, drift_of};
    let cloud = FakeCloud::default();
    let desired = environment("staging", 2, "t3.small");
    apply_env(&cloud, &desired).await;
    cloud.tamper(
        "instance.app[0]",
        "instance_type",
        Value::Str("m5.large".into()),
    );
    let gone = cloud.ids_of("instance.app[1]").remove(0);
    cloud.resources.lock().unwrap().retain(|r| r.id != gone);
    cloud.add_stray_instance("i-byhand");

    let options = PlanOptions {
        remove_unmanaged: true,
        ..PlanOptions::default()
    };
    let plan = ops::plan_with(&cloud, &desired, &options).await.unwrap();
    let report = drift_of(&plan);
    let seen: Vec<(String, DriftKind, Cause)> = report
        .drift
        .iter()
        .map(|d| (d.address.to_string(), d.kind(), d.cause))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "instance.app[0]".to_string(),
                DriftKind::Modified,
                Cause::Drift
            ),
            (
                "instance.app[1]".to_string(),
                DriftKind::Missing,
                Cause::Spec
            ),
            (
                "instance.unmanaged:i-byhand".to_string(),
                DriftKind::Unmanaged,
                Cause::Unmanaged
            ),
        ]
    );
    // A plain plan leaves what envctl does not own alone.
    let plain = ops::plan(&cloud, &desired).await.unwrap();
    assert_eq!(plain.changes.len(), 2);

    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let after = ops::plan_with(&cloud, &desired, &options).await.unwrap();
    assert!(drift_of(&after).is_clean(), "{:?}", after.changes);
    assert!(cloud.strays.lock().unwrap().is_empty());
}

#[tokio::test]
async fn redeploy_replaces_drifted_resources_or_everything_on_request() {
    use envctl_engine::{PlanOptions, ReplacePolicy};
    let cloud = FakeCloud::default();
    let desired = environment("staging", 2, "t3.small");
    apply_env(&cloud, &desired).await;
    cloud.tamper(
        "instance.app[0]",
        "instance_type",
        Value::Str("m5.large".into()),
    );
    let drifted = PlanOptions {
        replace: ReplacePolicy::Drifted,
        ..PlanOptions::default()
    };
    let plan = ops::plan_with(&cloud, &desired, &drifted).await.unwrap();
    let actions: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action(), c.address))
        .collect();
    assert_eq!(actions, ["replace instance.app[0]"]);

    let all = PlanOptions {
        replace: ReplacePolicy::All,
        ..PlanOptions::default()
    };
    let plan = ops::plan_with(&cloud, &desired, &all).await.unwrap();
    assert_eq!(plan.summary().replace, desired.resources.len());
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(ops::plan(&cloud, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn rollback_undoes_creates_and_updates_in_reverse_order() {
    use envctl_engine::rollback;
    let cloud = FakeCloud::default();
    apply_env(&cloud, &environment("staging", 1, "t3.small")).await;
    let before: Vec<String> = {
        let mut ids: Vec<String> = cloud
            .resources
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.id.clone())
            .collect();
        ids.sort();
        ids
    };
    // Grow to 3 bigger instances; the third fails to come up.
    cloud.fail_on("instance.app[2]", Step::Create);
    let desired = environment("staging", 3, "t3.large");
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert_eq!(report.failed(), 1);
    assert_eq!(cloud.ids_of("instance.app[1]").len(), 1);

    let undone = rollback(&plan, &report, &cloud, &SilentReporter).await;
    assert_eq!(undone.failed(), 0, "{undone:?}");
    assert_eq!(
        undone.undone(),
        2,
        "one create deleted, one update restored"
    );
    let mut after: Vec<String> = cloud
        .resources
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    after.sort();
    assert_eq!(after, before, "the environment is back to what it was");
    let restored = cloud
        .resources
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.address.to_string() == "instance.app[0]")
        .cloned()
        .unwrap();
    assert_eq!(
        restored.fields["instance_type"],
        Value::Str("t3.small".into())
    );
}

#[tokio::test]
async fn orphans_are_deleted_only_after_every_create_and_update_succeeded() {
    let cloud = FakeCloud::default();
    apply_env(&cloud, &environment("staging", 3, "t3.small")).await;
    // Shrink to one bigger instance, but the update fails: nothing may be deleted.
    cloud.fail_on("instance.app[0]", Step::Update);
    let plan = ops::plan(&cloud, &environment("staging", 1, "t3.large"))
        .await
        .unwrap();
    assert_eq!(plan.summary().delete, 2);
    let report = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert_eq!(report.failed(), 1);
    assert_eq!(report.skipped(), 2);
    assert_eq!(cloud.ids_of("instance.app[1]").len(), 1);
    assert_eq!(cloud.ids_of("instance.app[2]").len(), 1);
}

#[tokio::test]
async fn a_dependency_cycle_is_refused_naming_the_addresses_in_it() {
    use envctl_engine::{ApplyGraph, GraphError};
    let cloud = FakeCloud::default();
    let mut desired = environment("staging", 1, "t3.small");
    // Make the VPC depend on the group that depends on it.
    for r in &mut desired.resources {
        if r.address.to_string() == "vpc.main" {
            r.depends_on.push("security_group.app".parse().unwrap());
        }
    }
    let plan = ops::plan(&cloud, &desired).await.unwrap();
    let error = ApplyGraph::from_plan(&plan).unwrap_err();
    let GraphError::Cycle { addresses } = &error;
    let named: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    assert!(named.contains(&"vpc.main".to_string()), "{named:?}");
    assert!(
        named.contains(&"security_group.app".to_string()),
        "{named:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the resources depend on each other in a cycle: ")
    );
    // Nothing was attempted.
    let refused = ops::apply(&cloud, &plan, ApplyOptions::default(), &SilentReporter).await;
    assert!(refused.is_err());
    assert_eq!(cloud.count(), 0);
}
