//! The `envctl` binary: parses the command line, runs one command, renders its outcome.
//!
//! Owns process-level concerns only: logging, the async runtime, mapping outcomes to exit
//! codes in one place, and rendering errors as `error:` / `Caused by:` / `hint:`. Every
//! command is a thin function in [`commands`] over a library operation. Invariant: stdout
//! carries data only (plans, reports, JSON, generated files); messages, progress and logs go
//! to stderr.

mod args;
mod commands;
mod confirm;
mod context;
mod errors;
mod frontend;
mod lock;
mod logging;
mod manual;
mod progress;
mod render;
mod report;
mod style;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::errors::{Outcome, render_error};

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error: 2 means "changes pending".
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    style::set_choice(cli.global.color);
    logging::init(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            style::eprintln(&format!("error: cannot start the async runtime: {error}"));
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(error) => {
            if errors::is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            if let Some(code) = errors::already_reported(&error) {
                return ExitCode::from(code);
            }
            style::eprint(&render_error(&error));
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let Cli { global, command } = cli;
    match command {
        Command::Validate(args) => commands::validate::run(&global, args),
        Command::Fmt(args) => commands::fmt::run(&global, args),
        Command::Show(args) => commands::show::run(&global, args),
        Command::Plan(args) => commands::plan::run(&global, args).await,
        Command::Apply(args) => commands::apply::run(&global, args).await,
        Command::Destroy(args) => commands::destroy::run(&global, args).await,
        Command::Drift(args) => commands::drift::run(&global, args).await,
        Command::Reconcile(args) => commands::reconcile::run(&global, args).await,
        Command::Redeploy(args) => commands::redeploy::run(&global, args).await,
        Command::Parity(args) => commands::parity::run(&global, args).await,
        Command::Compliance(args) => commands::compliance::run(&global, args).await,
        Command::Verify(args) => commands::verify::run(&global, args).await,
        Command::Verifications(args) => commands::verify::list(&global, args).await,
        Command::State(args) => commands::state::run(&global, args).await,
        Command::Import(args) => commands::import::run(&global, args).await,
        Command::Adopt(args) => commands::adopt::run(&global, args).await,
        Command::Graph(args) => commands::graph::run(&global, args).await,
        Command::Audit(args) => commands::audit::run(&global, args).await,
        Command::ForceUnlock(args) => commands::force_unlock::run(&global, args).await,
        Command::Completions(args) => commands::completions::run(args),
        Command::Man => commands::man::run(),
        Command::Schema => commands::schema::run(),
    }
}
