//! Cloud providers for envctl: the only crate that talks to a cloud SDK.
//!
//! Owns the AWS implementation of [`envctl_engine::Provider`] (EC2, RDS, CloudWatch Logs and SSM
//! through aws-sdk-rust), fetching probe documents over HTTP(S) and from files (`probe`), reading
//! secrets from their sources (`secrets`) and the environment locks kept in S3 (the engine's
//! `LockStore`). Invariant: nothing outside this crate names an `aws_sdk_*` type.

pub mod aws;
pub mod probe;
pub mod secrets;

pub use aws::lock::{
    EnvironmentLock, LockError, LockInfo, S3LockStore, lock_info_for_this_process,
};
pub use aws::{
    AssumeRole, AwsProvider, AwsSettings, ExpectedAccount, INSTANCE_STATE_FIELD, Identity,
    RetryNotice, RetryObserver, Timeouts,
};
