//! Verifications in S3, next to the environment's lock: the record `envctl verify` leaves when
//! an environment passed its tests, which the promotion gate of the environments promoted from
//! it reads.
//!
//! Owns where a verification lives and how it is written and read. Invariants: one object per
//! verification, `envctl-locks/{project}/{environment}.verifications/{at:012}-{id}.json`, in the
//! environment's lock bucket, written with a conditional put (`If-None-Match: *`), so a record
//! is never replaced; a retried put refused because its first attempt succeeded recognises the
//! record as its own; keys sort by time, so the newest are read first and at most
//! [`READ_AT_MOST`] are read; a missing bucket means no verification, and is not created by a
//! read.

use aws_sdk_s3::primitives::ByteStream;
use envctl_engine::ProviderError;
use envctl_engine::ops::{LockError, Verification};

use super::AwsProvider;
use super::error::classify;

/// How many of the newest verifications a read returns.
pub const READ_AT_MOST: usize = 50;

fn prefix(project: &str, environment: &str) -> String {
    format!("envctl-locks/{project}/{environment}.verifications/")
}

fn key(project: &str, verification: &Verification) -> String {
    format!(
        "{}{:012}-{}.json",
        prefix(project, &verification.environment),
        verification.at_unix,
        verification.id
    )
}

fn is_missing_bucket(error: &ProviderError) -> bool {
    matches!(error, ProviderError::NotFound { .. })
        || matches!(error, ProviderError::Rejected { code, .. } if code == "NoSuchBucket")
}

impl AwsProvider {
    /// Writes `verification` of `project`'s environment to `bucket` (created when missing,
    /// like the lock's), never over another record.
    pub async fn put_verification(
        &self,
        bucket: &str,
        project: &str,
        verification: &Verification,
    ) -> Result<(), LockError> {
        self.check_account().await?;
        self.ensure_bucket(bucket).await?;
        let key = key(project, verification);
        let what = format!("the verification of `{}`", verification.environment);
        let body =
            serde_json::to_vec_pretty(verification).map_err(|e| ProviderError::Rejected {
                code: "Unserializable".into(),
                message: format!("{what}: {e}"),
                request_id: None,
            })?;
        let put = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| classify(e, &what));
        match put {
            Ok(_) => Ok(()),
            Err(error) if super::lock::is_precondition_failed(&error) => {
                // The key holds this record's id: only an earlier attempt of this very put,
                // whose answer was lost, can have written it.
                match self.read_verification(bucket, &key, &what).await? {
                    Some(found) if found.id == verification.id => Ok(()),
                    _ => Err(error.into()),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The newest verifications (at most [`READ_AT_MOST`]) of `project`'s `environment` in
    /// `bucket`, newest first; none when the bucket does not exist.
    pub async fn verifications(
        &self,
        bucket: &str,
        project: &str,
        environment: &str,
    ) -> Result<Vec<Verification>, LockError> {
        self.check_account().await?;
        let what = format!("the verifications of `{environment}`");
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let listed = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix(project, environment))
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| classify(e, &what));
            let page = match listed {
                Ok(page) => page,
                Err(error) if is_missing_bucket(&error) => return Ok(Vec::new()),
                Err(other) => return Err(other.into()),
            };
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_string)),
            );
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        keys.sort_unstable_by(|a, b| b.cmp(a));
        let mut found = Vec::new();
        for key in keys.into_iter().take(READ_AT_MOST) {
            if let Some(verification) = self.read_verification(bucket, &key, &what).await? {
                found.push(verification);
            }
        }
        found.sort_by(|a, b| b.at_unix.cmp(&a.at_unix).then_with(|| b.id.cmp(&a.id)));
        Ok(found)
    }

    /// The record at `key`; `None` when it is gone or is not a verification (an object
    /// someone else put under the prefix proves nothing).
    async fn read_verification(
        &self,
        bucket: &str,
        key: &str,
        what: &str,
    ) -> Result<Option<Verification>, ProviderError> {
        Ok(super::lock::get_object(&self.s3, bucket, key, what)
            .await?
            .and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok()))
    }
}
