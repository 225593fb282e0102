//! The HTTP client of each service: a per-service request budget (`--max-requests-per-second`,
//! a ceiling) and the turn of the request's API family ([`super::pace`]) before each send.
//!
//! Owns [`RequestBudget`], a token bucket, [`BudgetedHttpClient`], an HTTP client that
//! waits for its family's turn and spends one budget token per request attempt before
//! sending it, and the choice of HTTP client. Invariants: retries wait and spend tokens
//! too (a throttled account is not hammered by retries); each service client has its own
//! budget, as AWS throttles per service; a request waits for a token, it is never dropped;
//! an attempt's timeout ([`ATTEMPT_TIMEOUT`]) runs from when it is sent, never while it
//! waits for its turn.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use super::pace::{self, SendingRates};

/// How long one attempt may wait for AWS's answer once it is sent (its turn and budget
/// waited for first).
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// A token bucket refilled at `rate` tokens per second, holding at most `rate` (at least 1).
#[derive(Debug)]
pub(crate) struct RequestBudget {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl RequestBudget {
    pub(crate) fn new(rate: f64) -> Self {
        let rate = rate.max(0.1);
        RequestBudget {
            rate,
            state: Mutex::new((rate.max(1.0), Instant::now())),
        }
    }

    /// Waits until a request may be sent.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let Ok(mut state) = self.state.lock() else {
                    return;
                };
                let (tokens, last) = *state;
                let now = Instant::now();
                let refilled = (tokens + now.duration_since(last).as_secs_f64() * self.rate)
                    .min(self.rate.max(1.0));
                if refilled >= 1.0 {
                    *state = (refilled - 1.0, now);
                    return;
                }
                *state = (refilled, now);
                Duration::from_secs_f64((1.0 - refilled) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The default HTTP(S) client behind a family's turn and a request budget.
#[derive(Debug, Clone)]
pub(crate) struct BudgetedHttpClient {
    inner: SharedHttpClient,
    budget: Option<Arc<RequestBudget>>,
    pacing: Option<Arc<SendingRates>>,
}

/// The transport: plain HTTP when the endpoint is `http://` (a local emulator: no TLS
/// set-up, which costs tens of milliseconds per run), the SDK's default rustls client
/// otherwise.
pub(crate) fn transport(plain_http: bool) -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new();
    if plain_http {
        builder.build_http()
    } else {
        builder
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https()
    }
}

/// The HTTP client for one service: `inner` (a [`transport`], shared) behind its families' turns (when the
/// provider paces) and a request budget (when one is set).
pub(crate) fn http_client(
    inner: SharedHttpClient,
    rate: Option<f64>,
    pacing: Option<Arc<SendingRates>>,
) -> SharedHttpClient {
    SharedHttpClient::new(BudgetedHttpClient {
        inner,
        budget: rate.map(|rate| Arc::new(RequestBudget::new(rate))),
        pacing,
    })
}

impl HttpClient for BudgetedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            inner: self.inner.http_connector(settings, components),
            budget: self.budget.clone(),
            pacing: self.pacing.clone(),
        })
    }
}

#[derive(Debug)]
struct BudgetedConnector {
    inner: SharedHttpConnector,
    budget: Option<Arc<RequestBudget>>,
    pacing: Option<Arc<SendingRates>>,
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let budget = self.budget.clone();
        let pacing = self.pacing.clone();
        HttpConnectorFuture::new(async move {
            if let Some(budget) = budget {
                budget.acquire().await;
            }
            pace::wait_turn(pacing.as_deref(), &request).await;
            // The attempt's time counts from here: waiting for a turn is not waiting for AWS.
            match tokio::time::timeout(ATTEMPT_TIMEOUT, inner.call(request)).await {
                Ok(answer) => answer,
                Err(_) => Err(ConnectorError::timeout(
                    format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()).into(),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_budget_spaces_requests_after_its_burst() {
        let budget = RequestBudget::new(20.0);
        let started = Instant::now();
        for _ in 0..30 {
            budget.acquire().await;
        }
        // 20 at once (the burst), then 10 more at 20/s: about half a second.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }
}
