//! `envctl verify ENV -- COMMAND [ARGS...]`: run a test of an environment (a smoke test, a
//! test suite) with the environment's facts in its environment, and record that it passed, so
//! that the promotion gate of the environments promoted from it can require it; and
//! `envctl verifications ENV`, the records.
//!
//! Invariants: nothing runs when the environment has drifted (what would be tested is not the
//! spec); the command's output streams through untouched and its exit code is envctl's; a
//! verification is recorded only when the command exits 0, and a failure to record it is an
//! error (exit 1), never a silent pass.

use std::collections::BTreeMap;
use std::io::Write;

use envctl_engine::Environments;
use envctl_engine::live::LiveState;
use envctl_engine::ops::lock::utc_time;
use envctl_engine::ops::{self, LockStore, Verification, VerifyError};
use serde_json::json;

use crate::args::{GlobalArgs, OutputFormat, VerificationsArgs, VerifyArgs};
use crate::context::{connect, expand, load_spec};
use crate::errors::{Outcome, UserError};

/// `db_cluster.main` -> `DB_CLUSTER_MAIN`, `instance.app[0]` -> `INSTANCE_APP_0`.
pub fn variable_name(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_uppercase());
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    name.trim_end_matches('_').to_string()
}

/// The variables the command runs with: where the environment lives, and the cloud ids and
/// outputs (endpoints, addresses) of its resources as read just now.
fn variables(
    project: &str,
    environment: &str,
    region: &str,
    account: Option<&str>,
    parity_digest: &str,
    live: &LiveState,
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    vars.insert("ENVCTL_PROJECT".to_string(), project.to_string());
    vars.insert("ENVCTL_ENVIRONMENT".to_string(), environment.to_string());
    vars.insert("ENVCTL_REGION".to_string(), region.to_string());
    vars.insert(
        "ENVCTL_PARITY_DIGEST".to_string(),
        parity_digest.to_string(),
    );
    if let Some(account) = account {
        vars.insert("ENVCTL_ACCOUNT".to_string(), account.to_string());
    }
    for resource in &live.resources {
        let base = format!(
            "ENVCTL_OUTPUT_{}",
            variable_name(&resource.address.to_string())
        );
        for (output, value) in &resource.outputs {
            vars.insert(format!("{base}_{}", variable_name(output)), value.clone());
        }
        vars.insert(base, resource.id.clone());
    }
    vars
}

/// `cargo test --release` as typed, arguments with spaces quoted.
fn command_line(command: &[String]) -> String {
    command
        .iter()
        .map(|arg| {
            if arg.is_empty()
                || arg
                    .chars()
                    .any(|c| c.is_whitespace() || "'\"$`\\".contains(c))
            {
                format!("'{}'", arg.replace('\'', "'\\''"))
            } else {
                arg.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn run(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<Outcome> {
    let VerifyArgs {
        environment,
        command,
    } = args;
    let Some(program) = command.first().cloned() else {
        return Err(UserError::new("`envctl verify` needs a command to run")
            .hint("name it after `--`: `envctl verify staging -- ./smoke-test.sh`")
            .into());
    };
    let loaded = load_spec(&global.spec)?;
    expand(&loaded, &environment)?;
    let providers = connect(global, &loaded, &[&environment]).await?;
    let verified = match ops::verify::prepare(&providers, &loaded.spec, &environment).await {
        Ok(verified) => verified,
        Err(VerifyError::Drifted { report }) => {
            crate::style::eprint(&crate::render::drift_text(std::slice::from_ref(&report)));
            return Err(UserError::new(format!(
                "refusing to verify `{environment}`: it has drifted from the spec ({}), so a test of it would not test this spec",
                crate::context::plural(report.drift.len(), "departure")
            ))
            .hint(format!(
                "repair it first (`envctl reconcile {environment}`), then verify again"
            ))
            .into());
        }
        Err(VerifyError::Lookup(error)) => {
            return Err(crate::commands::lookup_error(&loaded, error));
        }
        Err(VerifyError::Store(error)) => return Err(crate::lock::lock_error(error, &environment)),
    };
    let provider = providers.provider(&environment);
    let account = match &verified.live.account {
        Some(account) => Some(account.clone()),
        None => provider.account_id().await.ok(),
    };
    let region = verified
        .live
        .region
        .clone()
        .unwrap_or_else(|| verified.desired.region.clone());
    let vars = variables(
        loaded.spec.project(),
        &environment,
        &region,
        account.as_deref(),
        &verified.desired.parity_digest,
        &verified.live,
    );
    let typed = command_line(&command);
    eprintln!(
        "verifying `{environment}` (no drift; parity digest {}): running `{typed}`",
        verified.desired.parity_digest
    );
    let arguments: Vec<String> = command[1..].to_vec();
    let child_vars = vars.clone();
    let program_name = program.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program_name)
            .args(&arguments)
            .envs(&child_vars)
            .status()
    })
    .await?;
    let status = match status {
        Ok(status) => status,
        Err(error) => {
            return Err(UserError::new(format!("failed to run `{program}`: {error}"))
                .hint("check the command's name and that it is executable (a script needs `./` and a shebang line)")
                .into());
        }
    };
    let Some(0) = status.code() else {
        let code = status.code().unwrap_or(1);
        crate::style::eprintln(&format!(
            "error: `{typed}` failed ({}): `{environment}` is not verified, nothing recorded",
            match status.code() {
                Some(code) => format!("exit code {code}"),
                None => "killed by a signal".to_string(),
            }
        ));
        return Ok(Outcome::Exited(u8::try_from(code).unwrap_or(1).max(1)));
    };
    // Named and timed as a lock of this process would be: a unique id, `user@host`, now.
    let this_process = envctl_providers::lock_info_for_this_process(typed.clone());
    let verification = Verification {
        id: this_process.id,
        environment: environment.clone(),
        parity_digest: verified.desired.parity_digest.clone(),
        live_fingerprint: verified.live.fingerprint(),
        revision: crate::context::spec_revision(&global.spec),
        command: typed.clone(),
        who: this_process.holder,
        at_unix: this_process.since_unix,
    };
    let locks = crate::lock::store(&providers, &loaded);
    ops::verify::record(&locks, loaded.spec.project(), &verification)
        .await
        .map_err(|e| {
            crate::lock::lock_error(e, &environment).context(format!(
                "`{typed}` passed, but the verification of `{environment}` could not be recorded"
            ))
        })?;
    eprintln!(
        "recorded: `{environment}` passed `{typed}` at parity digest {} ({}); environments promoted from it may now be changed",
        verification.parity_digest,
        utc_time(verification.at_unix)
    );
    Ok(Outcome::Success)
}

pub async fn list(global: &GlobalArgs, args: VerificationsArgs) -> anyhow::Result<Outcome> {
    let VerificationsArgs {
        environment,
        output,
    } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = expand(&loaded, &environment)?;
    let providers = connect(global, &loaded, &[&environment]).await?;
    let locks = crate::lock::store(&providers, &loaded);
    let verifications = locks
        .verifications(loaded.spec.project(), &environment)
        .await
        .map_err(|e| crate::lock::lock_error(e, &environment))?;
    let text = match output {
        OutputFormat::Text => {
            verifications_text(&environment, &desired.parity_digest, &verifications)
        }
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "format_version": crate::render::JSON_FORMAT_VERSION,
                "project": loaded.spec.project(),
                "environment": environment,
                "parity_digest": desired.parity_digest,
                "verifications": verifications.iter().map(|v| verification_json(v, &desired.parity_digest)).collect::<Vec<_>>(),
            }))?
        ),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

/// One verification as JSON (`docs/json-output.md`).
pub fn verification_json(v: &Verification, parity_digest: &str) -> serde_json::Value {
    json!({
        "id": v.id,
        "environment": v.environment,
        "parity_digest": v.parity_digest,
        "this_spec": v.parity_digest == parity_digest,
        "revision": v.revision,
        "command": v.command,
        "who": v.who,
        "at": crate::render::iso_time(v.at_unix),
    })
}

fn verifications_text(
    environment: &str,
    parity_digest: &str,
    verifications: &[Verification],
) -> String {
    let mut out = String::new();
    if verifications.is_empty() {
        out.push_str(&format!(
            "`{environment}` has never been verified: `envctl verify {environment} -- COMMAND` records one\n"
        ));
        return out;
    }
    out.push_str(&format!(
        "`{environment}`: {} (newest first; this spec's parity digest is {parity_digest})\n",
        crate::context::plural(verifications.len(), "verification")
    ));
    for v in verifications {
        out.push_str(&format!(
            "  {}  {}  {}{}  `{}`{}\n",
            utc_time(v.at_unix),
            v.who,
            v.parity_digest,
            if v.parity_digest == parity_digest {
                " (this spec)"
            } else {
                ""
            },
            v.command,
            v.revision
                .as_deref()
                .map(|r| format!("  git {r}"))
                .unwrap_or_default()
        ));
    }
    out
}
