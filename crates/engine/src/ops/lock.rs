//! Environment locks: the seam ([`LockStore`]) every operation that changes the cloud takes
//! its lock through, and the lock's description ([`LockInfo`], [`HeldLock`], [`LockError`]).
//! The same store keeps each environment's verifications (`envctl verify`), next to its lock.
//!
//! Owns the trait and the types, not a store: the S3 store is the providers' (envctl's
//! locks are objects in a bucket), tests use one in memory. Invariants a store keeps: of two
//! runs racing for one environment's lock exactly one wins; a lock is released only by its
//! holder (matching id) or by [`LockStore::force_unlock`] naming its id; a lock is taken over
//! only when its holder is provably dead, and the takeover is returned, never hidden. The
//! operations in this module's siblings take a lock only around a change, and release it
//! however the change ends. [`LockInfo::age`] is the one place the engine reads the system
//! clock (to say how old a lock is).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::verify::Verification;
use crate::provider::ProviderError;

/// Who holds a lock, since when, for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Names this lock in `envctl force-unlock ENV LOCK_ID`.
    pub id: String,
    /// `user@host` of the holder.
    pub holder: String,
    pub host: String,
    pub pid: u32,
    /// The command line that took the lock (`envctl apply production`).
    pub command: String,
    /// Seconds since the Unix epoch when the lock was taken.
    pub since_unix: u64,
    /// The holder's kernel boot and pid namespace (`boot-id/pid:[4026531836]`): with the host,
    /// what proves a process gone is the holder and not a namesake in another container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_space: Option<String>,
}

impl LockInfo {
    /// How long ago the lock was taken.
    pub fn age(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Duration::from_secs(now.saturating_sub(self.since_unix))
    }
}

/// A lock this process holds, as [`LockStore::acquire`] returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    pub project: String,
    pub environment: String,
    pub info: LockInfo,
    /// The lock of a provably dead holder this one replaced, for the caller to report.
    pub took_over: Option<LockInfo>,
}

/// `45s`, `12m05s`, `2h03m`, `3d04h`.
pub fn human_duration(duration: Duration) -> String {
    let s = duration.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `2026-12-02 05:14 UTC` for seconds since the Unix epoch.
pub fn utc_time(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or_default();
    let date = envctl_spec::CivilDate::from_days_since_unix_epoch(days);
    let seconds = unix % 86_400;
    format!(
        "{date} {:02}:{:02} UTC",
        seconds / 3600,
        seconds % 3600 / 60
    )
}

/// Why a lock could not be taken, read or released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another run holds the lock and did not release it within the wait.
    #[error("`{environment}` is locked by {} since {} ago ({}), running `{}` (lock id `{}`)", .holder.holder, human_duration(.holder.age()), utc_time(.holder.since_unix), .holder.command, .holder.id)]
    Held {
        environment: String,
        holder: LockInfo,
    },
    /// `force-unlock` named an id that is not the current lock's.
    #[error("the lock of `{environment}` has id `{}` (held by {} for `{}`), not `{given}`", .holder.id, .holder.holder, .holder.command)]
    WrongId {
        environment: String,
        given: String,
        holder: LockInfo,
    },
    /// `force-unlock` found no lock.
    #[error("`{environment}` is not locked")]
    NotLocked { environment: String },
    /// The store could not be reached before any lock was looked at (`reason` says what it
    /// was doing, such as finding its bucket).
    #[error("{reason}")]
    Unavailable {
        reason: String,
        #[source]
        source: ProviderError,
    },
    /// The store failed while reading or writing the lock.
    #[error(transparent)]
    Storage(#[from] ProviderError),
}

/// Where environments' locks are kept.
///
/// Every async method returns a `Send` future, like the provider's.
pub trait LockStore: Sync {
    /// Takes the lock of `environment` of `project`, waiting up to `timeout` for its holder
    /// to release it; a lock whose holder provably died is taken over (and said so in
    /// [`HeldLock::took_over`]).
    fn acquire(
        &self,
        project: &str,
        environment: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<HeldLock, LockError>> + Send;

    /// Releases a lock [`LockStore::acquire`] returned, if it is still this holder's (one
    /// force-unlocked and taken by another run meanwhile is left alone).
    fn release(&self, lock: &HeldLock) -> impl Future<Output = Result<(), LockError>> + Send;

    /// The current lock of `environment`, if any (read-only).
    fn holder(
        &self,
        project: &str,
        environment: &str,
    ) -> impl Future<Output = Result<Option<LockInfo>, LockError>> + Send;

    /// Removes the lock of `environment` if its id is `lock_id`; returns what it was.
    fn force_unlock(
        &self,
        project: &str,
        environment: &str,
        lock_id: &str,
    ) -> impl Future<Output = Result<LockInfo, LockError>> + Send;

    /// Records a passed verification of `environment`, next to its lock; never replaces
    /// another record.
    fn record_verification(
        &self,
        project: &str,
        environment: &str,
        verification: &Verification,
    ) -> impl Future<Output = Result<(), LockError>> + Send;

    /// The verifications recorded for `environment`, newest first.
    fn verifications(
        &self,
        project: &str,
        environment: &str,
    ) -> impl Future<Output = Result<Vec<Verification>, LockError>> + Send;
}

/// Whether an operation that changes the cloud takes the environment's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locking {
    /// Take it, waiting up to `timeout` for another run's (the default).
    Wait { timeout: Duration },
    /// Run without it (`--no-lock`); reported as a warning, never silently.
    Off,
}

impl Default for Locking {
    fn default() -> Self {
        Locking::Wait {
            timeout: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times_read_like_a_person_writes_them() {
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(human_duration(Duration::from_secs(7382)), "2h03m");
        assert_eq!(human_duration(Duration::from_secs(725)), "12m05s");
        assert_eq!(
            human_duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d04h"
        );
        assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13 UTC");
    }
}
