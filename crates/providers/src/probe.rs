//! The probe client: fetches probe documents over HTTP(S) and from files.
//!
//! Owns [`ProbeClient`], the implementation of [`envctl_engine::probe::ProbeSource`].
//!
//! Invariants: `http://` and `https://` URLs are fetched with one GET per attempt (HTTP/1.1,
//! rustls on the system's root certificates, the same stack as the AWS SDK's client), each
//! attempt bounded by the timeout (redirects included); connection failures, timeouts, 5xx
//! and 429 answers are retried with a doubling backoff from 200 ms, other 4xx answers and TLS
//! failures never; at most [`MAX_REDIRECTS`] redirects are followed and never from HTTPS down
//! to HTTP; no body larger than [`BODY_LIMIT`] is read, from the network or from a file;
//! `file:PATH` is relative to the spec's folder, `file:///PATH` and `file:/PATH` are
//! absolute; every failure is a [`ProbeError`] naming the URL, never a panic.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use envctl_engine::probe::{ProbeError, ProbeSource};
use http::header::{ACCEPT, CONTENT_LENGTH, LOCATION, USER_AGENT};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncReadExt;

/// The largest body read, in bytes (1 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// The most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 3;
/// The default timeout of one attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default number of attempts of an HTTP(S) fetch.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The wait before the second attempt; it doubles before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const AGENT: &str = concat!("envctl/", env!("CARGO_PKG_VERSION"));

/// Why a [`ProbeClient`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeClientError {
    /// The TLS configuration could not be built.
    #[error("cannot set up TLS for probes: {0}")]
    Tls(String),
}

/// Fetches probe documents over HTTP(S) and from files (see the module docs).
pub struct ProbeClient {
    base_dir: PathBuf,
    timeout: Duration,
    attempts: u32,
    /// How many of the system's root certificates were usable (0 makes HTTPS fail).
    root_certificates: usize,
    http: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl std::fmt::Debug for ProbeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeClient")
            .field("base_dir", &self.base_dir)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .field("root_certificates", &self.root_certificates)
            .finish_non_exhaustive()
    }
}

impl ProbeClient {
    /// A client reading relative `file:` URLs from `base_dir` (the spec's folder), with
    /// [`DEFAULT_TIMEOUT`] per attempt and [`DEFAULT_ATTEMPTS`] attempts. Loads the system's
    /// root certificates (`SSL_CERT_FILE` and `SSL_CERT_DIR` name others); finding none is not
    /// an error here, HTTPS fetches then fail with a TLS error that says so.
    ///
    /// # Errors
    ///
    /// [`ProbeClientError::Tls`] when the TLS configuration cannot be built.
    pub fn new(base_dir: PathBuf) -> Result<ProbeClient, ProbeClientError> {
        let native = rustls_native_certs::load_native_certs();
        if !native.errors.is_empty() {
            tracing::debug!(errors = ?native.errors, "some system root certificates were not loaded");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (root_certificates, _unparsable) = roots.add_parsable_certificates(native.certs);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeClientError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(ProbeClient {
            base_dir,
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            root_certificates,
            http,
        })
    }

    /// This client with `timeout` per attempt (redirects and the body included).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> ProbeClient {
        self.timeout = timeout;
        self
    }

    /// This client with `attempts` attempts per HTTP(S) fetch (at least one).
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> ProbeClient {
        self.attempts = attempts.max(1);
        self
    }

    /// The path a `file:` URL's remainder `rest` names.
    fn file_path(&self, rest: &str) -> Result<PathBuf, String> {
        if let Some(after) = rest.strip_prefix("//") {
            let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                return Err(format!(
                    "only local files can be read, not files on `{host}`"
                ));
            }
            if path.is_empty() {
                return Err("no path".to_string());
            }
            return Ok(PathBuf::from(path));
        }
        if rest.is_empty() {
            return Err("no path".to_string());
        }
        Ok(self.base_dir.join(rest))
    }

    async fn read_file(&self, url: &str, rest: &str) -> Result<Vec<u8>, ProbeError> {
        let path = self.file_path(rest).map_err(|reason| ProbeError::BadUrl {
            url: url.to_string(),
            reason,
        })?;
        let file_error = |e: &std::io::Error| ProbeError::File {
            url: url.to_string(),
            path: path.display().to_string(),
            reason: io_reason(e),
        };
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| file_error(&e))?;
        let mut body = Vec::new();
        file.take(
            u64::try_from(BODY_LIMIT)
                .unwrap_or(u64::MAX)
                .saturating_add(1),
        )
        .read_to_end(&mut body)
        .await
        .map_err(|e| file_error(&e))?;
        if body.len() > BODY_LIMIT {
            return Err(too_large(url));
        }
        Ok(body)
    }

    async fn get(&self, url: &str, uri: &Uri) -> Result<Vec<u8>, ProbeError> {
        let mut attempt = 0;
        let mut backoff = FIRST_BACKOFF;
        loop {
            attempt += 1;
            let outcome = tokio::time::timeout(self.timeout, self.follow(uri.clone()))
                .await
                .unwrap_or(Err(Failure::Timeout));
            match outcome {
                Ok(body) => return Ok(body),
                Err(failure) if failure.retryable() && attempt < self.attempts => {
                    tracing::debug!(url, attempt, ?failure, "probe attempt failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(failure) => return Err(self.error(url, failure, attempt)),
            }
        }
    }

    /// One attempt: GET `uri`, following redirects, and read the body.
    async fn follow(&self, mut uri: Uri) -> Result<Vec<u8>, Failure> {
        let mut redirects = 0;
        loop {
            let request = Request::get(uri.clone())
                .header(USER_AGENT, AGENT)
                .header(ACCEPT, "application/json")
                .body(Empty::new())
                .map_err(|e| Failure::Request(e.to_string()))?;
            let response = self.http.request(request).await.map_err(|e| classify(&e))?;
            let status = response.status();
            if !is_redirect(status) {
                if !status.is_success() {
                    return Err(Failure::Status(status));
                }
                return read_body(response).await;
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| {
                    Failure::Redirect(format!(
                        "HTTP {}{} without a Location header",
                        status.as_u16(),
                        status
                            .canonical_reason()
                            .map(|r| format!(" {r}"))
                            .unwrap_or_default()
                    ))
                })?;
            let target = redirect_target(&uri, location).map_err(Failure::Redirect)?;
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(Failure::Redirect(format!(
                    "more than {MAX_REDIRECTS} redirects (the last to {target})"
                )));
            }
            uri = target;
        }
    }

    fn error(&self, url: &str, failure: Failure, attempts: u32) -> ProbeError {
        let url = url.to_string();
        match failure {
            Failure::Connection(reason) => ProbeError::Connection {
                url,
                reason,
                attempts,
            },
            Failure::Tls(mut reason) => {
                if self.root_certificates == 0 {
                    reason.push_str(" (no system root certificates were found)");
                }
                ProbeError::Tls { url, reason }
            }
            Failure::Timeout => ProbeError::Timeout {
                url,
                timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
                attempts,
            },
            Failure::Status(status) => ProbeError::Status {
                url,
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or_default().to_string(),
                attempts,
            },
            Failure::Redirect(reason) => ProbeError::Redirect { url, reason },
            Failure::TooLarge => too_large(&url),
            Failure::Request(reason) => ProbeError::BadUrl { url, reason },
        }
    }
}

impl ProbeSource for ProbeClient {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, ProbeError> {
        let url = url.trim();
        if let Some(rest) = strip_prefix_ignore_case(url, "file:") {
            return self.read_file(url, rest).await;
        }
        let uri = http_uri(url)?;
        self.get(url, &uri).await
    }
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    Connection(String),
    Tls(String),
    Timeout,
    Status(StatusCode),
    Redirect(String),
    TooLarge,
    Request(String),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Connection(_) | Failure::Timeout => true,
            Failure::Status(status) => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Failure::Tls(_) | Failure::Redirect(_) | Failure::TooLarge | Failure::Request(_) => {
                false
            }
        }
    }
}

fn too_large(url: &str) -> ProbeError {
    ProbeError::TooLarge {
        url: url.to_string(),
        limit_bytes: u64::try_from(BODY_LIMIT).unwrap_or(u64::MAX),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn is_http_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

/// `url` as an `http(s)://HOST...` URI.
fn http_uri(url: &str) -> Result<Uri, ProbeError> {
    let unsupported = || ProbeError::UnsupportedScheme {
        url: url.to_string(),
    };
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).filter(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    match scheme {
        Some(scheme) if is_http_scheme(scheme) => {}
        _ => return Err(unsupported()),
    }
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| ProbeError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(ProbeError::BadUrl {
            url: url.to_string(),
            reason: "no host".to_string(),
        });
    }
    Ok(uri)
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// Where a redirect from `base` to `location` (absolute, `//host/..`, `/path` or relative)
/// leads; an error for a target that is not HTTP(S) or leaves HTTPS for HTTP.
fn redirect_target(base: &Uri, location: &str) -> Result<Uri, String> {
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base
        .authority()
        .map(http::uri::Authority::as_str)
        .unwrap_or_default();
    let has_scheme = location
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains('/') && !s.contains('?'));
    let text = if has_scheme {
        location.to_string()
    } else if location.starts_with("//") {
        format!("{scheme}:{location}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let folder = if folder.is_empty() { "/" } else { folder };
        format!("{scheme}://{authority}{folder}{location}")
    };
    let bad = |why: &str| format!("cannot follow the redirect to `{location}`: {why}");
    let target: Uri = text
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    let target_scheme = target.scheme_str().unwrap_or_default();
    if !is_http_scheme(target_scheme) {
        return Err(bad("not an http(s) URL"));
    }
    if scheme.eq_ignore_ascii_case("https") && !target_scheme.eq_ignore_ascii_case("https") {
        return Err(bad("it leaves HTTPS for plain HTTP"));
    }
    if target.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(target)
}

async fn read_body(response: Response<Incoming>) -> Result<Vec<u8>, Failure> {
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(BODY_LIMIT).unwrap_or(u64::MAX)) {
        return Err(Failure::TooLarge);
    }
    let mut body = response.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match classify(&e) {
            Failure::Connection(reason) => {
                Failure::Connection(format!("the connection broke during the body ({reason})"))
            }
            other => other,
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > BODY_LIMIT {
                return Err(Failure::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// The failure an HTTP client error stands for: TLS when rustls refused, else a connection
/// failure described by its IO error kind or its chain of messages.
fn classify(error: &(dyn StdError + 'static)) -> Failure {
    let mut messages: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Failure::Tls(tls.to_string());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // tokio-rustls wraps rustls' error in an IO error, and hyper-rustls that in another:
            // `source()` skips both wrapped errors, `get_ref()` does not.
            let mut io = io;
            loop {
                if let Some(text) = io_kind_text(io.kind()) {
                    return Failure::Connection(text.to_string());
                }
                let Some(inner) = io.get_ref() else { break };
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Failure::Tls(tls.to_string());
                }
                match inner.downcast_ref::<std::io::Error>() {
                    Some(next) => io = next,
                    None => break,
                }
            }
        }
        let message = e.to_string();
        // hyper-util's own "client error (Connect)" says nothing the rest does not.
        if !message.starts_with("client error (") {
            messages.push(if message == "dns error" {
                "the host name does not resolve".to_string()
            } else {
                strip_os_error(&message).to_string()
            });
        }
        current = e.source();
    }
    messages.dedup();
    if messages.is_empty() {
        messages.push("the connection failed".to_string());
    }
    Failure::Connection(messages.join(": "))
}

fn io_kind_text(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind;
    Some(match kind {
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::ConnectionReset => "connection reset by the server",
        ErrorKind::ConnectionAborted => "connection aborted",
        ErrorKind::HostUnreachable => "host unreachable",
        ErrorKind::NetworkUnreachable => "network unreachable",
        ErrorKind::NetworkDown => "network down",
        ErrorKind::TimedOut => "connection timed out",
        ErrorKind::AddrNotAvailable => "address not available",
        _ => return None,
    })
}

/// `No such file or directory (os error 2)` without its `(os error 2)`.
fn strip_os_error(message: &str) -> &str {
    match message.rfind(" (os error ") {
        Some(at) if message.ends_with(')') => &message[..at],
        _ => message,
    }
}

fn io_reason(error: &std::io::Error) -> String {
    strip_os_error(&error.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// What the test server does with a request: answer it, or hold the connection open.
    type Answer = Box<dyn Fn(&str, usize) -> Option<String> + Send + Sync>;

    struct Server {
        addr: SocketAddr,
        hits: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<String>>>,
    }

    impl Server {
        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    fn response(status: &str, headers: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
            body.len()
        )
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1: `answer(path, n)` for the `n`th request (from 1).
    async fn serve(answer: Answer) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.ok();
        let listener = listener.unwrap_or_else(|| panic!("cannot bind 127.0.0.1:0"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let (task_hits, task_requests) = (hits.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (hits, requests, answer) =
                    (task_hits.clone(), task_requests.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0_u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Ok(mut all) = requests.lock() {
                        all.push(head);
                    }
                    match answer(&path, n) {
                        Some(text) => {
                            let _ = socket.write_all(text.as_bytes()).await;
                            let _ = socket.shutdown().await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(60)).await,
                    }
                });
            }
        });
        Server {
            addr,
            hits,
            requests,
        }
    }

    fn client() -> ProbeClient {
        ProbeClient::new(std::env::temp_dir()).unwrap_or_else(|e| panic!("no probe client: {e}"))
    }

    const DOC: &str = r#"{"deps":{"openssl":"3.0.2"}}"#;

    #[tokio::test]
    async fn probe_http_200_returns_the_body() {
        let server = serve(Box::new(|_, _| Some(response("200 OK", "", DOC)))).await;
        let body = client().fetch(&server.url("/versions.json")).await;
        assert_eq!(body, Ok(DOC.as_bytes().to_vec()));
        assert_eq!(server.hits(), 1);
        let requests = server
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let head = requests
            .first()
            .cloned()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(head.starts_with("get /versions.json http/1.1"), "{head}");
        assert!(
            head.contains(&format!("user-agent: envctl/{}", env!("CARGO_PKG_VERSION"))),
            "{head}"
        );
        assert!(head.contains("accept: application/json"), "{head}");
    }

    #[tokio::test]
    async fn probe_http_503_is_retried_then_succeeds() {
        let server = serve(Box::new(|_, n| {
            Some(if n == 1 {
                response("503 Service Unavailable", "", "busy")
            } else {
                response("200 OK", "", DOC)
            })
        }))
        .await;
        let body = client().fetch(&server.url("/versions.json")).await;
        assert_eq!(body, Ok(DOC.as_bytes().to_vec()));
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn probe_http_429_and_5xx_give_up_after_the_attempts() {
        let server = serve(Box::new(|_, _| {
            Some(response("429 Too Many Requests", "", ""))
        }))
        .await;
        let url = server.url("/v.json");
        let error = client().with_attempts(2).fetch(&url).await.err();
        assert_eq!(server.hits(), 2);
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            text,
            format!("{url}: HTTP 429 Too Many Requests (2 attempts)")
        );
    }

    #[tokio::test]
    async fn probe_http_404_is_not_retried() {
        let server = serve(Box::new(|_, _| Some(response("404 Not Found", "", "no")))).await;
        let url = server.url("/versions.json");
        let error = client().fetch(&url).await.err();
        assert_eq!(server.hits(), 1);
        assert!(
            matches!(error, Some(ProbeError::Status { status: 404, .. })),
            "{error:?}"
        );
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, format!("{url}: HTTP 404 Not Found"));
    }

    #[tokio::test]
    async fn probe_closed_port_fails_fast_and_says_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.ok();
        let addr = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .unwrap_or_else(|| panic!("cannot bind 127.0.0.1:0"));
        drop(listener);
        let url = format!("http://{addr}/versions.json");
        let started = Instant::now();
        let error = client().fetch(&url).await.err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(error, Some(ProbeError::Connection { attempts: 3, .. })),
            "{error:?}"
        );
        let text = error.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(text, format!("{url}: connection refused after 3 attempts"));
        assert!(error.and_then(|e| e.hint()).is_some());
    }

    #[tokio::test]
    async fn probe_silent_server_times_out() {
        let server = serve(Box::new(|_, _| None)).await;
        let url = server.url("/versions.json");
        let started = Instant::now();
        let error = client()
            .with_timeout(Duration::from_millis(300))
            .with_attempts(2)
            .fetch(&url)
            .await
            .err();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(server.hits(), 2);
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, format!("{url}: no answer within 300ms (2 attempts)"));
    }

    #[tokio::test]
    async fn probe_redirects_are_followed() {
        let server = serve(Box::new(|path, _| {
            Some(match path {
                "/old" => response("301 Moved Permanently", "location: /v1/versions\r\n", ""),
                "/v1/versions" => response("302 Found", "location: versions.json\r\n", ""),
                "/v1/versions.json" => response("200 OK", "", DOC),
                _ => response("404 Not Found", "", ""),
            })
        }))
        .await;
        let body = client().fetch(&server.url("/old")).await;
        assert_eq!(body, Ok(DOC.as_bytes().to_vec()));
        assert_eq!(server.hits(), 3);
    }

    #[tokio::test]
    async fn probe_redirect_loops_and_missing_locations_fail() {
        let server = serve(Box::new(|path, _| {
            Some(match path {
                "/loop" => response("307 Temporary Redirect", "location: /loop\r\n", ""),
                _ => response("308 Permanent Redirect", "", ""),
            })
        }))
        .await;
        let url = server.url("/loop");
        let error = client().fetch(&url).await.err();
        assert!(
            matches!(error, Some(ProbeError::Redirect { .. })),
            "{error:?}"
        );
        assert_eq!(
            server.hits(),
            1 + MAX_REDIRECTS,
            "no retry of a redirect loop"
        );
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with(&format!("{url}: more than 3 redirects")),
            "{text}"
        );

        let error = client().fetch(&server.url("/nowhere")).await.err();
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.ends_with("HTTP 308 Permanent Redirect without a Location header"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn probe_bodies_over_the_limit_fail() {
        let server = serve(Box::new(|_, _| {
            Some(format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                BODY_LIMIT + 1
            ))
        }))
        .await;
        let url = server.url("/big.json");
        let error = client().fetch(&url).await.err();
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, format!("{url}: the body is larger than 1 MiB"));
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn probe_other_schemes_and_bad_urls_fail() {
        let client = client();
        for url in [
            "ftp://x/v.json",
            "staging.example.com/v.json",
            "s3://bucket/v.json",
        ] {
            let error = client.fetch(url).await.err();
            assert_eq!(
                error,
                Some(ProbeError::UnsupportedScheme {
                    url: url.to_string()
                })
            );
        }
        let error = client.fetch("https:///v.json").await.err();
        assert!(
            matches!(error, Some(ProbeError::BadUrl { .. })),
            "{error:?}"
        );
        let error = client.fetch("file://server/share/v.json").await.err();
        assert!(
            matches!(error, Some(ProbeError::BadUrl { .. })),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn probe_https_to_a_plain_http_server_is_a_tls_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.ok();
        let listener = listener.unwrap_or_else(|| panic!("cannot bind 127.0.0.1:0"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = response("400 Bad Request", "", "plain HTTP here");
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        let url = format!("https://{addr}/versions.json");
        let error = client()
            .with_timeout(Duration::from_secs(3))
            .fetch(&url)
            .await
            .err();
        assert!(matches!(error, Some(ProbeError::Tls { .. })), "{error:?}");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "TLS failures are not retried"
        );
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with(&format!("{url}: TLS handshake failed: ")),
            "{text}"
        );
    }

    #[test]
    fn probe_redirect_targets() {
        let base: Uri = "https://h:8443/a/b/c.json?x=1".parse().unwrap_or_default();
        let target = |location: &str| redirect_target(&base, location).map(|u| u.to_string());
        assert_eq!(target("/z"), Ok("https://h:8443/z".to_string()));
        assert_eq!(
            target("d.json"),
            Ok("https://h:8443/a/b/d.json".to_string())
        );
        assert_eq!(target("//other/p"), Ok("https://other/p".to_string()));
        assert_eq!(target("https://o/p"), Ok("https://o/p".to_string()));
        assert!(target("http://o/p").is_err(), "no downgrade to HTTP");
        assert!(target("file:///etc/passwd").is_err());
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("envctl-probe-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("probes"))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    }

    #[tokio::test]
    async fn probe_file_relative_path_found_and_missing() {
        let dir = scratch("files");
        std::fs::write(dir.join("probes/staging.json"), DOC)
            .unwrap_or_else(|e| panic!("cannot write: {e}"));
        let client = ProbeClient::new(dir.clone()).unwrap_or_else(|e| panic!("{e}"));

        let body = client.fetch("file:probes/staging.json").await;
        assert_eq!(body, Ok(DOC.as_bytes().to_vec()));

        let absolute = format!("file://{}", dir.join("probes/staging.json").display());
        assert_eq!(client.fetch(&absolute).await, Ok(DOC.as_bytes().to_vec()));

        let error = client.fetch("file:probes/production.json").await.err();
        let Some(ProbeError::File { path, .. }) = &error else {
            panic!("a missing file read as {error:?}");
        };
        assert_eq!(Path::new(path), dir.join("probes/production.json"));
        let text = error.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(
            text,
            "file:probes/production.json: No such file or directory"
        );
        let hint = error.and_then(|e| e.hint()).unwrap_or_default();
        assert!(hint.contains("spec's folder"), "{hint}");

        let error = client.fetch("file:probes").await.err();
        assert!(
            matches!(error, Some(ProbeError::File { .. })),
            "a folder read as {error:?}"
        );

        let _ = std::fs::remove_dir_all(&dir);
    }
}
