//! Sending rates that follow AWS's request limits (`--retry-mode adaptive`, the default).
//!
//! AWS throttles each service per account and per API family (EC2's reads and its changes
//! draw from different buckets). Backing each throttled call off on its own leaves every
//! other call of the family hammering the same empty bucket; here the answers set the pace
//! of the whole family instead.
//!
//! Owns [`SendingRates`] (one send limit per service and family, fed by throttle answers),
//! [`Pacer`] (the SDK interceptor that names each attempt's family and reports its answer)
//! and [`wait_turn`] (what the HTTP connector awaits before sending a paced attempt).
//! Invariants:
//! - a family sends freely until AWS first throttles it while [`OTHER_CALLS`] or more of
//!   its other calls are in progress (sent, or backing off to be sent again); each such
//!   throttle answer to a request sent after the last cut cuts its limit to 70 % of the rate
//!   the family was really sending at (never below [`MIN_RATE`]); answers to requests sent
//!   before a cut say nothing about the new rate and are ignored; one call at a time, even
//!   a fast serial chain of them, is slowed by its own backoff alone;
//! - the limit grows again (by half each second) only while the family has been answered
//!   without throttling for a second, and is lifted when it reaches [`FREE_RATE`];
//! - requests of a family wait their turn first come, first served, retries included, so a
//!   throttled call's retries never starve the rest of the plan, and no request is ever
//!   dropped: waiting for a turn never counts as an attempt;
//! - one family's throttling never slows another's (EC2's changes do not slow its reads,
//!   nor RDS).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// The lowest limit a family is cut to, in requests per second.
pub(crate) const MIN_RATE: f64 = 2.0;
/// A throttle answer cuts only while at least this many other calls of the family are in
/// progress (sent, or backing off to be sent again): one call at a time (a serial chain) is
/// slowed by its own backoff alone.
pub(crate) const OTHER_CALLS: usize = 3;
/// The services whose creates envctl retries itself (see `once`), as the SDK names them.
pub(crate) const EC2: &str = "EC2";
pub(crate) const RDS: &str = "RDS";
/// A limit this high is lifted: the family sends freely again.
pub(crate) const FREE_RATE: f64 = 500.0;
/// What a cut keeps of the rate the family was sending at.
const CUT: f64 = 0.7;
/// How much a limit grows per second without throttling.
const GROWTH_PER_SECOND: f64 = 1.5;
/// How long a family must go unthrottled before its limit grows.
const QUIET: Duration = Duration::from_secs(1);
/// The window the sending rate is measured over.
const WINDOW: Duration = Duration::from_secs(1);
/// An API family: a service and whether the operation only reads (AWS throttles reads and
/// changes from separate buckets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Family {
    pub(crate) service: String,
    pub(crate) reads: bool,
}

impl Family {
    /// The family of `operation` of `service`.
    pub(crate) fn of(service: &str, operation: &str) -> Family {
        Family {
            service: service.to_string(),
            reads: ["Describe", "List", "Get", "Head", "Lookup"]
                .iter()
                .any(|verb| operation.starts_with(verb)),
        }
    }

    /// The changes of `service`.
    pub(crate) fn changes(service: &str) -> Family {
        Family {
            service: service.to_string(),
            reads: false,
        }
    }
}

/// One family's limit and what it was measured from.
#[derive(Debug)]
struct Limit {
    /// Requests per second at most; `None` until AWS first throttles the family.
    per_second: Option<f64>,
    /// Tokens in the bucket (at most one second's worth), and when they were counted.
    tokens: f64,
    counted: Instant,
    /// When the limit was last cut, and last grown.
    cut: Option<Instant>,
    grown: Instant,
    /// When AWS last throttled the family.
    throttled: Option<Instant>,
    /// When the requests of the last [`WINDOW`] were sent.
    sent: VecDeque<Instant>,
    /// Calls in progress: being sent or answered, or backing off between attempts.
    calls: usize,
}

impl Limit {
    fn new(now: Instant) -> Limit {
        Limit {
            per_second: None,
            tokens: 0.0,
            counted: now,
            cut: None,
            grown: now,
            throttled: None,
            sent: VecDeque::new(),
            calls: 0,
        }
    }

    fn record_send(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|&at| now.duration_since(at) > WINDOW)
        {
            self.sent.pop_front();
        }
        self.sent.push_back(now);
    }

    /// Takes a token when there is one (and records the send), else says how long until one.
    fn try_send(&mut self, now: Instant) -> Result<(), Duration> {
        let Some(rate) = self.per_second else {
            self.record_send(now);
            return Ok(());
        };
        let elapsed = now.duration_since(self.counted).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate.max(1.0));
        self.counted = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.record_send(now);
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }

    /// The rate the family really sent at over the last window.
    fn sending_rate(&self, now: Instant) -> f64 {
        let recent = self
            .sent
            .iter()
            .filter(|&&at| now.duration_since(at) <= WINDOW)
            .count();
        (recent as f64 / WINDOW.as_secs_f64()).max(1.0)
    }

    fn on_throttle(&mut self, sent_at: Instant, now: Instant) {
        self.throttled = Some(now);
        if self.cut.is_some_and(|cut| sent_at < cut) {
            return;
        }
        if self.calls <= OTHER_CALLS {
            // (Nearly) one call at a time: its own backoff is all the slowing down it needs.
            return;
        }
        let sending = self.sending_rate(now);
        let base = self.per_second.map_or(sending, |limit| limit.min(sending));
        self.per_second = Some((base * CUT).max(MIN_RATE));
        self.tokens = 0.0;
        self.counted = now;
        self.cut = Some(now);
        self.grown = now;
    }

    fn on_success(&mut self, now: Instant) {
        let Some(rate) = self.per_second else {
            return;
        };
        if self
            .throttled
            .is_some_and(|at| now.duration_since(at) < QUIET)
        {
            self.grown = now;
            return;
        }
        let elapsed = now.duration_since(self.grown).as_secs_f64();
        let grown = rate * GROWTH_PER_SECOND.powf(elapsed);
        self.per_second = (grown < FREE_RATE).then_some(grown);
        self.grown = now;
    }
}

/// One family's limit and its queue of requests waiting for a turn.
#[derive(Debug)]
struct FamilyPace {
    limit: Mutex<Limit>,
    /// Held by the request whose turn it is: waiters are served in the order they came.
    turn: tokio::sync::Mutex<()>,
}

/// The send limits of every family one provider talks to.
#[derive(Debug, Default)]
pub(crate) struct SendingRates {
    families: Mutex<HashMap<Family, Arc<FamilyPace>>>,
}

impl SendingRates {
    fn family(&self, family: &Family) -> Option<Arc<FamilyPace>> {
        let mut families = self.families.lock().ok()?;
        Some(
            families
                .entry(family.clone())
                .or_insert_with(|| {
                    Arc::new(FamilyPace {
                        limit: Mutex::new(Limit::new(Instant::now())),
                        turn: tokio::sync::Mutex::new(()),
                    })
                })
                .clone(),
        )
    }

    /// Waits until `family` may send a request, then counts it as sent.
    pub(crate) async fn wait_turn(&self, family: &Family) {
        let Some(pace) = self.family(family) else {
            return;
        };
        let _turn = pace.turn.lock().await;
        loop {
            let wait = match pace.limit.lock() {
                Ok(mut limit) => match limit.try_send(Instant::now()) {
                    Ok(()) => return,
                    Err(wait) => wait,
                },
                Err(_) => return,
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts a call of `family` as in progress until the guard is dropped.
    pub(crate) fn call(&self, family: &Family) -> Option<CallInProgress> {
        let pace = self.family(family)?;
        if let Ok(mut limit) = pace.limit.lock() {
            limit.calls += 1;
        }
        Some(CallInProgress(pace))
    }

    /// AWS throttled a request of `family` sent at `sent_at`.
    pub(crate) fn throttled(&self, family: &Family, sent_at: Instant) {
        if let Some(pace) = self.family(family)
            && let Ok(mut limit) = pace.limit.lock()
        {
            let before = limit.per_second;
            limit.on_throttle(sent_at, Instant::now());
            if limit.per_second != before {
                tracing::debug!(
                    service = %family.service,
                    reads = family.reads,
                    per_second = ?limit.per_second,
                    "throttled: sending rate cut"
                );
            }
        }
    }

    /// AWS answered a request of `family` without throttling it.
    pub(crate) fn succeeded(&self, family: &Family) {
        if let Some(pace) = self.family(family)
            && let Ok(mut limit) = pace.limit.lock()
        {
            limit.on_success(Instant::now());
        }
    }

    /// The limit `family` is held to now (`None`: it sends freely).
    #[cfg(test)]
    fn limit(&self, family: &Family) -> Option<f64> {
        self.family(family)?.limit.lock().ok()?.per_second
    }
}

/// A call of a family in progress; dropping it ends the call.
#[derive(Debug)]
pub(crate) struct CallInProgress(Arc<FamilyPace>);

impl Drop for CallInProgress {
    fn drop(&mut self) {
        if let Ok(mut limit) = self.0.limit.lock() {
            limit.calls = limit.calls.saturating_sub(1);
        }
    }
}

/// The call an operation is and its family, kept in its configuration bag: the call ends
/// with the operation, when the bag is dropped.
#[derive(Debug, Clone)]
struct OperationCall {
    family: Family,
    _in_progress: Arc<Option<CallInProgress>>,
}

impl Storable for OperationCall {
    type Storer = StoreReplace<Self>;
}

/// An attempt's family and the moment its request really left (after its turn), shared by
/// the interceptor, which reports the answer, and the connector, which sends the request.
#[derive(Debug)]
pub(crate) struct PacedAttempt {
    pub(crate) family: Family,
    sent: std::sync::OnceLock<Instant>,
}

impl PacedAttempt {
    /// Marks the request as sent now.
    pub(crate) fn mark_sent(&self) {
        let _ = self.sent.set(Instant::now());
    }

    fn sent_at(&self) -> Option<Instant> {
        self.sent.get().copied()
    }
}

/// The attempt in flight, kept in the call's configuration bag.
#[derive(Debug, Clone)]
struct AttemptInFlight(Arc<PacedAttempt>);

impl Storable for AttemptInFlight {
    type Storer = StoreReplace<Self>;
}

/// The request extension the connector looks for.
#[derive(Debug, Clone)]
pub(crate) struct PacedRequest(pub(crate) Arc<PacedAttempt>);

/// Names each attempt's family on its request and reports the answer to [`SendingRates`].
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    rates: Arc<SendingRates>,
}

impl Pacer {
    pub(crate) fn new(rates: Arc<SendingRates>) -> Pacer {
        Pacer { rates }
    }
}

impl Intercept for Pacer {
    fn name(&self) -> &'static str {
        "envctl-pacer"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let family = Family::of(metadata.service(), metadata.name());
            let in_progress = Arc::new(self.rates.call(&family));
            cfg.interceptor_state().store_put(OperationCall {
                family,
                _in_progress: in_progress,
            });
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<OperationCall>() else {
            return Ok(());
        };
        let attempt = Arc::new(PacedAttempt {
            family: call.family.clone(),
            sent: std::sync::OnceLock::new(),
        });
        context
            .request_mut()
            .add_extension(PacedRequest(attempt.clone()));
        cfg.interceptor_state().store_put(AttemptInFlight(attempt));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(AttemptInFlight(attempt)) = cfg.load::<AttemptInFlight>().cloned() else {
            return Ok(());
        };
        let Some(sent_at) = attempt.sent_at() else {
            return Ok(());
        };
        match context.response() {
            Some(response) if super::trace::is_throttling(response) => {
                self.rates.throttled(&attempt.family, sent_at);
            }
            Some(_) => self.rates.succeeded(&attempt.family),
            // No answer (a timeout, a lost connection) says nothing about the rate.
            None => {}
        }
        Ok(())
    }
}

/// What the connector does before sending `request`: waits for its family's turn when the
/// provider paces, and marks the moment it left.
pub(crate) async fn wait_turn(rates: Option<&SendingRates>, request: &HttpRequest) {
    let Some(PacedRequest(attempt)) = request.extension::<PacedRequest>() else {
        return;
    };
    if let Some(rates) = rates {
        rates.wait_turn(&attempt.family).await;
    }
    attempt.mark_sent();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec2_changes() -> Family {
        Family::of("ec2", "RunInstances")
    }

    #[test]
    fn families_split_reads_from_changes_per_service() {
        assert!(Family::of("ec2", "DescribeInstances").reads);
        assert!(!Family::of("ec2", "RunInstances").reads);
        assert_ne!(
            Family::of("ec2", "DescribeInstances"),
            Family::of("rds", "DescribeDBClusters")
        );
    }

    #[tokio::test]
    async fn a_family_sends_freely_until_throttled_then_at_most_its_cut_rate() {
        let rates = SendingRates::default();
        let family = ec2_changes();
        let _calls: Vec<_> = (0..10).map(|_| rates.call(&family)).collect();
        let started = Instant::now();
        for _ in 0..50 {
            rates.wait_turn(&family).await;
        }
        assert!(started.elapsed() < Duration::from_millis(100));
        assert_eq!(rates.limit(&family), None);

        // 50 sent within the last second, then a throttle answer: cut to 70 % of 50/s.
        rates.throttled(&family, Instant::now());
        let limit = rates.limit(&family).unwrap_or_default();
        assert!((limit - 35.0).abs() < 0.5, "{limit}");
        let started = Instant::now();
        for _ in 0..7 {
            rates.wait_turn(&family).await;
        }
        // 7 requests at 35/s: one every ~29 ms.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(180), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    }

    #[tokio::test]
    async fn answers_to_requests_sent_before_a_cut_do_not_cut_again() {
        let rates = SendingRates::default();
        let family = ec2_changes();
        let _calls: Vec<_> = (0..10).map(|_| rates.call(&family)).collect();
        for _ in 0..20 {
            rates.wait_turn(&family).await;
        }
        let before_cut = Instant::now();
        rates.throttled(&family, before_cut);
        let cut_once = rates.limit(&family);
        for _ in 0..10 {
            rates.throttled(&family, before_cut);
        }
        assert_eq!(rates.limit(&family), cut_once);
        // A request sent after the cut and throttled cuts again.
        rates.throttled(&family, Instant::now());
        assert!(rates.limit(&family) < cut_once);
    }

    /// `limit` had `count` calls in progress, sent at `at`; one of them is throttled.
    fn busy_then_throttled(limit: &mut Limit, count: usize, at: Instant) {
        limit.calls = count;
        for _ in 0..count {
            limit.record_send(at);
        }
        limit.on_throttle(at, at);
    }

    #[test]
    fn a_limit_never_falls_below_the_minimum() {
        let now = Instant::now();
        let mut limit = Limit::new(now);
        for step in 1..100u64 {
            busy_then_throttled(&mut limit, 10, now + Duration::from_millis(step));
        }
        assert_eq!(limit.per_second, Some(MIN_RATE));
    }

    #[test]
    fn a_serial_chain_is_never_paced() {
        let now = Instant::now();
        let mut limit = Limit::new(now);
        // One call at a time, each throttled, many a second.
        for step in 0..100u64 {
            busy_then_throttled(&mut limit, 1, now + Duration::from_millis(step * 10));
        }
        assert_eq!(limit.per_second, None);
        // Three at a time: still not paced; four: paced.
        busy_then_throttled(&mut limit, 3, now + Duration::from_secs(1));
        assert_eq!(limit.per_second, None);
        busy_then_throttled(&mut limit, 4, now + Duration::from_secs(1));
        assert!(limit.per_second.is_some());
    }

    #[test]
    fn a_limit_grows_only_after_a_quiet_second_and_is_lifted_in_the_end() {
        let now = Instant::now();
        let mut limit = Limit::new(now);
        busy_then_throttled(&mut limit, 10, now);
        assert_eq!(limit.per_second, Some(7.0));
        limit.on_success(now + Duration::from_millis(500));
        assert_eq!(limit.per_second, Some(7.0), "still within the quiet second");
        limit.on_success(now + Duration::from_secs(3));
        let grown = limit.per_second.unwrap_or_default();
        assert!(grown > 14.0, "{grown}");
        limit.on_success(now + Duration::from_secs(60));
        assert_eq!(limit.per_second, None, "lifted");
    }

    #[tokio::test]
    async fn one_familys_throttling_does_not_slow_another() {
        let rates = SendingRates::default();
        let changes = ec2_changes();
        let _calls: Vec<_> = (0..10).map(|_| rates.call(&changes)).collect();
        let reads = Family::of("ec2", "DescribeInstances");
        for _ in 0..10 {
            rates.wait_turn(&changes).await;
        }
        rates.throttled(&changes, Instant::now());
        assert_eq!(rates.limit(&changes), Some(7.0));
        let started = Instant::now();
        for _ in 0..30 {
            rates.wait_turn(&reads).await;
        }
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
