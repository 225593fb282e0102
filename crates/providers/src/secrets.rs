//! Secrets: read from their sources when envctl plans and applies, compared without being
//! kept.
//!
//! Owns [`read`] (a [`SecretSource`]'s value) and [`keyed_digest`] (what a live secret is
//! remembered as). Invariants: a value read here goes only into the call that writes it to
//! the cloud or into [`keyed_digest`], never into a field, an error, a log line or a plan
//! file; a digest is an HMAC-SHA256 under a key drawn at random once per process, so the
//! digests a plan file may hold cannot be checked against guesses later, or by anyone else.

use std::sync::OnceLock;

use envctl_spec::SecretSource;
use sha2::{Digest, Sha256};

/// A secret's source that cannot be read; says which and why, never any value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the secret from `{source_text}`: {reason}")]
pub struct SecretError {
    /// The source as written in the spec (`env:DB_PASSWORD`).
    pub source_text: String,
    /// Why: the variable is not set, the file cannot be read, the value is empty.
    pub reason: String,
}

/// The value of `source`: the environment variable's value, or the file's contents without
/// one trailing line ending (what editors and `echo` add).
pub fn read(source: &SecretSource) -> Result<String, SecretError> {
    let fail = |reason: String| SecretError {
        source_text: source.to_string(),
        reason,
    };
    let value = match source {
        SecretSource::Env(name) => match std::env::var(name) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => {
                return Err(fail(format!(
                    "the environment variable `{name}` is not set"
                )));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(fail(format!(
                    "the environment variable `{name}` is not valid UTF-8"
                )));
            }
        },
        SecretSource::File(path) => match std::fs::read_to_string(path) {
            Ok(mut text) => {
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                text
            }
            Err(error) => return Err(fail(format!("`{path}`: {error}"))),
        },
    };
    if value.is_empty() {
        return Err(fail(
            "the value is empty (SSM refuses empty values)".to_string(),
        ));
    }
    Ok(value)
}

/// This process's HMAC key: 32 random bytes, drawn once.
fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No randomness from the OS: fall back to what std seeds its hash maps with,
            // mixed with the time and the process id (still unknown outside this process).
            use std::hash::{BuildHasher, Hasher};
            let state = std::collections::hash_map::RandomState::new();
            for (i, chunk) in key.chunks_mut(8).enumerate() {
                let mut hasher = state.build_hasher();
                hasher.write_usize(i);
                hasher.write_u32(std::process::id());
                hasher.write_u128(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or_default(),
                );
                chunk.copy_from_slice(&hasher.finish().to_le_bytes());
            }
        }
        key
    })
}

/// `hmac-sha256:HEX` of `value` under this process's key: equal for equal values within one
/// run, meaningless outside it.
pub fn keyed_digest(value: &str) -> String {
    const BLOCK: usize = 64;
    let key = process_key();
    let mut inner_pad = [0x36u8; BLOCK];
    let mut outer_pad = [0x5cu8; BLOCK];
    for (i, byte) in key.iter().enumerate() {
        inner_pad[i] ^= byte;
        outer_pad[i] ^= byte;
    }
    let inner = Sha256::new()
        .chain_update(inner_pad)
        .chain_update(value.as_bytes())
        .finalize();
    let outer = Sha256::new()
        .chain_update(outer_pad)
        .chain_update(inner)
        .finalize();
    let hex: String = outer.iter().map(|b| format!("{b:02x}")).collect();
    format!("hmac-sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_have_equal_digests_that_hide_them() {
        let digest = keyed_digest("hunter2");
        assert_eq!(digest, keyed_digest("hunter2"));
        assert_ne!(digest, keyed_digest("hunter3"));
        assert!(!digest.contains("hunter2"));
        // Not the plain hash: a digest cannot be checked against guesses without the key.
        let plain: String = Sha256::digest(b"hunter2")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!digest.contains(&plain));
    }

    #[test]
    fn a_missing_source_says_which_without_a_value() {
        let missing = SecretSource::Env("ENVCTL_TEST_SURELY_UNSET_VARIABLE".into());
        let error = read(&missing).expect_err("unset");
        assert!(error.to_string().contains("is not set"), "{error}");
        let no_file = SecretSource::File("/nonexistent/envctl/secret".into());
        assert!(read(&no_file).is_err());
    }

    #[test]
    fn a_file_loses_one_trailing_line_ending() {
        let dir = std::env::temp_dir().join(format!("envctl-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("token");
        std::fs::write(&path, "s3cret\n").expect("write");
        let source = SecretSource::File(path.display().to_string());
        assert_eq!(read(&source).expect("readable"), "s3cret");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
