//! The operations that change the cloud, as the engine runs them: refusals before the first
//! change, the lock around the change (taken after a person's answer), saved plans bound to
//! the spec and the cloud, interrupts and rollback.
#![allow(clippy::unwrap_used)]

mod fake;

use std::sync::atomic::Ordering;

use envctl_engine::ops::apply::{check_target, read_saved};
use envctl_engine::ops::{
    self, ChangeError, ChangeOptions, ChangeOutcome, LockError, LockStore, Locking, SavedPlanError,
};
use envctl_engine::{Change, PlanOptions, Step};
use envctl_spec::Value;
use fake::{Answers, FakeCloud, FakeLocks, environment, gated_spec, session, with_database};

fn mutating_calls(cloud: &FakeCloud) -> usize {
    cloud
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.as_str() != "read")
        .count()
}

fn reads(cloud: &FakeCloud) -> usize {
    cloud
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.as_str() == "read")
        .count()
}

async fn apply(
    cloud: &FakeCloud,
    locks: &FakeLocks,
    frontend: &Answers<'_>,
    desired: &envctl_spec::DesiredState,
) -> Result<ChangeOutcome, ChangeError<String>> {
    ops::apply_environment(
        session(cloud, locks, frontend),
        &gated_spec(),
        desired.clone(),
        &PlanOptions::default(),
        &Default::default(),
        &ChangeOptions::default(),
    )
    .await
}

#[tokio::test]
async fn an_apply_runs_under_the_lock_and_releases_it() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let frontend = Answers::yes();
    let desired = environment("staging", 2, "t3.small");
    let outcome = apply(&cloud, &locks, &frontend, &desired).await.unwrap();
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(cloud.count(), desired.resources.len());
    assert_eq!(
        frontend.lines(),
        [
            "locked staging",
            &format!("planned {}", desired.resources.len()),
            "approved?",
            &format!("applied {}", desired.resources.len()),
            "released staging"
        ]
    );
    assert!(!locks.is_locked("app", "staging"));
    // Again: nothing to do, and no question asked.
    let again = apply(&cloud, &locks, &Answers::yes(), &desired)
        .await
        .unwrap();
    assert_eq!(again, ChangeOutcome::NothingToDo);
}

#[tokio::test]
async fn a_lock_held_elsewhere_refuses_before_any_read_or_change() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    locks.hold_elsewhere("app", "staging", "theirs");
    let error = apply(
        &cloud,
        &locks,
        &Answers::yes(),
        &environment("staging", 1, "t3.small"),
    )
    .await
    .unwrap_err();
    let ChangeError::Lock { error, .. } = error else {
        panic!("not a lock error: {error:?}");
    };
    assert!(matches!(*error, LockError::Held { ref holder, .. } if holder.id == "theirs"));
    assert!(cloud.calls.lock().unwrap().is_empty());
    assert!(locks.is_locked("app", "staging"), "their lock stays");
}

#[tokio::test]
async fn unlocked_runs_say_so_and_take_no_lock() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let frontend = Answers::yes();
    let outcome = ops::apply_environment(
        session(&cloud, &locks, &frontend),
        &gated_spec(),
        environment("staging", 1, "t3.small"),
        &PlanOptions::default(),
        &Default::default(),
        &ChangeOptions {
            locking: Locking::Off,
            ..ChangeOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(outcome.is_success());
    assert_eq!(locks.acquired.load(Ordering::SeqCst), 0);
    assert!(frontend.recorder.has("Unlocked"), "{:?}", frontend.lines());
}

#[tokio::test]
async fn when_a_person_is_asked_the_lock_is_taken_after_the_answer_and_a_no_takes_none() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let desired = environment("staging", 1, "t3.small");
    let unlocked_while_asking = std::sync::atomic::AtomicBool::new(false);
    let frontend = Answers {
        asks: true,
        while_asking: Some(Box::new(|| {
            unlocked_while_asking.store(!locks.is_locked("app", "staging"), Ordering::SeqCst);
        })),
        ..Answers::default()
    };
    let outcome = apply(&cloud, &locks, &frontend, &desired).await.unwrap();
    assert!(outcome.is_success());
    assert!(unlocked_while_asking.load(Ordering::SeqCst));
    // Planned before the question, and again under the lock.
    assert_eq!(reads(&cloud), 2);
    assert_eq!(
        frontend.lines()[..3],
        ["planned 5", "approved?", "locked staging"]
    );

    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let declined = Answers {
        asks: true,
        no: true,
        ..Answers::default()
    };
    let outcome = apply(&cloud, &locks, &declined, &desired).await.unwrap();
    assert_eq!(outcome, ChangeOutcome::Declined);
    assert_eq!(locks.acquired.load(Ordering::SeqCst), 0);
    assert_eq!(mutating_calls(&cloud), 0);
    assert!(declined.recorder.has("Declined"));
}

#[tokio::test]
async fn a_plan_that_changed_while_it_was_confirmed_is_refused() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let desired = environment("staging", 1, "t3.small");
    apply(&cloud, &locks, &Answers::yes(), &desired)
        .await
        .unwrap();
    let bigger = environment("staging", 1, "t3.large");
    let frontend = Answers {
        asks: true,
        while_asking: Some(Box::new(|| {
            cloud.tamper(
                "instance.app[0]",
                "instance_type",
                Value::Str("m5.large".into()),
            );
        })),
        ..Answers::default()
    };
    let calls_before = mutating_calls(&cloud);
    let error = apply(&cloud, &locks, &frontend, &bigger).await.unwrap_err();
    assert!(
        matches!(error, ChangeError::ChangedWhileConfirming { ref environment } if environment == "staging"),
        "{error:?}"
    );
    assert_eq!(mutating_calls(&cloud), calls_before);
    assert!(
        !locks.is_locked("app", "staging"),
        "released after the refusal"
    );
}

#[tokio::test]
async fn a_blocked_plan_is_refused_before_the_question() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let desired = with_database(environment("staging", 1, "t3.small"), false);
    apply(&cloud, &locks, &Answers::yes(), &desired)
        .await
        .unwrap();
    // Replacing what holds data without naming it is a blocker.
    let mut unencrypted = desired.clone();
    for r in &mut unencrypted.resources {
        if r.address.to_string() == "db_cluster.main" {
            r.fields
                .insert("storage_encrypted".into(), Value::Bool(false));
        }
    }
    let frontend = Answers::yes();
    let error = apply(&cloud, &locks, &frontend, &unencrypted)
        .await
        .unwrap_err();
    assert!(matches!(error, ChangeError::Blocked { .. }), "{error:?}");
    assert_eq!(frontend.approvals.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_interrupt_before_the_first_change_changes_nothing() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let frontend = Answers::yes();
    let options = ChangeOptions::default();
    options.apply.interrupt.trigger();
    let outcome = ops::destroy(
        session(&cloud, &locks, &frontend),
        &environment("staging", 1, "t3.small"),
        &options,
    )
    .await
    .unwrap();
    // Nothing exists, so nothing to destroy either way; apply something first.
    assert_eq!(outcome, ChangeOutcome::NothingToDo);
    let desired = environment("staging", 1, "t3.small");
    apply(&cloud, &locks, &Answers::yes(), &desired)
        .await
        .unwrap();
    let before = mutating_calls(&cloud);
    let outcome = ops::destroy(session(&cloud, &locks, &frontend), &desired, &options)
        .await
        .unwrap();
    assert_eq!(outcome, ChangeOutcome::NotStarted);
    assert_eq!(mutating_calls(&cloud), before);
    assert!(frontend.recorder.has("NotStarted"));
    assert!(!locks.is_locked("app", "staging"));
}

#[tokio::test]
async fn a_failed_run_in_a_protected_environment_is_rolled_back_but_a_destroy_never() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let mut desired = environment("production", 1, "t3.small");
    desired.protected = true;
    cloud.fail_on("instance.app[0]", Step::Create);
    let frontend = Answers::yes();
    let outcome = apply(&cloud, &locks, &frontend, &desired).await.unwrap();
    let ChangeOutcome::Applied {
        report, rollback, ..
    } = outcome
    else {
        panic!("not applied: {outcome:?}");
    };
    assert!(!report.is_success());
    assert!(rollback.is_some_and(|r| r.undone() > 0));
    assert!(
        frontend
            .recorder
            .has("RollingBack { environment: \"production\", cause: Protected }")
    );
    assert_eq!(cloud.count(), 0, "what the run created was deleted again");

    cloud.fail.lock().unwrap().clear();
    apply(&cloud, &locks, &Answers::yes(), &desired)
        .await
        .unwrap();
    cloud.fail_on("vpc.main", Step::Delete);
    let frontend = Answers::yes();
    let outcome = ops::destroy(
        session(&cloud, &locks, &frontend),
        &desired,
        &ChangeOptions {
            rollback: true,
            ..ChangeOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, ChangeOutcome::Applied { rollback: None, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_saved_plan_is_carried_out_only_while_spec_and_cloud_are_as_it_was_made() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let spec = gated_spec();
    let desired = environment("staging", 1, "t3.small");
    apply(&cloud, &locks, &Answers::yes(), &desired)
        .await
        .unwrap();
    let bigger = environment("staging", 1, "t3.large");
    let saved = ops::plan(&cloud, &bigger).await.unwrap();
    let text = serde_json::to_string(&saved).unwrap();
    let saved = read_saved(&text).unwrap();

    // Another plan format, another spec, another region: refused up front.
    let mut old = saved.clone();
    old.format_version += 1;
    assert!(matches!(
        read_saved(&serde_json::to_string(&old).unwrap()),
        Err(SavedPlanError::FormatVersion { .. })
    ));
    assert!(matches!(read_saved("{}"), Err(SavedPlanError::NotAPlan(_))));
    assert!(matches!(
        check_target(&saved, &environment("staging", 1, "t3.xlarge")),
        Err(SavedPlanError::OtherSpec)
    ));
    let mut elsewhere = bigger.clone();
    elsewhere.region = "eu-west-1".into();
    assert!(matches!(
        check_target(&saved, &elsewhere),
        Err(SavedPlanError::OtherTarget { .. })
    ));

    // Made in another account than the plan made now: refused, whatever else matches.
    let mut other_account = saved.clone();
    other_account.account = Some("222222222222".into());
    assert!(matches!(
        ops::apply::check_unchanged(&other_account, &saved),
        Err(SavedPlanError::OtherAccount { .. })
    ));
    assert!(ops::apply::check_unchanged(&saved, &saved).is_ok());

    // Stale: the cloud changed since the plan was made.
    cloud.tamper("instance.app[0]", "ami", Value::Str("ami-87654321".into()));
    let before = mutating_calls(&cloud);
    let frontend = Answers::yes();
    let error = ops::apply_saved(
        session(&cloud, &locks, &frontend),
        &spec,
        bigger.clone(),
        &saved,
        &ChangeOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ChangeError::SavedPlan(SavedPlanError::Stale { .. })),
        "{error:?}"
    );
    assert_eq!(mutating_calls(&cloud), before);
    assert!(!locks.is_locked("app", "staging"));

    // Edited: the file says other changes than the plan made now.
    cloud.tamper("instance.app[0]", "ami", Value::Str("ami-12345678".into()));
    let mut edited = saved.clone();
    let Change::Update { fields, .. } = &mut edited.changes[0].change else {
        panic!("not an update: {:?}", edited.changes[0]);
    };
    fields[0].desired = Some(Value::Str("t3.2xlarge".into()));
    let error = ops::apply_saved(
        session(&cloud, &locks, &frontend),
        &spec,
        bigger.clone(),
        &edited,
        &ChangeOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ChangeError::SavedPlan(SavedPlanError::Edited)),
        "{error:?}"
    );

    // As saved: carried out.
    let outcome = ops::apply_saved(
        session(&cloud, &locks, &frontend),
        &spec,
        bigger.clone(),
        &saved,
        &ChangeOptions::default(),
    )
    .await
    .unwrap();
    assert!(outcome.is_success(), "{outcome:?}");
    assert!(ops::plan(&cloud, &bigger).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_saved_change_reads_back_only_with_the_data_its_action_needs() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let desired = environment("staging", 1, "t3.small");
    apply(&cloud, &locks, &Answers::yes(), &desired)
        .await
        .unwrap();
    let plan = ops::plan(&cloud, &environment("staging", 1, "t3.large"))
        .await
        .unwrap();
    let saved = serde_json::to_value(&plan).unwrap();
    assert_eq!(read_saved(&saved.to_string()).unwrap(), plan);
    // Written flat, as the saved-plan format always has.
    let update = saved["changes"][0].as_object().unwrap();
    let mut keys: Vec<&str> = update.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "action", "address", "cause", "desired", "fields", "kind", "live"
        ]
    );
    assert_eq!(update["action"], "update");

    // An update without a live copy, a create with one, a delete that has a desired state.
    let edits: [fn(&mut serde_json::Value); 3] = [
        |change| {
            change.as_object_mut().unwrap().remove("live");
        },
        |change| change["action"] = "create".into(),
        |change| {
            change["action"] = "delete".into();
            change["fields"] = serde_json::json!([]);
        },
    ];
    for edit in edits {
        let mut edited = saved.clone();
        edit(&mut edited["changes"][0]);
        let error = read_saved(&edited.to_string()).unwrap_err();
        assert!(matches!(error, SavedPlanError::NotAPlan(_)), "{error:?}");
    }
}

#[tokio::test]
async fn the_in_memory_lock_store_keeps_the_lock_rules() {
    let locks = FakeLocks::default();
    let mine = locks
        .acquire("app", "staging", std::time::Duration::ZERO)
        .await
        .unwrap();
    let second = locks
        .acquire("app", "staging", std::time::Duration::from_millis(20))
        .await;
    assert!(matches!(second, Err(LockError::Held { .. })));
    assert!(matches!(
        locks.force_unlock("app", "staging", "not-it").await,
        Err(LockError::WrongId { .. })
    ));
    assert_eq!(
        locks.holder("app", "staging").await.unwrap().map(|h| h.id),
        Some(mine.info.id.clone())
    );
    // Force-unlocked and taken by another run: the first holder's release leaves it alone.
    locks
        .force_unlock("app", "staging", &mine.info.id)
        .await
        .unwrap();
    locks.hold_elsewhere("app", "staging", "theirs");
    locks.release(&mine).await.unwrap();
    assert_eq!(
        locks.holder("app", "staging").await.unwrap().map(|h| h.id),
        Some("theirs".to_string())
    );
    assert!(matches!(
        locks.force_unlock("app", "production", "x").await,
        Err(LockError::NotLocked { .. })
    ));
}

/// An embedding program runs the operations on a multi-threaded runtime.
#[test]
fn the_operations_futures_can_be_spawned() {
    fn spawnable<T: Send>(_: &T) {}
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let frontend = Answers::yes();
    let spec = gated_spec();
    let desired = environment("staging", 1, "t3.small");
    let options = ChangeOptions::default();
    let plan_options = PlanOptions::default();
    let gate = Default::default();
    spawnable(&ops::apply_environment(
        session(&cloud, &locks, &frontend),
        &spec,
        desired.clone(),
        &plan_options,
        &gate,
        &options,
    ));
    spawnable(&ops::destroy(
        session(&cloud, &locks, &frontend),
        &desired,
        &options,
    ));
}
