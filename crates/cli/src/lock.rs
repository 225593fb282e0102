//! The environments' locks as the CLI meets them: the store of this run, the lock errors'
//! hints, and which lock this process holds now.
//!
//! Owns [`store`] (the providers' S3 store of the engine's `LockStore`), [`lock_error`] and
//! [`held`]. Invariants: the engine decides when a lock is taken and released (only around a
//! change, released however it ends; `--no-lock` is a warning, never silent); locking is on by
//! default (a spec without `lock_bucket` uses `envctl-locks-{account}-{region}`, created
//! private and versioned); a lock that cannot be released is reported, not ignored.

use std::sync::Mutex;

use envctl_engine::ops::LockError;
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

/// The lock this process holds now, as `(environment, lock id)`, for messages that must say how
/// to release it when the process cannot.
static HELD: Mutex<Option<(String, String)>> = Mutex::new(None);

/// The environment and id of the lock this process holds, if any.
pub fn held() -> Option<(String, String)> {
    HELD.lock().ok().and_then(|held| held.clone())
}

/// Records the lock this process holds (`None`: none).
pub fn note_held(held: Option<(String, String)>) {
    if let Ok(mut slot) = HELD.lock() {
        *slot = held;
    }
}
