//! `[[probes]]`: documents each environment's running service reports about itself (the
//! dependency versions of `versions.json`), which `parity` and `audit` compare.
//!
//! Owns [`Probe`]. Invariant: a probe's URL is `http://`, `https://` or `file:` and holds only
//! the placeholders `${project}`, `${environment}` and `${region}`, substituted per environment
//! by [`Probe::url_in`].

use crate::model::Span;
use crate::template::Placeholders;

/// One `[[probes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// How differences name it: `probe.NAME`.
    pub name: String,
    /// The URL as written, placeholders included.
    pub url: String,
    /// Where the entry is written.
    pub span: Span,
}

impl Probe {
    /// The URL of the document of one environment.
    pub fn url_in(&self, project: &str, environment: &str, region: &str) -> String {
        Placeholders {
            project,
            environment,
            region,
        }
        .substitute(&self.url)
    }
}
