//! Probes: the dependency versions a running service reports, per environment, and how two
//! environments' reports differ.
//!
//! Owns [`ProbeSource`] (the seam the providers crate implements over HTTP(S) and files),
//! [`ProbeError`], [`ProbeReading`], [`flatten`], [`read`] and [`compare`]. No IO happens here.
//!
//! Invariants: a probe document is a JSON object; it is flattened to one [`Value`] per dotted
//! key (`deps.openssl`), so two documents compare key by key; an array of scalars is a set
//! (its order never counts), an array holding objects or arrays is indexed (`items[0].name`);
//! numbers are [`Value::number`] values, so `3` and `3.0` are one value; a fetch or parse
//! failure is kept in the reading (never lost, never a panic), and a reading that failed
//! compares as no differences: the caller reports the error itself.

use std::collections::{BTreeMap, BTreeSet};

use envctl_spec::Value;
use serde::{Deserialize, Serialize};

use crate::parity::ParityDifference;

/// Where probe documents come from (the providers crate implements it over HTTP(S) and files).
pub trait ProbeSource: Send + Sync {
    /// The body at `url`, after the source's own timeouts and retries.
    fn fetch(
        &self,
        url: &str,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, ProbeError>> + Send;
}

/// Why a probe document could not be had. Every variant names the URL it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProbeError {
    /// No connection could be made or it broke (refused, unreachable, name not resolved,
    /// reset), through every attempt.
    #[error("{url}: {reason} after {attempts} {}", plural(*attempts, "attempt"))]
    Connection {
        url: String,
        reason: String,
        attempts: u32,
    },
    /// The TLS handshake failed (an untrusted or mismatched certificate); not retried.
    #[error("{url}: TLS handshake failed: {reason}")]
    Tls { url: String, reason: String },
    /// No complete answer within the per-attempt timeout, through every attempt.
    #[error("{url}: no answer within {} ({attempts} {})", duration_text(*timeout_ms), plural(*attempts, "attempt"))]
    Timeout {
        url: String,
        /// The per-attempt timeout, in milliseconds.
        timeout_ms: u64,
        attempts: u32,
    },
    /// The server answered with a status other than success (after retries for 5xx and 429).
    #[error("{url}: HTTP {status}{}{}", reason_text(reason), attempts_note(*attempts))]
    Status {
        url: String,
        status: u16,
        /// The status's canonical reason (`Not Found`), empty when unknown.
        reason: String,
        attempts: u32,
    },
    /// Redirects that could not be followed: too many, a missing or bad `Location`, or a
    /// downgrade from HTTPS to HTTP.
    #[error("{url}: {reason}")]
    Redirect { url: String, reason: String },
    /// The body is larger than the limit.
    #[error("{url}: the body is larger than {}", size_text(*limit_bytes))]
    TooLarge { url: String, limit_bytes: u64 },
    /// A `file:` URL whose file could not be read.
    #[error("{url}: {reason}")]
    File {
        url: String,
        /// The path that was read (a relative URL resolved against the spec's folder).
        path: String,
        reason: String,
    },
    /// The body is not JSON.
    #[error("{url}: the body is not JSON: {reason}")]
    NotJson { url: String, reason: String },
    /// The document is JSON but not an object (a probe document maps names to versions).
    #[error("{url}: the document is {found}, not an object of versions")]
    NotAnObject {
        url: String,
        /// What it is instead (`an array`, `a string`).
        found: String,
    },
    /// Two entries of the document flatten to the same key (`"a.b"` beside `"a": {"b": ..}`).
    #[error("{url}: the key `{key}` appears twice in the document")]
    DuplicateKey { url: String, key: String },
    /// The URL's scheme is not one a probe can use.
    #[error("{url}: not an http(s) or file: URL")]
    UnsupportedScheme { url: String },
    /// The URL does not parse.
    #[error("{url}: not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" ({attempts} attempts)")
    } else {
        String::new()
    }
}

fn reason_text(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    }
}

/// `10s`, `1.5s`, `300ms`.
fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!(
            "{}.{}s",
            ms / 1000,
            format!("{:03}", ms % 1000).trim_end_matches('0')
        )
    }
}

/// `1 MiB`, `64 KiB`, `100 bytes`.
fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

impl ProbeError {
    /// The URL the error is about.
    pub fn url(&self) -> &str {
        match self {
            ProbeError::Connection { url, .. }
            | ProbeError::Tls { url, .. }
            | ProbeError::Timeout { url, .. }
            | ProbeError::Status { url, .. }
            | ProbeError::Redirect { url, .. }
            | ProbeError::TooLarge { url, .. }
            | ProbeError::File { url, .. }
            | ProbeError::NotJson { url, .. }
            | ProbeError::NotAnObject { url, .. }
            | ProbeError::DuplicateKey { url, .. }
            | ProbeError::UnsupportedScheme { url }
            | ProbeError::BadUrl { url, .. } => url,
        }
    }

    /// What the user can do about it, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            ProbeError::Connection { .. } => {
                "check that the service is up and the URL in `[[probes]]` is right".to_string()
            }
            ProbeError::Tls { .. } => "check the server's certificate: envctl trusts the \
                 system's root certificates (SSL_CERT_FILE or SSL_CERT_DIR name others)"
                .to_string(),
            ProbeError::Timeout { .. } => "check that the service is up and that no firewall \
                 drops the connection; a slow service needs a longer probe timeout"
                .to_string(),
            ProbeError::Status { status, .. } => match status {
                401 | 403 => "the probe URL must answer without credentials".to_string(),
                404 | 410 => "check the path of the URL in `[[probes]]`".to_string(),
                429 => "the service rate-limits the probe; try again later".to_string(),
                500..=599 => "the service answers but fails; check its logs".to_string(),
                _ => return None,
            },
            ProbeError::Redirect { .. } => {
                "point the URL in `[[probes]]` at where the document is served".to_string()
            }
            ProbeError::TooLarge { .. } => {
                "a probe document is a small map of versions: check that the URL in \
                 `[[probes]]` serves it"
                    .to_string()
            }
            ProbeError::File { path, .. } => {
                format!("a relative `file:` path is read from the spec's folder (read `{path}`)")
            }
            ProbeError::NotJson { .. } => "the URL must serve the versions document as JSON \
                 (an HTML page usually means a wrong path or a login page)"
                .to_string(),
            ProbeError::NotAnObject { .. } => {
                "the document must be a JSON object mapping names to versions".to_string()
            }
            ProbeError::DuplicateKey { .. } => "nested objects flatten to dotted keys: a key \
                 with a dot must not also be spelled as nested objects"
                .to_string(),
            ProbeError::UnsupportedScheme { .. } | ProbeError::BadUrl { .. } => {
                "use `https://HOST/PATH`, `http://HOST/PATH` or `file:PATH`".to_string()
            }
        };
        Some(hint)
    }
}

/// One probe's document as read in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReading {
    /// The probe's name in the spec.
    pub probe: String,
    pub environment: String,
    pub url: String,
    /// The flattened document, or why it could not be had.
    pub document: Result<BTreeMap<String, Value>, ProbeError>,
}

/// Why a JSON document does not flatten (see [`flatten`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlattenError {
    /// The document is not an object; `found` says what it is (`an array`).
    #[error("the document is {found}, not an object")]
    NotAnObject { found: String },
    /// Two entries flatten to the same key.
    #[error("the key `{key}` appears twice")]
    DuplicateKey { key: String },
}

impl FlattenError {
    /// This error as a [`ProbeError`] about `url`.
    pub fn at(self, url: &str) -> ProbeError {
        let url = url.to_string();
        match self {
            FlattenError::NotAnObject { found } => ProbeError::NotAnObject { url, found },
            FlattenError::DuplicateKey { key } => ProbeError::DuplicateKey { url, key },
        }
    }
}

fn kind_of(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The value of a JSON scalar; `None` for objects and arrays.
fn scalar(json: &serde_json::Value) -> Option<Value> {
    Some(match json {
        serde_json::Value::Null => Value::Str("null".to_string()),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => n
                .as_f64()
                .and_then(Value::number)
                .unwrap_or_else(|| Value::Str(n.to_string())),
        },
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => return None,
    })
}

fn insert(
    out: &mut BTreeMap<String, Value>,
    key: String,
    value: Value,
) -> Result<(), FlattenError> {
    if out.contains_key(&key) {
        return Err(FlattenError::DuplicateKey { key });
    }
    out.insert(key, value);
    Ok(())
}

fn flatten_into(
    key: String,
    json: &serde_json::Value,
    out: &mut BTreeMap<String, Value>,
) -> Result<(), FlattenError> {
    match json {
        serde_json::Value::Object(map) => {
            for (name, item) in map {
                flatten_into(format!("{key}.{name}"), item, out)?;
            }
            Ok(())
        }
        serde_json::Value::Array(items) => {
            let scalars: Option<Vec<Value>> = items.iter().map(scalar).collect();
            match scalars {
                Some(values) => insert(out, key, Value::set(values)),
                None => {
                    for (index, item) in items.iter().enumerate() {
                        flatten_into(format!("{key}[{index}]"), item, out)?;
                    }
                    Ok(())
                }
            }
        }
        other => match scalar(other) {
            Some(value) => insert(out, key, value),
            None => Ok(()),
        },
    }
}

/// A probe document as one value per dotted key: `{"deps":{"openssl":"3.0.2"}}` gives
/// `deps.openssl = "3.0.2"`. Strings, booleans and numbers ([`Value::number`]) are themselves,
/// `null` is the text `null`; an array of scalars is a set (sorted, order does not count); an
/// array holding objects or arrays is indexed (`items[0].name`). An empty object or array of
/// objects contributes no key.
///
/// # Errors
///
/// [`FlattenError::NotAnObject`] when the document is not an object, and
/// [`FlattenError::DuplicateKey`] when two entries flatten to one key.
pub fn flatten(json: &serde_json::Value) -> Result<BTreeMap<String, Value>, FlattenError> {
    let serde_json::Value::Object(map) = json else {
        return Err(FlattenError::NotAnObject {
            found: kind_of(json).to_string(),
        });
    };
    let mut out = BTreeMap::new();
    for (name, item) in map {
        flatten_into(name.clone(), item, &mut out)?;
    }
    Ok(out)
}

/// Parses and flattens the body of a probe document fetched from `url`.
///
/// # Errors
///
/// [`ProbeError::NotJson`], [`ProbeError::NotAnObject`] or [`ProbeError::DuplicateKey`].
pub fn parse(url: &str, body: &[u8]) -> Result<BTreeMap<String, Value>, ProbeError> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ProbeError::NotJson {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    flatten(&json).map_err(|e| e.at(url))
}

/// Reads probe `probe` of `environment` at `url` from `source`: fetches, parses, flattens.
/// Never fails: a failure is the reading's `document`.
pub async fn read<S: ProbeSource + ?Sized>(
    source: &S,
    probe: &str,
    environment: &str,
    url: &str,
) -> ProbeReading {
    let document = match source.fetch(url).await {
        Ok(body) => parse(url, &body),
        Err(e) => Err(e),
    };
    ProbeReading {
        probe: probe.to_string(),
        environment: environment.to_string(),
        url: url.to_string(),
        document,
    }
}

/// How probe reading `to` differs from `from`, key by key: a key present in one document only
/// has `None` on the other side. The address is `probe.NAME`; `declared(address, key)` tells
/// whether the spec declares the difference. Readings of two different probes, or a reading
/// whose document is an error, give no differences (the caller reports the error from the
/// reading).
pub fn compare(
    from: &ProbeReading,
    to: &ProbeReading,
    declared: &dyn Fn(&str, &str) -> bool,
) -> Vec<ParityDifference> {
    if from.probe != to.probe {
        return Vec::new();
    }
    let (Ok(from_document), Ok(to_document)) = (&from.document, &to.document) else {
        return Vec::new();
    };
    let address = format!("probe.{}", from.probe);
    let keys: BTreeSet<&String> = from_document.keys().chain(to_document.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let from_value = from_document.get(key);
            let to_value = to_document.get(key);
            (from_value != to_value).then(|| ParityDifference {
                address: address.clone(),
                field: key.clone(),
                from_value: from_value.cloned(),
                to_value: to_value.cloned(),
                declared: declared(&address, key),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> BTreeMap<String, Value> {
        flatten(&serde_json::from_str(text).unwrap_or(serde_json::Value::Null)).unwrap_or_default()
    }

    fn reading(environment: &str, text: &str) -> ProbeReading {
        ProbeReading {
            probe: "versions".to_string(),
            environment: environment.to_string(),
            url: format!("file:{environment}.json"),
            document: Ok(doc(text)),
        }
    }

    fn str_value(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    #[test]
    fn flatten_nested_objects_to_dotted_keys() {
        let d = doc(r#"{"service":"api","deps":{"openssl":"3.0.2","db":{"driver":"pg-1.2"}}}"#);
        assert_eq!(d.len(), 3);
        assert_eq!(d.get("service"), Some(&str_value("api")));
        assert_eq!(d.get("deps.openssl"), Some(&str_value("3.0.2")));
        assert_eq!(d.get("deps.db.driver"), Some(&str_value("pg-1.2")));
    }

    #[test]
    fn flatten_scalars_numbers_and_null() {
        let d = doc(r#"{"n":3,"m":3.0,"f":0.5,"big":-12,"b":true,"z":null}"#);
        assert_eq!(d.get("n"), Some(&Value::Int(3)));
        assert_eq!(d.get("m"), Some(&Value::Int(3)), "3.0 is the integer 3");
        assert_eq!(d.get("f"), Value::number(0.5).as_ref());
        assert_eq!(d.get("big"), Some(&Value::Int(-12)));
        assert_eq!(d.get("b"), Some(&Value::Bool(true)));
        assert_eq!(d.get("z"), Some(&str_value("null")));
    }

    #[test]
    fn flatten_arrays_of_scalars_are_sets() {
        let a = doc(r#"{"features":["b","a","b",1]}"#);
        let b = doc(r#"{"features":[1,"a","b"]}"#);
        assert_eq!(a, b, "order and repetition do not count");
        assert_eq!(
            a.get("features"),
            Some(&Value::set([str_value("a"), str_value("b"), Value::Int(1)]))
        );
        assert_eq!(doc(r#"{"e":[]}"#).get("e"), Some(&Value::List(Vec::new())));
    }

    #[test]
    fn flatten_arrays_of_objects_are_indexed() {
        let d = doc(r#"{"libs":[{"name":"zlib","v":"1.3"},["x","y"],7]}"#);
        assert_eq!(d.get("libs[0].name"), Some(&str_value("zlib")));
        assert_eq!(d.get("libs[0].v"), Some(&str_value("1.3")));
        assert_eq!(
            d.get("libs[1]"),
            Some(&Value::set([str_value("x"), str_value("y")]))
        );
        assert_eq!(d.get("libs[2]"), Some(&Value::Int(7)));
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn flatten_rejects_non_objects_and_duplicate_keys() {
        let array = serde_json::json!(["a"]);
        assert_eq!(
            flatten(&array),
            Err(FlattenError::NotAnObject {
                found: "an array".to_string()
            })
        );
        let duplicate = serde_json::json!({"a.b": 1, "a": {"b": 2}});
        assert_eq!(
            flatten(&duplicate),
            Err(FlattenError::DuplicateKey {
                key: "a.b".to_string()
            })
        );
        let error = FlattenError::NotAnObject {
            found: "a string".to_string(),
        }
        .at("file:x.json");
        assert_eq!(
            error.to_string(),
            "file:x.json: the document is a string, not an object of versions"
        );
    }

    #[test]
    fn compare_equal_documents_has_no_differences() {
        let a = reading(
            "staging",
            r#"{"deps":{"openssl":"3.0.2"},"tags":["x","y"]}"#,
        );
        let b = reading(
            "production",
            r#"{"tags":["y","x"],"deps":{"openssl":"3.0.2"}}"#,
        );
        assert!(compare(&a, &b, &|_, _| false).is_empty());
    }

    #[test]
    fn compare_reports_a_changed_key() {
        let a = reading("staging", r#"{"deps":{"openssl":"3.0.2","zlib":"1.3"}}"#);
        let b = reading("production", r#"{"deps":{"openssl":"3.0.1","zlib":"1.3"}}"#);
        let differences = compare(&a, &b, &|_, _| false);
        assert_eq!(
            differences,
            vec![ParityDifference {
                address: "probe.versions".to_string(),
                field: "deps.openssl".to_string(),
                from_value: Some(str_value("3.0.2")),
                to_value: Some(str_value("3.0.1")),
                declared: false,
            }]
        );
    }

    #[test]
    fn compare_reports_keys_present_in_one_document_only() {
        let a = reading("staging", r#"{"a":"1","b":"2"}"#);
        let b = reading("production", r#"{"b":"2","c":"3"}"#);
        let differences = compare(&a, &b, &|_, _| false);
        assert_eq!(differences.len(), 2);
        assert_eq!(differences[0].field, "a");
        assert_eq!(differences[0].from_value, Some(str_value("1")));
        assert_eq!(differences[0].to_value, None);
        assert_eq!(differences[1].field, "c");
        assert_eq!(differences[1].from_value, None);
        assert_eq!(differences[1].to_value, Some(str_value("3")));
    }

    #[test]
    fn compare_marks_declared_differences() {
        let a = reading("staging", r#"{"debug":true,"v":"1"}"#);
        let b = reading("production", r#"{"debug":false,"v":"2"}"#);
        let differences = compare(&a, &b, &|address, field| {
            address == "probe.versions" && field == "debug"
        });
        assert_eq!(differences.len(), 2);
        assert_eq!(differences[0].field, "debug");
        assert!(differences[0].declared);
        assert_eq!(differences[1].field, "v");
        assert!(!differences[1].declared);
    }

    #[test]
    fn compare_of_an_error_reading_or_another_probe_is_empty() {
        let a = reading("staging", r#"{"v":"1"}"#);
        let mut b = reading("production", r#"{"v":"2"}"#);
        let mut other = b.clone();
        other.probe = "other".to_string();
        assert!(compare(&a, &other, &|_, _| false).is_empty());
        b.document = Err(ProbeError::UnsupportedScheme {
            url: "ftp://x".to_string(),
        });
        assert!(compare(&a, &b, &|_, _| false).is_empty());
        assert!(compare(&b, &a, &|_, _| false).is_empty());
    }

    /// A source answering every URL with the same body or error.
    struct Fake(Result<Vec<u8>, ProbeError>);

    impl ProbeSource for Fake {
        async fn fetch(&self, _url: &str) -> Result<Vec<u8>, ProbeError> {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn read_bad_json_is_an_error_reading() {
        let source = Fake(Ok(b"<html>login</html>".to_vec()));
        let url = "https://x/versions.json";
        let r = read(&source, "versions", "staging", url).await;
        assert_eq!(r.probe, "versions");
        assert_eq!(r.environment, "staging");
        assert_eq!(r.url, url);
        let Err(error) = r.document else {
            panic!("bad JSON read as a document");
        };
        assert!(matches!(error, ProbeError::NotJson { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "https://x/versions.json: the body is not JSON: expected value at line 1 column 1"
        );
        assert!(error.hint().is_some());
    }

    #[tokio::test]
    async fn read_good_json_and_fetch_errors() {
        let source = Fake(Ok(br#"{"deps":{"openssl":"3.0.2"}}"#.to_vec()));
        let r = read(&source, "versions", "staging", "file:s.json").await;
        assert_eq!(r.document, Ok(doc(r#"{"deps":{"openssl":"3.0.2"}}"#)));

        let refused = ProbeError::Connection {
            url: "https://x/versions.json".to_string(),
            reason: "connection refused".to_string(),
            attempts: 3,
        };
        let r = read(&Fake(Err(refused.clone())), "v", "staging", "u").await;
        assert_eq!(r.document, Err(refused));

        let r = read(&Fake(Ok(b"[1,2]".to_vec())), "v", "staging", "file:a").await;
        assert!(matches!(r.document, Err(ProbeError::NotAnObject { .. })));
    }

    #[test]
    fn error_messages_name_the_url() {
        let url = "https://x/versions.json".to_string();
        let cases = [
            (
                ProbeError::Connection {
                    url: url.clone(),
                    reason: "connection refused".to_string(),
                    attempts: 3,
                },
                "https://x/versions.json: connection refused after 3 attempts",
            ),
            (
                ProbeError::Status {
                    url: url.clone(),
                    status: 404,
                    reason: "Not Found".to_string(),
                    attempts: 1,
                },
                "https://x/versions.json: HTTP 404 Not Found",
            ),
            (
                ProbeError::Status {
                    url: url.clone(),
                    status: 503,
                    reason: "Service Unavailable".to_string(),
                    attempts: 3,
                },
                "https://x/versions.json: HTTP 503 Service Unavailable (3 attempts)",
            ),
            (
                ProbeError::Timeout {
                    url: url.clone(),
                    timeout_ms: 10_000,
                    attempts: 3,
                },
                "https://x/versions.json: no answer within 10s (3 attempts)",
            ),
            (
                ProbeError::Timeout {
                    url: url.clone(),
                    timeout_ms: 1500,
                    attempts: 1,
                },
                "https://x/versions.json: no answer within 1.5s (1 attempt)",
            ),
            (
                ProbeError::TooLarge {
                    url: url.clone(),
                    limit_bytes: 1024 * 1024,
                },
                "https://x/versions.json: the body is larger than 1 MiB",
            ),
            (
                ProbeError::File {
                    url: "file:probes/x.json".to_string(),
                    path: "/spec/probes/x.json".to_string(),
                    reason: "No such file or directory".to_string(),
                },
                "file:probes/x.json: No such file or directory",
            ),
            (
                ProbeError::UnsupportedScheme {
                    url: "ftp://x/v.json".to_string(),
                },
                "ftp://x/v.json: not an http(s) or file: URL",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
            assert!(error.to_string().starts_with(error.url()));
            assert!(error.hint().is_some(), "{error:?}");
        }
    }

    #[test]
    fn errors_round_trip_through_json() {
        let error = ProbeError::Timeout {
            url: "https://x".to_string(),
            timeout_ms: 300,
            attempts: 2,
        };
        let text = serde_json::to_string(&error).unwrap_or_default();
        assert!(text.contains(r#""kind":"timeout""#), "{text}");
        let back: Result<ProbeError, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(error));
    }
}
