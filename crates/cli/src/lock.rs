//! Holding an environment's lock around a command that changes it.
//!
//! Owns [`locked`], which holds a lock around some work through the engine's `LockStore`
//! (the providers' S3 store), and the lock errors' hints. Invariants: only commands that
//! change the cloud lock; locking is on by default (a spec without `lock_bucket` uses
//! `envctl-locks-{account}-{region}`, created private and versioned); `--no-lock` runs
//! unlocked with a warning, never silently; a lock that cannot be released is reported, not
//! ignored.

use std::sync::Mutex;
use std::time::Duration;

use envctl_engine::ops::{HeldLock, LockError, LockStore};
use envctl_providers::{AwsProvider, S3LockStore};

use crate::errors::UserError;

/// The lock store of this run: the spec's `lock_bucket` (or the account's default), each lock
/// recording this command line.
pub fn store<'a>(provider: &'a AwsProvider, bucket: Option<&str>) -> S3LockStore<'a> {
    let command: Vec<String> = std::env::args().collect();
    S3LockStore::new(provider, bucket, command.join(" "))
}

/// A lock error as a user-facing error: who holds it and how to get past it.
pub fn lock_error(error: LockError, environment: &str) -> anyhow::Error {
    match error {
        LockError::Held { ref holder, .. } => {
            let id = holder.id.clone();
            UserError::new(error.to_string())
                .hint(format!(
                    "wait for that run to finish (`--lock-timeout 10m` waits for it), or, if it died, `envctl force-unlock {environment} {id}`"
                ))
                .into()
        }
        LockError::Unavailable { reason, source } => crate::commands::cloud_error(source, reason),
        error => anyhow::Error::new(error).context(format!("failed to lock `{environment}`")),
    }
}

/// Takes the lock of `environment` (None with `--no-lock`).
async fn acquire(
    store: &S3LockStore<'_>,
    no_lock: bool,
    project: &str,
    environment: &str,
    timeout: Duration,
) -> anyhow::Result<Option<HeldLock>> {
    if no_lock {
        crate::style::eprintln(&format!(
            "warning: `--no-lock`: nothing stops another run from changing `{environment}` at the same time"
        ));
        return Ok(None);
    }
    let lock = store
        .acquire(project, environment, timeout)
        .await
        .map_err(|e| lock_error(e, environment))?;
    if let Some(dead) = &lock.took_over {
        crate::style::eprintln(&format!(
            "warning: took over the lock of `{environment}` left by process {} on this host, which is no longer running (it ran `{}`)",
            dead.pid, dead.command
        ));
    }
    Ok(Some(lock))
}

/// Releases a lock taken by [`acquire`], reporting (not hiding) a failure.
async fn release(store: &S3LockStore<'_>, lock: Option<HeldLock>) {
    if let Some(lock) = lock
        && let Err(error) = store.release(&lock).await
    {
        crate::style::eprintln(&format!(
            "warning: could not release lock `{}`: {error}; remove it with `envctl force-unlock`",
            lock.info.id
        ));
    }
}

/// The lock this process holds now, as `(environment, lock id)`, for messages that must say how
/// to release it when the process cannot.
static HELD: Mutex<Option<(String, String)>> = Mutex::new(None);

/// The environment and id of the lock this process holds, if any.
pub fn held() -> Option<(String, String)> {
    HELD.lock().ok().and_then(|held| held.clone())
}

pub fn note_held(held: Option<(String, String)>) {
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
    let store = store(provider, bucket.as_deref());
    let lock = acquire(&store, no_lock, project, environment, timeout).await?;
    note_held(
        lock.as_ref()
            .map(|l| (environment.to_string(), l.info.id.clone())),
    );
    let result = work.await;
    release(&store, lock).await;
    note_held(None);
    result
}
