//! Reconcile as a controller: passes that repair only what differs, a failed read retried
//! with backoff while the other environments go on, and a stop between passes.
#![allow(clippy::unwrap_used)]

mod fake;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use envctl_engine::Interrupt;
use envctl_engine::ops::{self, ChangeError, ReconcileOptions, Timer, Watch};
use envctl_spec::Value;
use fake::{Answers, FakeCloud, FakeLocks, environment, gated_spec, session};

/// A clock that moves only when slept on, and raises `stop` at its `stop_after`-th sleep
/// (which then never ends, as a real sleep interrupted by Ctrl-C).
struct FakeTimer {
    start: Instant,
    elapsed: Mutex<Duration>,
    slept: Mutex<Vec<Duration>>,
    sleeps: AtomicUsize,
    stop_after: usize,
    stop: Interrupt,
}

impl FakeTimer {
    fn new(stop: &Interrupt, stop_after: usize) -> Self {
        FakeTimer {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
            slept: Mutex::new(Vec::new()),
            sleeps: AtomicUsize::new(0),
            stop_after,
            stop: stop.clone(),
        }
    }

    fn slept(&self) -> Vec<u64> {
        self.slept
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect()
    }
}

impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap()
    }

    async fn sleep(&self, duration: Duration) {
        self.slept.lock().unwrap().push(duration);
        if self.sleeps.fetch_add(1, Ordering::SeqCst) + 1 == self.stop_after {
            self.stop.trigger();
            std::future::pending::<()>().await;
        }
        *self.elapsed.lock().unwrap() += duration;
    }
}

async fn converge(cloud: &FakeCloud, desired: &envctl_spec::DesiredState) {
    let plan = ops::plan(cloud, desired).await.unwrap();
    ops::apply(
        cloud,
        &plan,
        envctl_engine::ApplyOptions::default(),
        &envctl_engine::SilentReporter,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn one_pass_repairs_what_drifted_and_leaves_the_rest() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let staging = environment("staging", 1, "t3.small");
    let production = environment("production", 2, "t3.large");
    converge(&cloud, &staging).await;
    converge(&cloud, &production).await;
    cloud.tamper_in(
        "production",
        "instance.app[1]",
        "instance_type",
        Value::Str("m5.24xlarge".into()),
    );
    let frontend = Answers::yes();
    let stop = Interrupt::new();
    let report = ops::reconcile(
        session(&cloud, &locks, &frontend),
        &gated_spec(),
        &[staging, production.clone()],
        &ReconcileOptions::default(),
        &FakeTimer::new(&stop, 0),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.passes, report.clean, report.repaired, report.failed),
        (1, 1, 1, 0)
    );
    assert!(frontend.recorder.has("drift staging 0"));
    assert!(frontend.recorder.has("drift production 1"));
    assert!(ops::plan(&cloud, &production).await.unwrap().is_empty());
}

#[tokio::test]
async fn without_watch_a_failed_read_ends_the_pass_with_the_error() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    cloud.fail_reads_of("staging", 1);
    let frontend = Answers::yes();
    let stop = Interrupt::new();
    let error = ops::reconcile(
        session(&cloud, &locks, &frontend),
        &gated_spec(),
        &[environment("staging", 1, "t3.small")],
        &ReconcileOptions::default(),
        &FakeTimer::new(&stop, 0),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ChangeError::Read(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "failed to read the live state of `staging`"
    );
}

#[tokio::test]
async fn a_failed_read_is_retried_with_backoff_while_the_other_environments_go_on() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let staging = environment("staging", 1, "t3.small");
    let production = environment("production", 1, "t3.large");
    converge(&cloud, &staging).await;
    converge(&cloud, &production).await;
    // Staging cannot be read three times in a row; production drifts meanwhile.
    cloud.fail_reads_of("staging", 3);
    cloud.tamper_in(
        "production",
        "instance.app[0]",
        "instance_type",
        Value::Str("m5.24xlarge".into()),
    );
    let frontend = Answers::yes();
    let stop = Interrupt::new();
    // The stop comes during the 5th wait: between passes.
    let timer = FakeTimer::new(&stop, 5);
    let options = ReconcileOptions {
        targets: Default::default(),
        watch: Some(Watch::new(Duration::from_secs(3), stop.clone())),
        ..ReconcileOptions::default()
    };
    let report = ops::reconcile(
        session(&cloud, &locks, &frontend),
        &gated_spec(),
        &[staging.clone(), production.clone()],
        &options,
        &timer,
    )
    .await
    .unwrap();
    // Retries after 1s, then 2s, then 3s (4s capped at the interval); then both every 3s.
    assert_eq!(timer.slept(), [1, 2, 3, 3, 3]);
    let lines = frontend.lines();
    let failures: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("read failed"))
        .collect();
    assert_eq!(
        failures,
        [
            "read failed [\"staging\"] 1s",
            "read failed [\"staging\"] 2s",
            "read failed [\"staging\"] 3s"
        ]
    );
    assert_eq!(report.failed_reads, 3);
    // Production was repaired in the first pass, despite staging's failure before it.
    let first_drift = lines
        .iter()
        .position(|l| l.starts_with("drift production 1"))
        .unwrap();
    let second_failure = lines.iter().position(|l| l == failures[1]).unwrap();
    assert!(first_drift < second_failure, "{lines:?}");
    assert!(report.repaired >= 1, "{report:?}");
    assert!(ops::plan(&cloud, &production).await.unwrap().is_empty());
    // Staging was read once its reads worked again, and the loop stopped between passes.
    assert!(frontend.recorder.has("drift staging 0"), "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Stopped { between_passes: true }")
    );
}

#[tokio::test]
async fn a_stop_raised_during_a_pass_ends_the_loop_after_it() {
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let staging = environment("staging", 1, "t3.small");
    converge(&cloud, &staging).await;
    let stop = Interrupt::new();
    let frontend = Answers {
        while_asking: None,
        ..Answers::yes()
    };
    stop.trigger();
    let report = ops::reconcile(
        session(&cloud, &locks, &frontend),
        &gated_spec(),
        &[staging],
        &ReconcileOptions {
            targets: Default::default(),
            watch: Some(Watch::new(Duration::from_secs(60), stop.clone())),
            ..ReconcileOptions::default()
        },
        &FakeTimer::new(&stop, 0),
    )
    .await
    .unwrap();
    assert_eq!(report.passes, 1);
    assert_eq!(
        frontend.lines().last().map(String::as_str),
        Some("Stopped { between_passes: false }")
    );
}

#[test]
fn the_backoff_doubles_up_to_the_interval() {
    let watch = Watch::new(Duration::from_secs(60), Interrupt::new());
    let waits: Vec<u64> = (1..=8).map(|n| watch.backoff(n).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(
        Watch::new(Duration::from_millis(300), Interrupt::new()).backoff(1),
        Duration::from_millis(300)
    );
}

/// An embedding program runs the controller loop on a multi-threaded runtime.
#[test]
fn the_loop_can_be_spawned() {
    fn spawnable<T: Send>(_: &T) {}
    let cloud = FakeCloud::default();
    let locks = FakeLocks::default();
    let frontend = Answers::yes();
    let spec = gated_spec();
    let stop = Interrupt::new();
    let timer = FakeTimer::new(&stop, 0);
    let environments = [environment("staging", 1, "t3.small")];
    let options = ReconcileOptions::default();
    spawnable(&ops::reconcile(
        session(&cloud, &locks, &frontend),
        &spec,
        &environments,
        &options,
        &timer,
    ));
}
