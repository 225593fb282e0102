//! The end-to-end harness: a fresh AWS API emulator per test, the real `envctl` binary, and an
//! independent boto3 client to check what envctl did.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A `moto_server` on a free loopback port, stopped when dropped.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
}

fn moto_server() -> String {
    std::env::var("ENVCTL_MOTO_SERVER").unwrap_or_else(|_| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "moto_server".to_string()
        }
    })
}

fn python() -> String {
    std::env::var("ENVCTL_EMULATOR_PYTHON").unwrap_or_else(|_| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".to_string()
        }
    })
}

impl Emulator {
    pub fn start() -> Emulator {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs (run the tests with scripts/test, which installs it)");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the emulator did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Emulator {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Runs the independent client; returns its JSON answer.
    pub fn client(&self, args: &[&str]) -> Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/aws_client.py");
        let output = Command::new(python())
            .arg(script)
            .arg(&self.endpoint)
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "aws_client {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("aws_client prints JSON")
    }

    /// Every resource in the emulator, read independently of envctl.
    pub fn inventory(&self) -> Inventory {
        Inventory(self.client(&["inventory"]))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the emulator holds, as the independent client read it.
pub struct Inventory(pub Value);

impl Inventory {
    /// Live resources of `kind` (the client's collection name) owned by `environment` of the
    /// `webapp` project; terminated instances and deleted clusters do not count.
    pub fn owned(&self, kind: &str, environment: &str) -> Vec<Value> {
        self.0[kind]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|item| {
                        item["tags"]["envctl:project"] == "webapp"
                            && item["tags"]["envctl:environment"] == environment
                            && !matches!(
                                item["state"].as_str(),
                                Some("terminated" | "shutting-down")
                            )
                            && !matches!(item["status"].as_str(), Some("deleting" | "deleted"))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Addresses (from the `envctl:address` tag) of everything `environment` owns, sorted.
    pub fn owned_addresses(&self, environment: &str) -> Vec<String> {
        let mut addresses: Vec<String> = [
            "vpcs",
            "subnets",
            "security_groups",
            "instances",
            "db_subnet_groups",
            "db_cluster_parameter_groups",
            "db_clusters",
            "db_instances",
            "log_groups",
            "parameters",
            "alarms",
        ]
        .iter()
        .flat_map(|kind| self.owned(kind, environment))
        .map(|item| {
            item["tags"]["envctl:address"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
        // Dashboards carry no tags: their names say whose they are.
        let prefix = format!("webapp-{environment}-");
        addresses.extend(
            self.0["dashboards"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["id"].as_str()?.strip_prefix(&prefix))
                .map(|name| format!("dashboard.{name}")),
        );
        addresses.sort();
        addresses
    }

    /// The one owned resource tagged with `address`.
    pub fn by_address(&self, kind: &str, environment: &str, address: &str) -> Value {
        let matching: Vec<Value> = self
            .owned(kind, environment)
            .into_iter()
            .filter(|item| item["tags"]["envctl:address"] == address)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected one {address}, found {matching:?}"
        );
        matching[0].clone()
    }
}

/// The `(kind, address, cause)` of every entry of the first environment of a `drift --output
/// json` report, sorted.
pub fn drift_entries(report: &Value) -> Vec<(String, String, String)> {
    let mut seen: Vec<(String, String, String)> = report["environments"][0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["address"].as_str().unwrap().to_string(),
                d["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    seen
}

/// A folder with a spec, where envctl runs.
pub struct Project {
    pub dir: PathBuf,
    /// Whether production keeps the example's `require_verified` (default true), so that it
    /// is applied only after `envctl verify staging`; the tests of other things turn it off.
    pub verified: bool,
}

/// Where the tests of other things than verification turn `require_verified` off, without
/// moving any line of the example (diagnostics are asserted at their lines).
const VERIFIED_OFF: (&str, &str) = (
    "instances = 2 }\n\n# The only way a non-scale field may differ",
    "instances = 2 }\nrequire_verified = false\n# The only way a non-scale field may differ",
);

impl Project {
    /// The example spec, with each `(from, to)` text replacement applied (and production's
    /// `require_verified` off, see [`VERIFIED_OFF`]).
    pub fn new(name: &str, edits: &[(&str, &str)]) -> Project {
        Project::create(name, edits, false)
    }

    /// [`Project::new`] keeping `require_verified`: production is changed only after
    /// `envctl verify staging -- COMMAND` passed.
    pub fn verified(name: &str, edits: &[(&str, &str)]) -> Project {
        Project::create(name, edits, true)
    }

    /// A folder with no spec yet (what `envctl import` starts from).
    pub fn empty(name: &str) -> Project {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test folder");
        Project {
            dir,
            verified: true,
        }
    }

    /// The text of the spec file here.
    pub fn spec_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("envctl.toml")).expect("the spec file")
    }

    fn create(name: &str, edits: &[(&str, &str)], verified: bool) -> Project {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test folder");
        let project = Project { dir, verified };
        project.write_spec(edits);
        project
    }

    /// Rewrites `envctl.toml` from the example with `edits`.
    pub fn write_spec(&self, edits: &[(&str, &str)]) {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/webapp.toml");
        let mut text = std::fs::read_to_string(example).expect("example spec");
        if !self.verified {
            text = text.replacen(VERIFIED_OFF.0, VERIFIED_OFF.1, 1);
        }
        for (from, to) in edits {
            assert!(text.contains(from), "the example spec has no `{from}`");
            text = text.replace(from, to);
        }
        std::fs::write(self.dir.join("envctl.toml"), text).expect("spec written");
        // The files the example names (dashboard bodies), next to it as in the repository.
        let dashboards =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/dashboards");
        std::fs::create_dir_all(self.dir.join("dashboards")).expect("dashboards folder");
        for entry in std::fs::read_dir(dashboards).expect("the example's dashboards") {
            let path = entry.expect("a dashboard file").path();
            let name = path.file_name().expect("a file name");
            std::fs::copy(&path, self.dir.join("dashboards").join(name)).expect("dashboard copied");
        }
        // The probe documents the example reads; a test may have edited them since, so an
        // existing one is kept.
        let probes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/probes");
        std::fs::create_dir_all(self.dir.join("probes")).expect("probes folder");
        for entry in std::fs::read_dir(probes).expect("the example's probe documents") {
            let path = entry.expect("a probe document").path();
            let target = self
                .dir
                .join("probes")
                .join(path.file_name().expect("a file name"));
            if !target.exists() {
                std::fs::copy(&path, target).expect("probe document copied");
            }
        }
    }

    /// Writes the probe document `name` (`staging-versions.json`) next to the spec.
    pub fn write_probe(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join("probes").join(name), text).expect("probe document written");
    }

    /// Runs `envctl` here against `emulator`, with no terminal.
    pub fn envctl(&self, emulator: &Emulator, args: &[&str]) -> Run {
        self.envctl_via(&emulator.endpoint, args)
    }
}

/// One finished `envctl` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// The counting, fault-injecting proxy (`tests/e2e/aws_proxy.py`) in front of an emulator.
pub struct Proxy {
    child: Child,
    pub endpoint: String,
}

impl Proxy {
    /// Starts a proxy to `emulator` that faults `fault_rate` of the requests (throttling and
    /// 503 answers) and delays each by `latency_ms`.
    pub fn start(emulator: &Emulator, fault_rate: f64, latency_ms: u64) -> Proxy {
        Proxy::start_with(
            emulator,
            &[
                "--fault-rate",
                &fault_rate.to_string(),
                "--latency-ms",
                &latency_ms.to_string(),
                "--faults",
                "throttle,503",
                "--seed",
                "7",
            ],
        )
    }

    /// A proxy that answers like AWS where the emulator is lenient (`--strict`) and makes
    /// every transition (`pending`, `stopping`, `creating`, `deleting`...) last
    /// `slow_describes` describes of the resource.
    pub fn strict(emulator: &Emulator, slow_describes: u32) -> Proxy {
        Proxy::start_with(
            emulator,
            &["--strict", "--slow-describes", &slow_describes.to_string()],
        )
    }

    /// Starts a proxy to `emulator` with these command-line settings.
    pub fn start_with(emulator: &Emulator, args: &[&str]) -> Proxy {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/aws_proxy.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(["--upstream", &emulator.endpoint])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the proxy starts");
        let stdout = child.stdout.take().expect("proxy stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the proxy says it is ready");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("unexpected proxy output `{line}`"))
            .to_string();
        Proxy {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The proxy's counters.
    pub fn stats(&self) -> Value {
        self.control("GET", "/__proxy/stats", "")
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.control("POST", "/__proxy/reset", "");
    }

    /// Changes settings (`{"fail_actions": {...}}`, `{"strict": true}`, ...).
    pub fn configure(&self, settings: Value) -> Value {
        let answer = self.control("POST", "/__proxy/config", &settings.to_string());
        assert!(
            answer.get("error").is_none(),
            "proxy config refused: {answer}"
        );
        answer
    }

    /// The calls counted since the last reset that change something in EC2, RDS, CloudWatch
    /// Logs or SSM (every action but `Describe*`, `List*` and `Get*`, the JSON services' as
    /// `logs:CreateLogGroup`; S3 requests, such as the lock's, are counted by method and path
    /// and never match).
    pub fn mutating_calls(&self) -> Vec<String> {
        let stats = self.stats();
        let mut calls: Vec<String> = stats["by_action"]
            .as_object()
            .map(|actions| {
                actions
                    .keys()
                    .filter(|a| {
                        // JSON-protocol calls are counted as `service:Operation`.
                        let operation = a.split_once(':').map_or(a.as_str(), |(_, op)| op);
                        operation
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_uppercase())
                            && !operation.contains(' ')
                            && !["Describe", "List", "Get"]
                                .iter()
                                .any(|prefix| operation.starts_with(prefix))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        calls.sort();
        calls
    }

    fn control(&self, method: &str, path: &str, body: &str) -> Value {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("proxy reachable");
        use std::io::{Read, Write};
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).expect("proxy answers are JSON")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Project {
    /// Runs `envctl` here against `endpoint` (a proxy), with no terminal.
    pub fn envctl_via(&self, endpoint: &str, args: &[&str]) -> Run {
        let output = self
            .command_via(endpoint, args)
            .output()
            .expect("envctl runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The `envctl` command line with the test environment, not yet started.
    pub fn command_via(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_envctl"));
        command
            .args(args)
            .current_dir(&self.dir)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("AWS_PROFILE")
            .env_remove("ENVCTL_SPEC")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            // Waits poll every 100 ms instead of AWS-sized pauses (the emulator is fast, and
            // the strict proxy's slow transitions last a number of describes, not seconds).
            .env("ENVCTL_POLL_INTERVAL", "100ms")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

impl Emulator {
    /// Clears every resource (the emulator's own reset API).
    pub fn reset(&self) {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("emulator reachable");
        use std::io::{Read, Write};
        write!(
            stream,
            "POST /moto-api/reset HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("request sent");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "{response}"
        );
    }
}

/// One `envctl` run on a pseudo-terminal: stdout and stderr are one stream there.
#[derive(Debug)]
pub struct TerminalRun {
    pub code: i32,
    pub output: String,
}

impl TerminalRun {
    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> TerminalRun {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\n--- terminal\n{}",
            self.code, self.output
        );
        self
    }
}

impl Project {
    /// Runs `envctl` here on a pseudo-terminal (`tests/e2e/pty_run.py`), answering its prompts:
    /// for each `(prompt, answer)`, once `prompt` shows, `answer` is typed. `color` leaves
    /// `NO_COLOR` unset.
    pub fn envctl_on_terminal(
        &self,
        emulator: &Emulator,
        args: &[&str],
        dialogue: &[(&str, &str)],
        color: bool,
    ) -> TerminalRun {
        self.envctl_on_terminal_with(emulator, args, dialogue, color, &[])
    }

    /// Like [`Project::envctl_on_terminal`], with extra environment variables last.
    pub fn envctl_on_terminal_with(
        &self,
        emulator: &Emulator,
        args: &[&str],
        dialogue: &[(&str, &str)],
        color: bool,
        envs: &[(&str, &str)],
    ) -> TerminalRun {
        let template = self.command_via(&emulator.endpoint, args);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/pty_run.py");
        let mut command = Command::new(python());
        command.arg(script).args(["--timeout", "300"]);
        for (prompt, answer) in dialogue {
            command.args(["--expect", prompt, "--send", answer]);
        }
        command
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_envctl"))
            .args(args)
            .current_dir(&self.dir);
        for (key, value) in template.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        // A terminal that can show color and redraw lines, whatever the test runner's is.
        command.env("TERM", "xterm-256color");
        if color {
            command.env_remove("NO_COLOR");
        }
        for (key, value) in envs {
            command.env(key, value);
        }
        let output = command.output().expect("python runs");
        assert!(
            output.status.success(),
            "pty_run.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).expect("pty_run.py prints JSON");
        let text = report["output"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            report["timed_out"], false,
            "envctl hung on the terminal:\n{text}"
        );
        assert_eq!(
            report["unanswered"],
            serde_json::json!([]),
            "a prompt never showed:\n{text}"
        );
        TerminalRun {
            code: report["code"].as_i64().unwrap_or(-1) as i32,
            output: text,
        }
    }
}
