//! `envctl validate`: check the whole spec and print a one-line summary.

use crate::args::GlobalArgs;
use crate::context::{load_spec, plural};
use crate::errors::Outcome;

pub fn run(global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let loaded = load_spec(&global.spec)?;
    let environments = loaded.spec.environment_names();
    if loaded.critical_violations > 0 {
        return Err(crate::errors::UserError::new(format!(
            "`{}` breaks {} (shown above): `apply` would refuse it",
            loaded.source.path,
            plural(loaded.critical_violations, "critical compliance rule")
        ))
        .hint("fix the spec, or declare each exception as a `[[differences]]` entry with `resource = \"compliance\"`")
        .into());
    }
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
