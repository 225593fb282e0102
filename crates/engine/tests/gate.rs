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
use fake::{FakeCloud, FakeLocks, Recorder, date, gated_spec, verified_spec};

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
        state(&cloud, &FakeLocks::default(), &spec, &production, &reporter)
            .await
            .unwrap()
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
        &FakeLocks::default(),
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
        state(&cloud, &FakeLocks::default(), &spec, &production, &reporter)
            .await
            .unwrap(),
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
        &FakeLocks::default(),
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
        &FakeLocks::default(),
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
    let error = state(
        &cloud,
        &FakeLocks::default(),
        &spec,
        &production,
        &SilentReporter,
    )
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
        state(
            &providers,
            &FakeLocks::default(),
            &spec,
            &production,
            &reporter
        )
        .await
        .unwrap(),
        GateState::Converged,
        "staging converged in its own cloud"
    );
    // Through production's cloud alone, staging is nowhere.
    let alone = FakeCloud::default();
    assert!(matches!(
        state(&alone, &FakeLocks::default(), &spec, &production, &reporter)
            .await
            .unwrap(),
        GateState::Unconverged(_)
    ));
}

fn verification(spec: &envctl_spec::Spec, fingerprint: &str, at_unix: u64) -> ops::Verification {
    ops::Verification {
        id: format!("v{at_unix}"),
        environment: "staging".into(),
        parity_digest: spec.parity_digest().to_string(),
        live_fingerprint: fingerprint.to_string(),
        revision: None,
        command: "true".into(),
        who: "ci@runner".into(),
        at_unix,
    }
}

#[tokio::test]
async fn with_require_verified_the_gate_opens_only_on_a_verification_of_this_spec_and_state() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let spec = verified_spec();
    let production = spec.expand("production").unwrap();
    let reporter = Recorder::default();
    converge(&cloud, &spec, "staging").await;

    // Converged but never verified.
    let closed = state(&cloud, &locks, &spec, &production, &reporter)
        .await
        .unwrap();
    let blocker = closed.blocker().expect("closed");
    assert_eq!(blocker.kind, BlockerKind::Unverified);
    assert!(
        blocker.message.contains("has never been verified"),
        "{}",
        blocker.message
    );
    assert!(
        blocker
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("envctl verify staging -- COMMAND"),
        "{blocker:?}"
    );

    // Verified by `prepare` + `record`: the gate opens.
    let project = production.project.clone();
    let verified = ops::verify::prepare(&cloud, &spec, "staging")
        .await
        .unwrap();
    let fingerprint = verified.live.fingerprint();
    ops::verify::record(&locks, &project, &verification(&spec, &fingerprint, 100))
        .await
        .unwrap();
    let open = state(&cloud, &locks, &spec, &production, &reporter)
        .await
        .unwrap();
    assert!(matches!(open, GateState::Verified(_)), "{open:?}");
    assert!(reporter.has("GateVerified"), "{:?}", reporter.lines());
    let mut allowed = production.clone();
    enforce(
        &cloud,
        &locks,
        &spec,
        &mut allowed,
        None,
        date("2027-01-01"),
        &reporter,
    )
    .await
    .unwrap();

    // A verification only at another digest closes it, naming both digests.
    let other = FakeLocks::default();
    let mut elsewhere = verification(&spec, &fingerprint, 200);
    elsewhere.parity_digest = "sha256:0000".into();
    ops::verify::record(&other, &project, &elsewhere)
        .await
        .unwrap();
    let closed = state(&cloud, &other, &spec, &production, &reporter)
        .await
        .unwrap();
    let message = &closed.blocker().expect("closed").message;
    assert!(message.contains("sha256:0000"), "{message}");
    assert!(message.contains(spec.parity_digest()), "{message}");

    // A change of staging after its verification (here a scale change: same spec digest)
    // makes the verification stale until staging is verified again.
    let scaled_text = fake::GATED_SPEC
        .replace("require_verified = false\n", "")
        .replace(
            "instance_type = \"t3.small\", count = 1",
            "instance_type = \"t3.small\", count = 2",
        );
    let scaled = envctl_spec::check(
        &envctl_spec::SourceFile::new("envctl.toml", &scaled_text),
        date("2027-01-01"),
    )
    .spec
    .unwrap();
    assert_eq!(scaled.parity_digest(), spec.parity_digest(), "scale only");
    converge(&cloud, &scaled, "staging").await;
    let stale = state(&cloud, &locks, &scaled, &production, &reporter)
        .await
        .unwrap();
    let message = &stale.blocker().expect("stale").message;
    assert!(
        message.contains("older than `staging`'s last change"),
        "{message}"
    );
    let error = enforce(
        &cloud,
        &locks,
        &scaled,
        &mut production.clone(),
        None,
        date("2027-01-01"),
        &reporter,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, GateError::Unverified { .. }), "{error:?}");

    // A drifted staging cannot be verified at all.
    cloud.tamper(
        "instance.app[0]",
        "instance_type",
        Value::Str("m5.24xlarge".into()),
    );
    let refused = ops::verify::prepare(&cloud, &scaled, "staging")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ops::VerifyError::Drifted { .. }),
        "{refused:?}"
    );
}
