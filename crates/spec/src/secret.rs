//! [`SecretSource`]: where a secret's value comes from. The spec names the source, never the
//! value.
//!
//! Invariants: a source is `env:VAR` (a non-empty variable name) or `file:PATH` (a non-empty
//! path); nothing here reads it (the spec does no IO): the caller resolves it when it plans
//! and applies, and the value goes only into the call that writes it to the cloud.

use std::fmt;
use std::str::FromStr;

/// Where a secret's value is read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// An environment variable of the process running envctl.
    Env(String),
    /// A file, its path as written (relative paths are relative to the working directory).
    File(String),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "env:{name}"),
            SecretSource::File(path) => write!(f, "file:{path}"),
        }
    }
}

/// Text that names no secret source; the message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretSourceError(pub String);

impl FromStr for SecretSource {
    type Err = SecretSourceError;

    fn from_str(text: &str) -> Result<SecretSource, SecretSourceError> {
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(SecretSourceError(
                "expected `env:VAR` or `file:PATH`".to_string(),
            ));
        };
        match scheme {
            "env" if rest.is_empty() => {
                Err(SecretSourceError("`env:` names no variable".to_string()))
            }
            "env" if !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Err(
                SecretSourceError(format!("`{rest}` is not an environment variable name")),
            ),
            "env" => Ok(SecretSource::Env(rest.to_string())),
            "file" if rest.is_empty() => {
                Err(SecretSourceError("`file:` names no file".to_string()))
            }
            "file" => Ok(SecretSource::File(rest.to_string())),
            other => Err(SecretSourceError(format!(
                "unknown scheme `{other}:`; expected `env:` or `file:`"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_and_bad_ones_say_why() {
        for text in ["env:DB_PASSWORD", "file:secrets/token"] {
            let source: SecretSource = text.parse().expect("a source");
            assert_eq!(source.to_string(), text);
        }
        for (text, says) in [
            ("vault:x", "unknown scheme `vault:`"),
            ("env:", "names no variable"),
            ("env:A-B", "not an environment variable name"),
            ("file:", "names no file"),
            ("DB_PASSWORD", "expected `env:VAR`"),
        ] {
            let error = text.parse::<SecretSource>().expect_err(text);
            assert!(error.0.contains(says), "{text}: {error}");
        }
    }
}
