//! `envctl completions SHELL`: print a completion script generated from the command line.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::errors::Outcome;

pub fn run(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let CompletionsArgs { shell } = args;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "envctl", &mut script);
    crate::commands::write_stdout(&script)?;
    Ok(Outcome::Success)
}
