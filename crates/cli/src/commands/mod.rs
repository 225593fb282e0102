//! One module per subcommand, each a thin function over a library operation.
//!
//! Owns argument destructuring and the order of steps (load, expand, connect, operate,
//! render), and the wording of the library's errors. Invariants: no command diffs state,
//! walks a graph or decides a policy (blocked, stale, gated, locked, retried) itself; each
//! turns its arguments into options, calls one `envctl_engine::ops` operation and renders what
//! it returns.

pub mod adopt;
pub mod apply;
pub mod audit;
pub mod change;
pub mod completions;
pub mod compliance;
pub mod destroy;
pub mod drift;
pub mod fmt;
pub mod force_unlock;
pub mod gate;
pub mod graph;
pub mod import;
pub mod man;
pub mod parity;
pub mod plan;
pub mod reconcile;
pub mod redeploy;
pub mod schema;
pub mod show;
pub mod state;
pub mod validate;
pub mod verify;

use std::io::Write;

use envctl_engine::ProviderError;

use crate::errors::UserError;

/// A provider failure as a user-facing error with a hint where one helps.
pub fn cloud_error(error: ProviderError, doing: String) -> anyhow::Error {
    let hint = match &error {
        ProviderError::Credentials { .. } => Some(
            "the AWS credential chain was tried in order: the environment (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), the shared files (`~/.aws/credentials`, `~/.aws/config`: the `default` profile, or `AWS_PROFILE`/`--profile`, with SSO and `credential_process`), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`), the ECS container endpoint, the EC2 instance metadata; configure one of them, or pass `--profile`",
        ),
        ProviderError::Transient { .. } => Some(
            "check the network, or `--endpoint-url` / `AWS_ENDPOINT_URL` when using a local emulator",
        ),
        ProviderError::Throttled { .. } => Some("AWS is throttling this account; run again later"),
        ProviderError::WrongAccount { .. } => Some(
            "set `role_arn` (or `profile`) of the environment in the spec, or pass `--profile` with credentials for its account",
        ),
        _ => None,
    };
    let mut user = UserError::new(doing);
    if let Some(hint) = hint {
        user = user.hint(hint);
    }
    anyhow::Error::new(error).context(user)
}

/// A failed read of live state, with the hint of its cloud error.
pub fn read_error(error: envctl_engine::ops::ReadError) -> anyhow::Error {
    let doing = error.to_string();
    cloud_error(error.source, doing)
}

/// A failed read-only operation over several environments, as a user-facing error.
pub fn lookup_error(
    loaded: &crate::context::LoadedSpec,
    error: envctl_engine::ops::LookupError,
) -> anyhow::Error {
    match error {
        envctl_engine::ops::LookupError::Read(error) => read_error(error),
        envctl_engine::ops::LookupError::UnknownEnvironment(error) => {
            crate::context::unknown_environment(loaded, error)
        }
    }
}

/// The environments a command acts on: those named, or every one of the spec.
pub fn selected_environments(
    loaded: &crate::context::LoadedSpec,
    named: Vec<String>,
) -> Vec<String> {
    if named.is_empty() {
        loaded
            .spec
            .environment_names()
            .into_iter()
            .map(str::to_string)
            .collect()
    } else {
        // An environment named twice is checked (and changed) once.
        let mut seen = std::collections::BTreeSet::new();
        let unique: Vec<String> = named
            .into_iter()
            .filter(|name| seen.insert(name.clone()))
            .collect();
        unique
    }
}

/// Prints the warnings of plan or drift notes (differences envctl deliberately leaves alone)
/// to stderr: they are messages, not data (JSON output carries them as data).
pub fn print_notes(notes: &[envctl_engine::Note]) {
    crate::style::eprint(&crate::render::notes_text(notes));
}

/// Writes data to stdout (a closed pipe surfaces as an error `main` treats as success).
pub fn write_stdout(data: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(data)?;
    stdout.flush()
}

/// The addresses of `--replace`, each checked against what `desired` expands to.
pub fn replace_targets(
    desired: &envctl_spec::DesiredState,
    named: &[String],
) -> anyhow::Result<std::collections::BTreeSet<envctl_spec::Address>> {
    let mut targets = std::collections::BTreeSet::new();
    for text in named {
        let known = desired
            .resources
            .iter()
            .find(|r| r.address.to_string() == *text);
        match known {
            Some(resource) => {
                targets.insert(resource.address.clone());
            }
            None => {
                let candidates: Vec<String> = desired
                    .resources
                    .iter()
                    .map(|r| r.address.to_string())
                    .filter(|a| {
                        a.split(['.', '['])
                            .nth(1)
                            .is_some_and(|name| text.contains(name))
                    })
                    .take(5)
                    .collect();
                let hint = if candidates.is_empty() {
                    format!("`envctl show {}` lists the addresses", desired.environment)
                } else {
                    format!("did you mean {}?", candidates.join(", "))
                };
                return Err(UserError::new(format!(
                    "`--replace {text}`: `{}` has no resource with that address",
                    desired.environment
                ))
                .hint(hint)
                .into());
            }
        }
    }
    Ok(targets)
}

/// The addresses of `--target`: each a resource of `desired` (`instance.app[1]`) or a group
/// (`instance.app`: every member), checked before any call.
pub fn target_addresses(
    desired: &envctl_spec::DesiredState,
    named: &[String],
) -> anyhow::Result<std::collections::BTreeSet<envctl_spec::Address>> {
    let mut targets = std::collections::BTreeSet::new();
    for text in named {
        let address: Option<envctl_spec::Address> = text.parse().ok();
        let known = address.as_ref().filter(|a| {
            desired.resources.iter().any(|r| {
                r.address == **a
                    || (a.index.is_none() && r.address.kind == a.kind && r.address.name == a.name)
            })
        });
        match known {
            Some(address) => {
                targets.insert(address.clone());
            }
            None => {
                return Err(UserError::new(format!(
                    "`--target {text}`: `{}` has no resource or group with that address",
                    desired.environment
                ))
                .hint(format!(
                    "`envctl show {}` lists the addresses; a group such as `instance.app` names all its members",
                    desired.environment
                ))
                .into());
            }
        }
    }
    Ok(targets)
}

/// Where and when a JSON report is made: the project, the region the run works in, the account
/// STS names for the credentials (`None` when it will not say), now.
pub async fn provenance(
    loaded: &crate::context::LoadedSpec,
    provider: &envctl_providers::AwsProvider,
) -> crate::render::Provenance {
    crate::render::Provenance {
        project: loaded.spec.project().to_string(),
        region: provider.region().to_string(),
        account: provider.account_id().await.ok(),
        generated_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    }
}
