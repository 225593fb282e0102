//! The environments' locks as the CLI meets them: the store of this run, the lock errors'
//! hints, and which lock this process holds now.
//!
//! Owns [`store`] (the providers' S3 store of the engine's `LockStore`), [`lock_error`] and
//! [`held`]. Invariants: the engine decides when a lock is taken and released (only around a
//! change, released however it ends; `--no-lock` is a warning, never silent); locking is on by
//! default (a spec without `lock_bucket` uses `envctl-locks-{account}-{region}`, created
//! private and versioned); a lock that cannot be released is reported, not ignored.

use std::sync::Mutex;

use envctl_engine::Environments;
use envctl_engine::ops::LockError;
use envctl_providers::S3LockStore;

use crate::context::{LoadedSpec, Providers};

use crate::errors::UserError;

/// The lock store of this run: each environment's lock in its `lock_bucket` (or the
/// project's, or its account's default), reached with that environment's provider, each lock
/// recording this command line.
pub fn store<'a>(providers: &'a Providers, loaded: &LoadedSpec) -> S3LockStore<'a> {
    let command: Vec<String> = std::env::args().collect();
    let names = loaded.spec.environment_names();
    let first = names.first().copied().unwrap_or_default();
    let mut store = S3LockStore::new(
        providers.provider(first),
        loaded.spec.lock_bucket(),
        command.join(" "),
    );
    for name in names {
        let bucket = loaded
            .spec
            .environment(name)
            .and_then(|e| e.lock_bucket.as_deref())
            .or(loaded.spec.lock_bucket());
        store = store.with_environment(name, providers.provider(name), bucket);
    }
    store
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
