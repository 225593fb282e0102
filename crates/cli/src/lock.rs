//! Holding an environment's lock around a command that changes it.
//!
//! Owns [`acquire`], [`release`] and [`locked`], which holds a lock around some work.
//! Invariants: only commands that change the cloud lock; locking is on by default (a spec
//! without `lock_bucket` uses `envctl-locks-{account}-{region}`, created private and
//! versioned); `--no-lock` runs unlocked with a warning, never silently; a lock that cannot
//! be released is reported, not ignored.

use std::sync::Mutex;
use std::time::Duration;

use envctl_providers::{AwsProvider, EnvironmentLock, LockError, LockInfo};

use crate::errors::UserError;

/// The bucket holding the environments' locks: the spec's `lock_bucket`, else the default
/// one of the account and region.
pub async fn bucket_of(provider: &AwsProvider, named: Option<&str>) -> anyhow::Result<String> {
    match named {
        Some(bucket) => Ok(bucket.to_string()),
        None => provider.default_lock_bucket().await.map_err(|e| {
            crate::commands::cloud_error(
                e,
                "failed to find the default lock bucket (the spec names no `lock_bucket`)"
                    .to_string(),
            )
        }),
    }
}

/// Takes the lock of `environment` (None with `--no-lock`).
async fn acquire(
    provider: &AwsProvider,
    bucket: Option<&str>,
    no_lock: bool,
    project: &str,
    environment: &str,
    timeout: Duration,
) -> anyhow::Result<Option<EnvironmentLock>> {
    if no_lock {
        crate::style::eprintln(&format!(
            "warning: `--no-lock`: nothing stops another run from changing `{environment}` at the same time"
        ));
        return Ok(None);
    }
    let bucket = bucket_of(provider, bucket).await?;
    let bucket = bucket.as_str();
    let command: Vec<String> = std::env::args().collect();
    let info = LockInfo::for_this_process(command.join(" "));
    match provider
        .lock(bucket, project, environment, info, timeout)
        .await
    {
        Ok(lock) => {
            if let Some(dead) = &lock.took_over {
                crate::style::eprintln(&format!(
                    "warning: took over the lock of `{environment}` left by process {} on this host, which is no longer running (it ran `{}`)",
                    dead.pid, dead.command
                ));
            }
            Ok(Some(lock))
        }
        Err(error @ LockError::Held { .. }) => {
            let id = match &error {
                LockError::Held { holder, .. } => holder.id.clone(),
                _ => String::new(),
            };
            Err(UserError::new(error.to_string())
                .hint(format!(
                    "wait for that run to finish (`--lock-timeout 10m` waits for it), or, if it died, `envctl force-unlock {environment} {id}`"
                ))
                .into())
        }
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("failed to lock `{environment}`")))
        }
    }
}

/// Releases a lock taken by [`acquire`], reporting (not hiding) a failure.
async fn release(lock: Option<EnvironmentLock>) {
    if let Some(lock) = lock {
        let id = lock.info.id.clone();
        if let Err(error) = lock.release().await {
            crate::style::eprintln(&format!(
                "warning: could not release lock `{id}`: {error}; remove it with `envctl force-unlock`"
            ));
        }
    }
}

/// The lock this process holds now, as `(environment, lock id)`, for messages that must say how
/// to release it when the process cannot.
static HELD: Mutex<Option<(String, String)>> = Mutex::new(None);

/// The environment and id of the lock this process holds, if any.
pub fn held() -> Option<(String, String)> {
    HELD.lock().ok().and_then(|held| held.clone())
}

fn note_held(held: Option<(String, String)>) {
    if let Ok(mut slot) = HELD.lock() {
        *slot = held;
    }
}

/// Runs `work` while holding the lock of `environment` (see [`acquire`]); the lock is released
/// whether `work` succeeds or fails.
pub async fn locked<T>(
    provider: &AwsProvider,
    bucket: Option<String>,
    no_lock: bool,
    project: &str,
    environment: &str,
    timeout: Duration,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let lock = acquire(
        provider,
        bucket.as_deref(),
        no_lock,
        project,
        environment,
        timeout,
    )
    .await?;
    note_held(
        lock.as_ref()
            .map(|l| (environment.to_string(), l.info.id.clone())),
    );
    let result = work.await;
    release(lock).await;
    note_held(None);
    result
}
