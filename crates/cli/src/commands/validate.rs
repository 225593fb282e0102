//! `envctl validate`: check the whole spec and print a one-line summary.

use crate::args::GlobalArgs;
use crate::context::{load_spec, plural};
use crate::errors::Outcome;

pub fn run(global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let loaded = load_spec(&global.spec)?;
    let environments = loaded.spec.environment_names();
    eprintln!(
        "`{}` is valid: project `{}`, {} ({}), {}",
        loaded.source.path,
        loaded.spec.project(),
        plural(environments.len(), "environment"),
        environments.join(", "),
        plural(loaded.warnings, "warning")
    );
    Ok(Outcome::Success)
}
