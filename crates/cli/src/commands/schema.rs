//! `envctl schema`: print the JSON Schema of the spec file, for editors.

use crate::errors::Outcome;

pub fn run() -> anyhow::Result<Outcome> {
    let schema = serde_json::to_string_pretty(&envctl_spec::json_schema())?;
    crate::commands::write_stdout(format!("{schema}\n").as_bytes())?;
    Ok(Outcome::Success)
}
