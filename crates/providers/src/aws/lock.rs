//! Environment locks in S3, so that pipelines on different machines never mutate one
//! environment at once: the S3 implementation of the engine's [`LockStore`].
//!
//! Owns [`S3LockStore`], [`EnvironmentLock`] and how this process describes itself as a lock
//! holder ([`lock_info_for_this_process`]); the lock's types ([`LockInfo`], [`LockError`]) are
//! the engine's, re-exported here. Invariants: a lock is one object
//! `envctl-locks/{project}/{environment}.json` in the spec's `lock_bucket` (or the account's
//! default bucket), created with a conditional put (`If-None-Match: *`), so of two racing runs
//! exactly one wins; it records who holds it, since when, and for what command; it is released
//! only by its holder (matching id) or by `force-unlock` naming its id; a lock is taken over
//! only when its holder is provably dead (same host, same boot and pid namespace, process
//! gone), never on a hostname alone; a retried conditional put refused because the first
//! attempt had succeeded recognises the lock as its own; the bucket is created when missing.
//! Nothing here prints: a takeover is returned for the caller to report.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use envctl_engine::ProviderError;
pub use envctl_engine::ops::lock::{LockError, LockInfo, human_duration, utc_time};
use envctl_engine::ops::{HeldLock, LockStore, Verification};

use super::AwsProvider;
use super::error::classify;

/// A new lock description for this process, running `command`.
pub fn lock_info_for_this_process(command: impl Into<String>) -> LockInfo {
    let host = hostname();
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    LockInfo {
        id: format!(
            "{:x}-{:x}",
            now.as_nanos() & 0xffff_ffff_ffff,
            std::process::id()
        ),
        holder: format!("{user}@{host}"),
        host,
        pid: std::process::id(),
        command: command.into(),
        since_unix: now.as_secs(),
        process_space: process_space(),
    }
}

/// A lock taken by a process that provably no longer runs (same host, same boot and pid
/// namespace, no such process) can never be released by its holder. Anything less (a
/// container with the same hostname, a lock without its process space) is not proof.
fn holder_is_dead(info: &LockInfo) -> bool {
    let here = process_space();
    info.host == hostname()
        && here.is_some()
        && info.process_space == here
        && !std::path::Path::new(&format!("/proc/{}", info.pid)).exists()
}

/// This process's boot id and pid namespace, where Linux tells them.
fn process_space() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), namespace.display()))
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// A lock this process holds; release it with [`EnvironmentLock::release`].
#[derive(Debug)]
pub struct EnvironmentLock {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    environment: String,
    pub info: LockInfo,
    /// The lock of a provably dead holder this one replaced, for the caller to report.
    pub took_over: Option<LockInfo>,
}

fn lock_key(project: &str, environment: &str) -> String {
    format!("envctl-locks/{project}/{environment}.json")
}

impl AwsProvider {
    /// Takes the lock of `environment`, waiting up to `timeout` for its holder to release it.
    pub async fn lock(
        &self,
        bucket: &str,
        project: &str,
        environment: &str,
        info: LockInfo,
        timeout: Duration,
    ) -> Result<EnvironmentLock, LockError> {
        self.check_account().await?;
        self.ensure_bucket(bucket).await?;
        let key = lock_key(project, environment);
        let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
        let started = Instant::now();
        let mut pause = Duration::from_millis(500);
        let mut took_over = None;
        let held = |took_over| EnvironmentLock {
            s3: self.s3.clone(),
            bucket: bucket.to_string(),
            key: key.clone(),
            environment: environment.to_string(),
            info: info.clone(),
            took_over,
        };
        loop {
            let put = self
                .s3
                .put_object()
                .bucket(bucket)
                .key(&key)
                .if_none_match("*")
                .content_type("application/json")
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map_err(|e| classify(e, &format!("the lock of `{environment}`")));
            match put {
                Ok(_) => return Ok(held(took_over)),
                Err(error) if is_precondition_failed(&error) => {}
                Err(other) => return Err(other.into()),
            }
            let Some((holder, etag)) = read_lock(&self.s3, bucket, &key, environment).await? else {
                continue; // released between our put and our read: try again at once
            };
            if holder.id == info.id {
                // An earlier attempt of this put succeeded but its answer was lost; the SDK's
                // retry was refused by our own lock.
                return Ok(held(took_over));
            }
            if holder_is_dead(&holder) {
                delete_lock(&self.s3, bucket, &key, etag.as_deref(), environment).await?;
                took_over = Some(holder);
                continue;
            }
            if started.elapsed() >= timeout {
                return Err(LockError::Held {
                    environment: environment.to_string(),
                    holder,
                });
            }
            tokio::time::sleep(pause.min(timeout.saturating_sub(started.elapsed()))).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// The current lock of `environment`, if any (read-only).
    pub async fn lock_holder(
        &self,
        bucket: &str,
        project: &str,
        environment: &str,
    ) -> Result<Option<LockInfo>, LockError> {
        self.check_account().await?;
        let key = lock_key(project, environment);
        Ok(read_lock(&self.s3, bucket, &key, environment)
            .await?
            .map(|(info, _)| info))
    }

    /// Removes the lock of `environment` if its id is `lock_id`; returns what it was.
    pub async fn force_unlock(
        &self,
        bucket: &str,
        project: &str,
        environment: &str,
        lock_id: &str,
    ) -> Result<LockInfo, LockError> {
        self.check_account().await?;
        let key = lock_key(project, environment);
        let Some((holder, etag)) = read_lock(&self.s3, bucket, &key, environment).await? else {
            return Err(LockError::NotLocked {
                environment: environment.to_string(),
            });
        };
        if holder.id != lock_id {
            return Err(LockError::WrongId {
                environment: environment.to_string(),
                given: lock_id.to_string(),
                holder,
            });
        }
        delete_lock(&self.s3, bucket, &key, etag.as_deref(), environment).await?;
        Ok(holder)
    }

    /// The lock bucket envctl uses when the spec names none, as CDK's bootstrap bucket:
    /// `envctl-locks-{account}-{region}`, one per account and region.
    pub async fn default_lock_bucket(&self) -> Result<String, ProviderError> {
        Ok(format!(
            "envctl-locks-{}-{}",
            self.account_id().await?,
            self.region
        ))
    }

    pub(super) async fn ensure_bucket(&self, bucket: &str) -> Result<(), ProviderError> {
        let what = format!("lock bucket `{bucket}`");
        match self
            .s3
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| classify(e, &what))
        {
            Ok(_) => return Ok(()),
            Err(ProviderError::NotFound { .. }) => {}
            Err(ProviderError::Rejected { code, .. })
                if code == "NotFound" || code == "Unknown" => {}
            Err(other) => return Err(other),
        }
        let mut create = self.s3.create_bucket().bucket(bucket);
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match create.send().await.map_err(|e| classify(e, &what)) {
            Ok(_) => self.harden_bucket(bucket, &what).await,
            // Created meanwhile by another run, or ours already.
            Err(ProviderError::AlreadyExists { .. }) => Ok(()),
            Err(ProviderError::Rejected { code, .. }) if code == "BucketAlreadyOwnedByYou" => {
                Ok(())
            }
            Err(other) => Err(other),
        }
    }
}

impl AwsProvider {
    /// A lock bucket envctl created is private (public access blocked) and versioned (a lock
    /// overwritten by mistake can be recovered).
    async fn harden_bucket(&self, bucket: &str, what: &str) -> Result<(), ProviderError> {
        use aws_sdk_s3::types::{
            BucketVersioningStatus, PublicAccessBlockConfiguration, VersioningConfiguration,
        };
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(e, what))?;
        self.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(e, what))?;
        Ok(())
    }
}

/// The object at `key` and its ETag; `None` when there is none (`what` names it in errors).
pub(super) async fn get_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    what: &str,
) -> Result<Option<(Vec<u8>, Option<String>)>, ProviderError> {
    let out = match s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| classify(e, what))
    {
        Ok(out) => out,
        Err(ProviderError::NotFound { .. }) => return Ok(None),
        Err(ProviderError::Rejected { code, .. }) if code == "NoSuchKey" => return Ok(None),
        Err(other) => return Err(other),
    };
    let etag = out.e_tag().map(str::to_string);
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| ProviderError::Transient {
            message: format!("reading {what}: {e}"),
        })?;
    Ok(Some((bytes.into_bytes().to_vec(), etag)))
}

/// The current lock and its ETag, or `None` when there is none.
async fn read_lock(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    environment: &str,
) -> Result<Option<(LockInfo, Option<String>)>, ProviderError> {
    let what = format!("the lock of `{environment}`");
    let Some((bytes, etag)) = get_object(s3, bucket, key, &what).await? else {
        return Ok(None);
    };
    let info: LockInfo = serde_json::from_slice(&bytes).map_err(|e| ProviderError::Rejected {
        code: UNREADABLE_LOCK.into(),
        message: format!("{what} is not an envctl lock: {e}"),
        request_id: None,
    })?;
    Ok(Some((info, etag)))
}

/// Deletes the lock object, only if it is still the version read (`etag`).
async fn delete_lock(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
    environment: &str,
) -> Result<(), ProviderError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .set_if_match(etag.map(str::to_string))
        .send()
        .await
        .map_err(|e| classify(e, &format!("the lock of `{environment}`")))?;
    Ok(())
}

/// The error code of a lock object envctl cannot read.
const UNREADABLE_LOCK: &str = "UnreadableLock";

impl EnvironmentLock {
    /// Releases the lock, if it is still this process's.
    pub async fn release(self) -> Result<(), ProviderError> {
        match read_lock(&self.s3, &self.bucket, &self.key, &self.environment).await {
            Ok(Some((holder, etag))) if holder.id == self.info.id => {
                delete_lock(
                    &self.s3,
                    &self.bucket,
                    &self.key,
                    etag.as_deref(),
                    &self.environment,
                )
                .await
            }
            // Gone, or force-unlocked and taken by someone else: not ours to remove.
            Ok(_) => Ok(()),
            Err(ProviderError::Rejected { code, .. }) if code == UNREADABLE_LOCK => Ok(()),
            Err(other) => Err(other),
        }
    }
}

pub(super) fn is_precondition_failed(error: &ProviderError) -> bool {
    matches!(error, ProviderError::Rejected { code, .. } if code == "PreconditionFailed" || code == "ConditionalRequestConflict")
}

/// The engine's [`LockStore`] over S3: each environment's lock in its `lock_bucket` (or its
/// account's default bucket, found on first use), reached with that environment's provider
/// (its account and region), held as this process running `command`.
#[derive(Debug)]
pub struct S3LockStore<'a> {
    /// Where the locks of environments not named in `by_environment` live.
    fallback: LockPlace<'a>,
    by_environment: BTreeMap<String, LockPlace<'a>>,
    command: String,
    /// The locks this store took and has not released.
    held: Mutex<Vec<EnvironmentLock>>,
}

/// Where one environment's lock lives: a bucket reached through a provider.
#[derive(Debug)]
struct LockPlace<'a> {
    provider: &'a AwsProvider,
    bucket: Option<String>,
    /// The default bucket once found.
    found: Mutex<Option<String>>,
}

impl<'a> LockPlace<'a> {
    fn new(provider: &'a AwsProvider, bucket: Option<&str>) -> Self {
        LockPlace {
            provider,
            bucket: bucket.map(str::to_string),
            found: Mutex::new(None),
        }
    }

    /// The bucket: the one named, else the default one of the account and region.
    async fn bucket(&self) -> Result<String, LockError> {
        if let Some(bucket) = &self.bucket {
            return Ok(bucket.clone());
        }
        if let Some(found) = self.found.lock().ok().and_then(|f| f.clone()) {
            return Ok(found);
        }
        let bucket = self
            .provider
            .default_lock_bucket()
            .await
            .map_err(|source| LockError::Unavailable {
                reason: "failed to find the default lock bucket (the spec names no `lock_bucket`)"
                    .to_string(),
                source,
            })?;
        if let Ok(mut found) = self.found.lock() {
            *found = Some(bucket.clone());
        }
        Ok(bucket)
    }
}

impl<'a> S3LockStore<'a> {
    /// Locks in `bucket` (`None`: the account's default) through `provider`, taken for
    /// `command` (the command line a lock records).
    pub fn new(
        provider: &'a AwsProvider,
        bucket: Option<&str>,
        command: impl Into<String>,
    ) -> Self {
        S3LockStore {
            fallback: LockPlace::new(provider, bucket),
            by_environment: BTreeMap::new(),
            command: command.into(),
            held: Mutex::new(Vec::new()),
        }
    }

    /// The lock of `environment` lives in `bucket` (`None`: the default of the provider's
    /// account and region), reached through `provider`.
    #[must_use]
    pub fn with_environment(
        mut self,
        environment: &str,
        provider: &'a AwsProvider,
        bucket: Option<&str>,
    ) -> Self {
        self.by_environment
            .insert(environment.to_string(), LockPlace::new(provider, bucket));
        self
    }

    fn place(&self, environment: &str) -> &LockPlace<'a> {
        self.by_environment
            .get(environment)
            .unwrap_or(&self.fallback)
    }

    /// The bucket holding `environment`'s lock.
    pub async fn bucket(&self, environment: &str) -> Result<String, LockError> {
        self.place(environment).bucket().await
    }
}

impl LockStore for S3LockStore<'_> {
    async fn acquire(
        &self,
        project: &str,
        environment: &str,
        timeout: Duration,
    ) -> Result<HeldLock, LockError> {
        let place = self.place(environment);
        let bucket = place.bucket().await?;
        let info = lock_info_for_this_process(self.command.clone());
        let lock = place
            .provider
            .lock(&bucket, project, environment, info, timeout)
            .await?;
        let held = HeldLock {
            project: project.to_string(),
            environment: environment.to_string(),
            info: lock.info.clone(),
            took_over: lock.took_over.clone(),
        };
        if let Ok(mut locks) = self.held.lock() {
            locks.push(lock);
        }
        Ok(held)
    }

    async fn release(&self, lock: &HeldLock) -> Result<(), LockError> {
        let taken = self.held.lock().ok().and_then(|mut locks| {
            let at = locks.iter().position(|l| l.info.id == lock.info.id)?;
            Some(locks.remove(at))
        });
        match taken {
            Some(lock) => lock.release().await.map_err(LockError::from),
            // Not taken by this store, or released already.
            None => Ok(()),
        }
    }

    async fn holder(
        &self,
        project: &str,
        environment: &str,
    ) -> Result<Option<LockInfo>, LockError> {
        let place = self.place(environment);
        let bucket = place.bucket().await?;
        place
            .provider
            .lock_holder(&bucket, project, environment)
            .await
    }

    async fn force_unlock(
        &self,
        project: &str,
        environment: &str,
        lock_id: &str,
    ) -> Result<LockInfo, LockError> {
        let place = self.place(environment);
        let bucket = place.bucket().await?;
        place
            .provider
            .force_unlock(&bucket, project, environment, lock_id)
            .await
    }

    async fn record_verification(
        &self,
        project: &str,
        environment: &str,
        verification: &Verification,
    ) -> Result<(), LockError> {
        let place = self.place(environment);
        let bucket = place.bucket().await?;
        place
            .provider
            .put_verification(&bucket, project, verification)
            .await
    }

    async fn verifications(
        &self,
        project: &str,
        environment: &str,
    ) -> Result<Vec<Verification>, LockError> {
        let place = self.place(environment);
        let bucket = place.bucket().await?;
        place
            .provider
            .verifications(&bucket, project, environment)
            .await
    }
}
