//! Diagnostic logs on stderr, for finding out what envctl and the AWS SDK did.
//!
//! Owns [`init`]: `-v` shows envctl's own events at info level (each operation started and
//! finished), `-vv` debug events of envctl and the AWS SDK (each AWS call), `-vvv` everything
//! at trace level; `RUST_LOG` adds or overrides directives (`RUST_LOG=envctl_providers=debug`).
//! Invariants: without `-v` or `RUST_LOG` nothing is logged; logs go to stderr only, so stdout
//! stays data; they are colored under the same rule as messages. No event anywhere records a
//! credential: envctl's events carry addresses, ids, services and operation names only, and
//! the AWS SDK redacts credentials in its own.

use tracing_subscriber::EnvFilter;

use crate::style::Palette;

/// The filter directives for `verbosity` (the number of `-v`), then those of `RUST_LOG`.
fn directives(verbosity: u8, rust_log: Option<&str>) -> Option<String> {
    let base = match verbosity {
        0 => None,
        // Target prefixes: `envctl` covers envctl_cli, envctl_engine, envctl_providers, ...;
        // `aws` covers aws_config, aws_smithy_*, aws_sdk_*.
        1 => Some("envctl=info"),
        2 => Some("envctl=debug,aws=debug"),
        _ => Some("trace"),
    };
    let rust_log = rust_log.map(str::trim).filter(|r| !r.is_empty());
    match (base, rust_log) {
        (None, None) => None,
        (Some(base), None) => Some(base.to_string()),
        (None, Some(extra)) => Some(extra.to_string()),
        (Some(base), Some(extra)) => Some(format!("{base},{extra}")),
    }
}

/// Starts logging to stderr if `-v` or `RUST_LOG` asks for it. A `RUST_LOG` that does not
/// parse is reported and ignored rather than stopping the command.
pub fn init(verbosity: u8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let Some(wanted) = directives(verbosity, rust_log.as_deref()) else {
        return;
    };
    let filter = match EnvFilter::builder().parse(&wanted) {
        Ok(filter) => filter,
        Err(error) => {
            crate::style::eprintln(&format!("warning: ignoring `RUST_LOG`: {error}"));
            match directives(verbosity, None).map(|d| EnvFilter::builder().parse(d)) {
                Some(Ok(filter)) => filter,
                _ => return,
            }
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(Palette::stderr().enabled())
        .with_target(true)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_and_rust_log_combine() {
        assert_eq!(directives(0, None), None);
        assert_eq!(directives(0, Some("  ")), None);
        assert_eq!(directives(1, None).as_deref(), Some("envctl=info"));
        assert_eq!(
            directives(2, None).as_deref(),
            Some("envctl=debug,aws=debug")
        );
        assert_eq!(directives(3, None).as_deref(), Some("trace"));
        assert_eq!(
            directives(0, Some("envctl_engine=debug")).as_deref(),
            Some("envctl_engine=debug")
        );
        assert_eq!(
            directives(1, Some("hyper=trace")).as_deref(),
            Some("envctl=info,hyper=trace")
        );
        for verbosity in 1..=3 {
            let text = directives(verbosity, None).unwrap_or_default();
            assert!(EnvFilter::builder().parse(&text).is_ok(), "{text}");
        }
    }
}
