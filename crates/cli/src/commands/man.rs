//! `envctl man`: print the manual page (roff), generated from the command line.

use crate::errors::Outcome;

pub fn run() -> anyhow::Result<Outcome> {
    crate::commands::write_stdout(crate::manual::man_page()?.as_bytes())?;
    Ok(Outcome::Success)
}
