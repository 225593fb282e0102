//! The gates a change passes, owned by the engine: expired declared differences and the
//! promotion gate, with their overrides recorded as tags and reported as events.
#![allow(clippy::unwrap_used)]

mod fake;

use envctl_engine::ops::gate::{
    EXPIRED_OVERRIDE_TAG, OVERRIDE_TAG, enforce, enforce_expiry, expired_blockers, state,
};
use envctl_engine::ops::{ExpiryStatus, GateError, GateState, declared_differences};
use envctl_engine::{ApplyOptions, BlockerKind, PlanOptions, SilentReporter, ops};
use envctl_spec::{ResourceKind, Value};
use fake::{FakeCloud, Recorder, date, gated_spec};

async fn converge(cloud: &FakeCloud, spec: &envctl_spec::Spec, environment: &str) {
    let desired = spec.expand(environment).unwrap();
    let plan = ops::plan(cloud, &desired).await.unwrap();
    let report = ops::apply(cloud, &plan, ApplyOptions::default(), &SilentReporter)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
}

fn vpc_tag(desired: &envctl_spec::DesiredState, key: &str) -> Option<String> {
    desired
        .resources
        .iter()
        .find(|r| r.kind == ResourceKind::Vpc)
        .and_then(|r| r.tags.get(key).cloned())
}

#[test]
fn declared_differences_are_judged_against_the_date_passed_in() {
    let spec = gated_spec();
    let on = |day| declared_differences(spec.differences(), date(day))[0].status;
    assert_eq!(on("2027-01-01"), ExpiryStatus::Active { days_left: 180 });
    assert_eq!(on("2027-06-20"), ExpiryStatus::Expiring { days_left: 10 });
    assert_eq!(on("2027-07-02"), ExpiryStatus::Expired { days_ago: 2 });
}

#[test]
fn an_expired_difference_blocks_the_environments_it_names_unless_allowed_and_tagged() {
    let spec = gated_spec();
    let after = date("2027-07-01");
    let blockers = expired_blockers(spec.differences(), "staging", after);
    assert_eq!(blockers.len(), 1);
    assert_eq!(blockers[0].kind, BlockerKind::ExpiredDifference);
    assert!(
        blockers[0]
            .message
            .contains("expired on 2027-06-30 (1 days ago"),
        "{}",
        blockers[0].message
    );
    assert!(expired_blockers(spec.differences(), "staging", date("2027-06-30")).is_empty());

    let mut desired = spec.expand("staging").unwrap();
    let refused = enforce_expiry(
        spec.differences(),
        &mut desired,
        None,
        after,
        &SilentReporter,
    );
    let Err(GateError::Expired { blockers, .. }) = &refused else {
        panic!("not refused: {refused:?}");
    };
    assert_eq!(blockers.len(), 1);
    assert!(refused.unwrap_err().to_string().starts_with(
        "refusing to change `staging`: 1 declared difference it relies on has expired:"
    ));
    assert_eq!(vpc_tag(&desired, EXPIRED_OVERRIDE_TAG), None);

    let recorder = Recorder::default();
    enforce_expiry(
        spec.differences(),
        &mut desired,
        Some("review booked, #42"),
        after,
        &recorder,
    )
    .unwrap();
    assert!(recorder.has("ExpiredAllowed"), "{:?}", recorder.lines());
    assert_eq!(
        vpc_tag(&desired, EXPIRED_OVERRIDE_TAG).as_deref(),
        Some("review booked   42 - allowed on 2027-07-01")
    );
}

#[tokio::test]
async fn the_promotion_gate_opens_once_the_upstream_has_converged() {
    let cloud = FakeCloud::default();
    let spec = gated_spec();
    let production = spec.expand("production").unwrap();
    let reporter = Recorder::default();

    // Nothing of staging exists yet: every resource is missing.
    let GateState::Unconverged(blocker) =
        state(&cloud, &spec, &production, &reporter).await.unwrap()
    else {
        panic!("the gate is open before staging exists");
    };
    assert_eq!(blocker.kind, BlockerKind::PromotionGate);
    assert!(
        blocker.message.starts_with(
            "refusing to change `production`: it is promoted from `staging`, which has not converged on this spec (4 departures):"
        ),
        "{}",
        blocker.message
    );
    let mut refused = production.clone();
    let error = enforce(
        &cloud,
        &spec,
        &mut refused,
        None,
        date("2027-01-01"),
        &reporter,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, GateError::Unconverged { .. }), "{error:?}");

    converge(&cloud, &spec, "staging").await;
    assert_eq!(
        state(&cloud, &spec, &production, &reporter).await.unwrap(),
        GateState::Converged
    );
    assert!(reporter.has("GateConverged"), "{:?}", reporter.lines());

    // Drift in staging closes it again; a plan of production shows it as a blocker.
    cloud.tamper(
        "instance.app[0]",
        "instance_type",
        Value::Str("m5.24xlarge".into()),
    );
    let plan = ops::plan_gated(
        &cloud,
        &spec,
        &production,
        &PlanOptions::default(),
        date("2027-01-01"),
        &reporter,
    )
    .await
    .unwrap();
    assert!(
        plan.blockers
            .iter()
            .any(|b| b.kind == BlockerKind::PromotionGate),
        "{:?}",
        plan.blockers
    );
}

#[tokio::test]
async fn skipping_the_promotion_gate_is_reported_and_recorded_never_silent() {
    let cloud = FakeCloud::default();
    let spec = gated_spec();
    let mut production = spec.expand("production").unwrap();
    let reporter = Recorder::default();
    enforce(
        &cloud,
        &spec,
        &mut production,
        Some("hotfix"),
        date("2027-01-01"),
        &reporter,
    )
    .await
    .unwrap();
    assert!(reporter.has("GateSkipped"), "{:?}", reporter.lines());
    assert_eq!(
        vpc_tag(&production, OVERRIDE_TAG).as_deref(),
        Some("hotfix - skipped on 2027-01-01")
    );
    // Skipping reads nothing of the upstream.
    assert!(cloud.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_read_of_the_upstream_names_the_upstream() {
    let cloud = FakeCloud::default();
    cloud.fail_reads(1);
    let spec = gated_spec();
    let production = spec.expand("production").unwrap();
    let error = state(&cloud, &spec, &production, &SilentReporter)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "failed to read the live state of `staging`"
    );
}

#[tokio::test]
async fn the_gate_reads_the_upstream_through_the_upstreams_own_provider() {
    // Staging lives in one cloud (an account), production in another: the gate must look
    // for staging where staging lives.
    let staging_cloud = FakeCloud::default();
    let production_cloud = FakeCloud::default();
    let spec = gated_spec();
    let production = spec.expand("production").unwrap();
    let reporter = Recorder::default();
    converge(&staging_cloud, &spec, "staging").await;
    let providers = envctl_engine::ProviderPerEnvironment::new(
        production_cloud,
        [("staging".to_string(), staging_cloud)]
            .into_iter()
            .collect(),
    );
    assert_eq!(
        state(&providers, &spec, &production, &reporter)
            .await
            .unwrap(),
        GateState::Converged,
        "staging converged in its own cloud"
    );
    // Through production's cloud alone, staging is nowhere.
    let alone = FakeCloud::default();
    assert!(matches!(
        state(&alone, &spec, &production, &reporter).await.unwrap(),
        GateState::Unconverged(_)
    ));
}
