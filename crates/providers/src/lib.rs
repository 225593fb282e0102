//! Cloud providers for envctl: the only crate that talks to a cloud SDK.
//!
//! Owns the AWS implementation of [`envctl_engine::Provider`] (EC2 and RDS through
//! aws-sdk-rust) and the environment locks kept in S3. Invariant: nothing outside this crate names an `aws_sdk_*` type.

pub mod aws;

pub use aws::lock::{EnvironmentLock, LockError, LockInfo};
pub use aws::{AwsProvider, AwsSettings, Timeouts};
