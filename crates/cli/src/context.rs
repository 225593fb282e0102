//! What every command needs before it can act: the checked spec, one environment's desired
//! state, and a connected provider.
//!
//! Owns reading the spec file (the only file IO besides plan files), rendering spec
//! diagnostics, today's date, and turning global flags into provider settings. Invariant: a
//! spec with errors never reaches a command; its diagnostics are printed once, all of them.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use envctl_engine::{Environments, ProviderPerEnvironment};
use envctl_providers::{AssumeRole, AwsProvider, AwsSettings, ExpectedAccount};
use envctl_spec::{CivilDate, DesiredState, Diagnostic, Severity, SourceFile, Spec};

use crate::args::GlobalArgs;
use crate::errors::{Reported, UserError};

/// Today's date in UTC, for expiry checks.
pub fn today() -> CivilDate {
    // For tests: a clock they control, so that a spec's expiry dates keep working later.
    if let Some(date) = std::env::var("ENVCTL_TODAY")
        .ok()
        .and_then(|text| text.parse::<CivilDate>().ok())
    {
        return date;
    }
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or_default();
    CivilDate::from_days_since_unix_epoch(i64::try_from(days).unwrap_or_default())
}

/// A checked spec and the source it came from.
pub struct LoadedSpec {
    pub source: SourceFile,
    pub spec: Spec,
    pub warnings: usize,
    /// Compliance rules of severity `critical` the spec breaks (in any environment): each is
    /// also one of the warnings, and `apply` refuses an environment that has one.
    pub critical_violations: usize,
}

/// Reads and checks the spec; prints every diagnostic; fails (already reported) on errors.
pub fn load_spec(path: &Path) -> anyhow::Result<LoadedSpec> {
    load_spec_as_of(path, today())
}

/// Like [`load_spec`], but expired declared differences are not errors: the audit reports
/// them as findings instead of refusing to run.
pub fn load_spec_for_audit(path: &Path) -> anyhow::Result<LoadedSpec> {
    load_spec_as_of(path, CivilDate::from_days_since_unix_epoch(0))
}

fn load_spec_as_of(path: &Path, date: CivilDate) -> anyhow::Result<LoadedSpec> {
    let bytes = read_spec_file(path)?;
    let dir = spec_dir(path);
    check_source(path.display().to_string(), bytes, date, &|relative| {
        read_companion_in(dir, relative)
    })
}

/// A file the spec at `dir` names (a dashboard body), by its path as written.
fn read_companion_in(dir: &Path, relative: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(relative))
        .map_err(|error| format!("cannot read `{}`: {error}", dir.join(relative).display()))
}

/// The bytes of the spec file at `path` (a directory or a missing file is a clear error).
pub fn read_spec_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.is_dir() {
        return Err(UserError::new(format!(
            "`{}` is a directory, not a spec file",
            path.display()
        ))
        .hint(format!(
            "pass the spec file itself: `--spec {}`",
            path.join("envctl.toml").display()
        ))
        .into());
    }
    std::fs::read(path).map_err(|error| {
        let hint = if error.kind() == std::io::ErrorKind::NotFound {
            "pass `--spec PATH` or set `ENVCTL_SPEC`; by default envctl reads `envctl.toml` in the current directory"
        } else {
            "check the file's permissions"
        };
        anyhow::Error::new(error)
            .context(UserError::new(format!("failed to read `{}`", path.display())).hint(hint))
    })
}

/// A spec read and checked, nothing printed: every diagnostic (the compliance rules' on the
/// spec included, once it is valid), and the spec when it has no error.
pub struct CheckedSpec {
    pub source: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
    pub spec: Option<Spec>,
}

impl CheckedSpec {
    /// How many diagnostics are errors.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// How many are `critical` compliance violations (warnings `apply` refuses).
    pub fn critical_violations(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning && d.summary.starts_with("[critical]"))
            .count()
    }
}

/// Reads and checks the spec at `path` without printing anything (`validate --output json`).
pub fn check_spec_file(path: &Path) -> anyhow::Result<CheckedSpec> {
    let bytes = read_spec_file(path)?;
    let dir = spec_dir(path);
    Ok(check_bytes(
        path.display().to_string(),
        bytes,
        today(),
        &|relative| read_companion_in(dir, relative),
    ))
}

/// Checks spec text; prints nothing.
fn check_bytes(
    display: String,
    bytes: Vec<u8>,
    date: CivilDate,
    read_companion: &dyn Fn(&str) -> Result<String, String>,
) -> CheckedSpec {
    let source = match SourceFile::from_bytes(display.clone(), bytes.clone()) {
        Ok(source) => source,
        Err(diagnostic) => {
            return CheckedSpec {
                source: SourceFile::lossy(display, &bytes),
                diagnostics: vec![diagnostic],
                spec: None,
            };
        }
    };
    let source =
        envctl_spec::companion_paths(&source)
            .into_iter()
            .fold(source, |source, relative| {
                let contents = read_companion(&relative);
                source.with_file(relative, contents)
            });
    let checked = envctl_spec::check(&source, date);
    let mut diagnostics = checked.diagnostics;
    let spec = checked
        .spec
        .filter(|_| !diagnostics.iter().any(|d| d.severity == Severity::Error));
    if let Some(spec) = &spec {
        // The rules of `[compliance]`, on what the spec asks for in each environment.
        diagnostics.extend(spec.compliance_diagnostics());
    }
    CheckedSpec {
        source,
        diagnostics,
        spec,
    }
}

/// The folder a spec's companion files are relative to.
fn spec_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// The text of `file` (relative to `dir`) at git revision `revision`.
fn git_show(dir: &Path, revision: &str, file: &str) -> anyhow::Result<Result<Vec<u8>, String>> {
    let output = std::process::Command::new("git")
        .arg("show")
        .arg(format!("{revision}:./{file}"))
        .current_dir(dir)
        .output()
        .with_context(|| "failed to run `git` (is it installed?)")?;
    Ok(if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "git said: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    })
}

/// Reads the spec at `path` as it was at git revision `revision`.
pub fn load_spec_at_revision(path: &Path, revision: &str) -> anyhow::Result<LoadedSpec> {
    let dir = spec_dir(path);
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = match git_show(dir, revision, &file)? {
        Ok(bytes) => bytes,
        Err(said) => {
            return Err(UserError::new(format!(
                "cannot read `{}` at git revision `{revision}`",
                path.display()
            ))
            .hint(said)
            .into());
        }
    };
    check_source(
        format!("{revision}:{}", path.display()),
        bytes,
        today(),
        &|relative| match git_show(dir, revision, relative) {
            Ok(Ok(bytes)) => String::from_utf8(bytes)
                .map_err(|_| format!("`{relative}` at `{revision}` is not UTF-8")),
            Ok(Err(said)) => Err(format!("cannot read `{relative}` at `{revision}`: {said}")),
            Err(error) => Err(format!("{error:#}")),
        },
    )
}

/// Checks spec text; prints every diagnostic; fails (already reported) on errors.
///
/// `read_companion` reads a file the spec names (a dashboard body), by its path as written.
fn check_source(
    display: String,
    bytes: Vec<u8>,
    date: CivilDate,
    read_companion: &dyn Fn(&str) -> Result<String, String>,
) -> anyhow::Result<LoadedSpec> {
    let checked = check_bytes(display.clone(), bytes, date, read_companion);
    for diagnostic in &checked.diagnostics {
        crate::style::eprint(&format!(
            "{}\n\n",
            diagnostic.render(&checked.source).trim_end()
        ));
    }
    let errors = checked.errors();
    let warnings = checked.diagnostics.len() - errors;
    let critical_violations = checked.critical_violations();
    match checked.spec {
        Some(spec) => Ok(LoadedSpec {
            source: checked.source,
            spec,
            warnings,
            critical_violations,
        }),
        None => {
            crate::style::eprintln(&format!(
                "error: `{display}` has {}{}",
                plural(errors, "error"),
                if warnings > 0 {
                    format!(" and {}", plural(warnings, "warning"))
                } else {
                    String::new()
                }
            ));
            Err(Reported { code: 1 }.into())
        }
    }
}

/// "1 error", "3 errors".
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// One environment's desired state, or a user error naming the known environments.
pub fn expand(loaded: &LoadedSpec, environment: &str) -> anyhow::Result<DesiredState> {
    loaded
        .spec
        .expand(environment)
        .map_err(|error| unknown_environment(loaded, error))
}

/// An environment the spec does not declare, as a user error saying where they are declared.
pub fn unknown_environment(
    loaded: &LoadedSpec,
    error: envctl_spec::UnknownEnvironment,
) -> anyhow::Error {
    anyhow::Error::new(UserError::new(error.to_string()).hint(format!(
        "environments are declared as `[environments.NAME]` in `{}`",
        loaded.source.path
    )))
}

/// The region `environment` is reached in: `--region`, else the environment's (its own
/// `region`, else the project's).
pub fn region(global: &GlobalArgs, loaded: &LoadedSpec, environment: &str) -> String {
    global.region.clone().unwrap_or_else(|| {
        loaded
            .spec
            .environment(environment)
            .map_or_else(|| loaded.spec.region().to_string(), |e| e.region.clone())
    })
}

/// The shared config and credentials files the AWS SDK reads (`AWS_CONFIG_FILE`,
/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`).
fn shared_files() -> [PathBuf; 2] {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let pick = |variable: &str, default: &str| {
        std::env::var_os(variable)
            .filter(|v| !v.is_empty())
            .map_or_else(|| home.join(".aws").join(default), PathBuf::from)
    };
    [
        pick("AWS_CONFIG_FILE", "config"),
        pick("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
}

/// The profile names the shared files define (`[profile NAME]` in config, `[NAME]` in
/// credentials; `[default]` in either).
fn shared_profiles() -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for path in shared_files() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
                continue;
            };
            let section = section.trim();
            let name = section.strip_prefix("profile ").unwrap_or(section).trim();
            if !name.is_empty()
                && !name.starts_with("sso-session")
                && !name.starts_with("services ")
            {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// Refuses, before any call, a profile the shared files do not define: the SDK would only
/// say that no credentials were found.
fn check_profile(profile: &str, environment: &str) -> anyhow::Result<()> {
    let known = shared_profiles();
    if known.contains(profile) {
        return Ok(());
    }
    let [config, credentials] = shared_files();
    Err(UserError::new(format!(
        "the AWS profile `{profile}` (for `{environment}`) is in neither `{}` nor `{}`",
        config.display(),
        credentials.display()
    ))
    .hint(if known.is_empty() {
        format!("create it with `aws configure --profile {profile}` (or `aws configure sso`), or use another source of credentials")
    } else {
        format!(
            "the profiles defined are {}; or create it with `aws configure --profile {profile}`",
            known.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        )
    })
    .into())
}

/// Provider settings of `environment` from the spec (its region, profile, role and account)
/// and the global flags (`--region` and `--profile` override the spec's).
pub fn aws_settings(global: &GlobalArgs, loaded: &LoadedSpec, environment: &str) -> AwsSettings {
    let mut settings = flag_settings(global, region(global, loaded, environment));
    let declared = loaded.spec.environment(environment);
    settings.profile = global
        .profile
        .clone()
        .or_else(|| declared.and_then(|e| e.profile.clone()));
    if let Some(declared) = declared {
        settings.assume_role = declared.role_arn.as_ref().map(|role_arn| AssumeRole {
            role_arn: role_arn.clone(),
            external_id: declared.external_id.clone(),
            session_name: declared.session_name.clone(),
        });
        settings.expected_account =
            declared
                .account_id
                .as_ref()
                .map(|account_id| ExpectedAccount {
                    environment: environment.to_string(),
                    account_id: account_id.clone(),
                });
    }
    settings
}

/// Provider settings in `region` from the global flags alone (endpoint, profile, retries,
/// waits), for a run without a spec.
fn flag_settings(global: &GlobalArgs, region: String) -> AwsSettings {
    let mut settings = AwsSettings::new(region);
    settings.profile.clone_from(&global.profile);
    settings.endpoint_url.clone_from(&global.endpoint_url);
    settings.max_attempts = global.max_attempts;
    settings.paced_sending = global.retry_mode == crate::args::RetryMode::Adaptive;
    settings.initial_backoff = global.initial_backoff;
    settings.max_requests_per_second = global.max_requests_per_second;
    if let Some(timeout) = global.wait_timeout {
        settings.waits = envctl_providers::Timeouts::all(timeout);
    }
    if let Some(poll) = global.poll_interval {
        settings.waits.first_poll = poll;
    }
    // Every retry is said once, where it happens: a throttled run is slow for a reason.
    settings.on_retry = Some(envctl_providers::RetryObserver(std::sync::Arc::new(
        |notice: &envctl_providers::RetryNotice| {
            eprintln!(
                "retrying {} ({}/{}) after {}",
                notice.operation, notice.attempt, notice.max_attempts, notice.after
            );
        },
    )));
    settings
}

/// The providers of a run: one per environment of the spec, each in its environment's
/// account and region.
pub type Providers = ProviderPerEnvironment<AwsProvider>;

/// Connects to every environment of the spec (no call: credentials are resolved on first
/// use), after checking what can be checked without a call: the regions' form, and that an
/// explicitly given endpoint answers at all (an emulator that is not running fails in
/// seconds, not after a minute of retries). Then proves, for each environment of `proven`,
/// that its credentials are for its account (one STS call each, before any other call), and
/// says on stderr where each one is reached.
pub async fn connect(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
    proven: &[&str],
) -> anyhow::Result<Providers> {
    let names = loaded.spec.environment_names();
    for name in &names {
        check_region(&region(global, loaded, name))?;
    }
    check_explicit_endpoint(global).await?;
    for name in proven {
        if let Some(profile) = aws_settings(global, loaded, name)
            .profile
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        {
            check_profile(&profile, name)?;
        }
    }
    let primary_name = proven
        .first()
        .copied()
        .or(names.first().copied())
        .unwrap_or_default();
    let primary = AwsProvider::connect(&aws_settings(global, loaded, primary_name)).await;
    let mut others = std::collections::BTreeMap::new();
    for name in names.into_iter().filter(|name| *name != primary_name) {
        let provider = AwsProvider::connect(&aws_settings(global, loaded, name)).await;
        others.insert(name.to_string(), provider);
    }
    let providers = ProviderPerEnvironment::new(primary, others);
    for name in proven {
        let provider = providers.provider(name);
        let failed = |error| {
            crate::commands::cloud_error(
                error,
                format!("failed to ask AWS who the credentials of `{name}` are"),
            )
        };
        // Asked once: the account check below compares with this same answer.
        let identity = provider.identity().await.map_err(failed)?;
        match provider.check_account().await {
            Ok(()) => {}
            Err(envctl_engine::ProviderError::WrongAccount {
                environment,
                expected,
                actual,
            }) => {
                let declared = loaded.spec.environment(&environment);
                let hint = match declared.and_then(|e| e.role_arn.as_deref()) {
                    Some(role) => format!(
                        "the role `{role}` was assumed and still answered for {actual}: check `role_arn` of `{environment}`"
                    ),
                    None => format!(
                        "set `role_arn` (or `profile`) of `[environments.{environment}]` to reach account {expected}, or pass `--profile` with credentials for it"
                    ),
                };
                return Err(UserError::new(format!(
                    "the credentials are for account {actual}, but {environment} lives in {expected}"
                ))
                .hint(hint)
                .into());
            }
            Err(error) => return Err(failed(error)),
        }
        crate::style::eprintln(&format!(
            "`{name}`: account {}, region {} (as {})",
            identity.account,
            provider.region(),
            identity.arn
        ));
    }
    Ok(providers)
}

/// Connects to `region` with the global flags alone (a run before there is a spec, such as the
/// first `import`), after the same checks as [`connect`], and proves the credentials with one
/// STS call, saying on stderr where it is.
pub async fn connect_without_spec(
    global: &GlobalArgs,
    region: &str,
) -> anyhow::Result<(AwsProvider, String)> {
    check_region(region)?;
    check_explicit_endpoint(global).await?;
    if let Some(profile) = global
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
    {
        check_profile(&profile, region)?;
    }
    let provider = AwsProvider::connect(&flag_settings(global, region.to_string())).await;
    let identity = provider.identity().await.map_err(|error| {
        crate::commands::cloud_error(
            error,
            "failed to ask AWS who the credentials are".to_string(),
        )
    })?;
    crate::style::eprintln(&format!(
        "account {}, region {} (as {})",
        identity.account,
        provider.region(),
        identity.arn
    ));
    Ok((provider, identity.account))
}

/// Checks, when an endpoint is given (`--endpoint-url` or `AWS_ENDPOINT_URL`), that it is a
/// URL something answers at.
async fn check_explicit_endpoint(global: &GlobalArgs) -> anyhow::Result<()> {
    let endpoint = global.endpoint_url.clone().or_else(|| {
        std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|e| !e.is_empty())
    });
    match endpoint {
        Some(endpoint) => check_endpoint(&endpoint).await,
        None => Ok(()),
    }
}

/// A region is lowercase words and a number joined by dashes (`eu-west-1`, `us-gov-west-1`).
fn check_region(region: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = region.split('-').collect();
    let well_formed = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if well_formed {
        return Ok(());
    }
    Err(UserError::new(format!("`{region}` is not an AWS region"))
        .hint("regions look like `us-east-1` or `eu-west-1`; set `region` in `[project]` or pass `--region`")
        .into())
}

/// An endpoint is `http(s)://host[:port][/path]`, and something must listen there.
async fn check_endpoint(endpoint: &str) -> anyhow::Result<()> {
    let malformed = || -> anyhow::Error {
        UserError::new(format!("`{endpoint}` is not an endpoint URL"))
            .hint("write it like `http://127.0.0.1:5000` or `https://ec2.eu-west-1.amazonaws.com`")
            .into()
    };
    let (scheme, rest) = endpoint.split_once("://").ok_or_else(malformed)?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return Err(malformed()),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(malformed());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || port.is_empty() => (
            host.to_string(),
            port.parse::<u16>().map_err(|_| malformed())?,
        ),
        _ => (authority.to_string(), default_port),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let reach = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    let problem = match reach {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "no answer within 3s".to_string(),
    };
    Err(UserError::new(format!("cannot reach the endpoint `{endpoint}`: {problem}"))
        .hint("is the emulator (or proxy) running there? check `--endpoint-url` / `AWS_ENDPOINT_URL`")
        .into())
}

/// `environment` expanded for this run: in the region the run works in (`--region`
/// included), with its zones checked against that region and its secrets' sources read
/// before any call.
pub fn expand_for_run(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
    environment: &str,
) -> anyhow::Result<DesiredState> {
    let desired = expand_for_destroy(global, loaded, environment)?;
    check_secret_sources(&desired)?;
    Ok(desired)
}

/// Refuses, before any call, to change an environment whose desired state breaks a
/// `critical` compliance rule that no declared difference excepts.
pub fn refuse_critical_violations(
    loaded: &LoadedSpec,
    desired: &DesiredState,
) -> anyhow::Result<()> {
    let critical: Vec<String> = loaded
        .spec
        .compliance_of(desired)
        .into_iter()
        .filter(|(v, _)| v.severity == envctl_spec::ComplianceSeverity::Critical)
        .map(|(v, _)| format!("{} ({} {})", v.rule, v.resource, v.detail))
        .collect();
    if critical.is_empty() {
        return Ok(());
    }
    Err(UserError::new(format!(
        "`{}` would break {}: {}",
        desired.environment,
        plural(critical.len(), "critical compliance rule"),
        critical.join("; ")
    ))
    .hint(format!(
        "fix the spec, or declare an exception with a reason, risk, owner and expiry: \
         `[[differences]]` with `resource = \"compliance\"`, `field = \"RULE\"`, \
         `values = {{ {} = false }}` (`envctl validate` shows where)",
        desired.environment
    ))
    .into())
}

/// [`expand_for_run`] without reading the secrets' sources: a destroy writes no secret, so
/// a source that is gone must not stop it.
pub fn expand_for_destroy(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
    environment: &str,
) -> anyhow::Result<DesiredState> {
    let mut desired = expand(loaded, environment)?;
    desired.region = region(global, loaded, environment);
    check_zones(&desired)?;
    Ok(desired)
}

/// Refuses, before any call, an environment whose secrets cannot be read from their sources
/// (`value_from = "env:VAR"` / `"file:PATH"`); says which source and why, never a value.
pub fn check_secret_sources(desired: &DesiredState) -> anyhow::Result<()> {
    for resource in &desired.resources {
        let Some(text) = resource
            .field("value_from")
            .and_then(envctl_spec::Value::as_str)
        else {
            continue;
        };
        let source: envctl_spec::SecretSource = text
            .parse()
            .map_err(|e: envctl_spec::SecretSourceError| UserError::new(e.0))?;
        if let Err(error) = envctl_providers::secrets::read(&source) {
            let hint = match &source {
                envctl_spec::SecretSource::Env(name) => {
                    format!("export {name} before running envctl (its value is never shown)")
                }
                envctl_spec::SecretSource::File(path) => {
                    format!("create `{path}` (relative paths are from the working directory)")
                }
            };
            return Err(UserError::new(format!(
                "the secret of {} cannot be read: {}",
                resource.address, error.reason
            ))
            .hint(hint)
            .into());
        }
    }
    Ok(())
}

/// Refuses a spec whose subnets sit in zones of another region than the one this run works
/// in (a `--region` override, say), before any call.
fn check_zones(desired: &DesiredState) -> anyhow::Result<()> {
    check_region(&desired.region)?;
    for resource in &desired.resources {
        let Some(zone) = resource.field("zone").and_then(envctl_spec::Value::as_str) else {
            continue;
        };
        if !zone.starts_with(&desired.region) {
            return Err(UserError::new(format!(
                "{} is in zone `{zone}`, which is not in {}, the region this run works in",
                resource.address, desired.region
            ))
            .hint("zones belong to one region: drop `--region`, or write the spec's zones for that region")
            .into());
        }
    }
    Ok(())
}

/// Checks, before anything is read from the cloud, that a plan can be saved at `path` (`-` is
/// stdout): not a directory, in a directory that exists and takes new files.
pub fn check_writable(path: &Path) -> anyhow::Result<()> {
    if path == Path::new("-") {
        return Ok(());
    }
    let refuse = |why: String, hint: &str| -> anyhow::Result<()> {
        Err(UserError::new(format!(
            "cannot save the plan to `{}`: {why}",
            path.display()
        ))
        .hint(hint.to_string())
        .into())
    };
    if path.is_dir() {
        return refuse(
            "it is a directory".into(),
            "name a file, such as `staging.plan`",
        );
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !parent.is_dir() {
        return refuse(
            format!("`{}` is not a directory", parent.display()),
            "create the directory first, or name a file in an existing one",
        );
    }
    let probe = parent.join(format!(".envctl-write-check-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => refuse(
            format!("`{}` does not take new files ({error})", parent.display()),
            "check the directory's permissions, or name a file elsewhere",
        ),
    }
}

/// Writes `text` to `path`, with context.
pub fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("failed to write `{}`", path.display()))
}

/// The client that reads the spec's `[[probes]]`: relative `file:` URLs are read from the
/// spec's folder.
pub fn probe_client(spec_path: &Path) -> anyhow::Result<envctl_providers::probe::ProbeClient> {
    envctl_providers::probe::ProbeClient::new(spec_dir(spec_path).to_path_buf()).map_err(|e| {
        UserError::new(e.to_string())
            .hint("the system's TLS setup is unusable: check `SSL_CERT_FILE` and `SSL_CERT_DIR`")
            .into()
    })
}

/// The git revision of the spec at `path` (`HEAD`, with `+dirty` when the spec file has
/// uncommitted changes); `None` outside a git work tree or without git.
pub fn spec_revision(path: &Path) -> Option<String> {
    let dir = spec_dir(path);
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "HEAD"]).filter(|h| !h.is_empty())?;
    let file = path.file_name()?.to_string_lossy().into_owned();
    let dirty = run(&["status", "--porcelain", "--", &file]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}+dirty") } else { head })
}
