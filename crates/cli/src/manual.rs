//! The manual page, generated from the command-line definitions.
//!
//! Owns [`man_page`]: one roff page with the global options, every command (synopsis, options,
//! examples), the exit codes and the environment variables. Invariants: everything comes from
//! `args` (clap's definitions, `after_help` examples, [`EXIT_CODES`]) except the list of
//! environment variables read outside clap; the page is the same on every run (no date), so
//! the committed `docs/envctl.1` can be checked against it.

use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::args::{Cli, EXIT_CODES};

/// Environment variables envctl reads besides those of its flags (which the options list).
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "AWS_ENDPOINT_URL",
        "send every AWS call to this endpoint, like --endpoint-url",
    ),
    (
        "AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...",
        "credentials, from the standard AWS chain (environment, profiles, SSO)",
    ),
    (
        "NO_COLOR",
        "when set, no color and no progress bars, even on a terminal",
    ),
    (
        "RUST_LOG",
        "log filter directives, such as envctl_providers=debug; added to those of -v",
    ),
];

/// The whole manual page, in roff.
pub fn man_page() -> anyhow::Result<String> {
    let mut cli = Cli::command();
    cli.build();
    let top = Man::new(cli.clone());
    let mut pieces: Vec<String> = Vec::new();
    for render in [
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ] {
        pieces.push(section(&top, render, true)?);
    }

    let mut commands = Roff::new();
    commands.control("SH", ["COMMANDS"]);
    pieces.push(commands.render());
    for sub in cli.get_subcommands() {
        // The global options are listed once, above.
        let sub = sub.clone().mut_args(|arg| {
            if arg.is_global_set() {
                arg.hide(true)
            } else {
                arg
            }
        });
        let mut heading = Roff::new();
        heading.control("SS", [format!("envctl {}", sub.get_name()).as_str()]);
        if let Some(about) = sub.get_about() {
            heading.text([roman(about.to_string())]);
        }
        heading.control("PP", []);
        pieces.push(heading.render());
        let man = Man::new(sub.clone());
        pieces.push(section(&man, Man::render_synopsis_section, false)?);
        if sub.get_arguments().any(|arg| !arg.is_hide_set()) {
            pieces.push(section(&man, Man::render_options_section, false)?);
        }
        if let Some(examples) = sub.get_after_help() {
            pieces.push(verbatim(&examples.to_string()));
        }
    }

    let mut status = Roff::new();
    status.control("SH", ["EXIT STATUS"]);
    pieces.push(status.render());
    let codes: Vec<&str> = EXIT_CODES.lines().skip(1).collect();
    pieces.push(verbatim(&codes.join("\n")));
    let mut environment = Roff::new();
    environment.control("SH", ["ENVIRONMENT"]);
    for (name, what) in ENVIRONMENT {
        environment.control("TP", []);
        environment.text([bold(*name)]);
        environment.text([roman(*what)]);
    }
    pieces.push(environment.render());
    pieces.push(section(&top, Man::render_version_section, true)?);

    // Every piece starts with the same preamble (how apostrophes print); keep one.
    let preamble = Roff::new().render();
    let mut page = preamble.clone();
    for piece in pieces {
        page.push_str(piece.strip_prefix(preamble.as_str()).unwrap_or(&piece));
    }
    Ok(page)
}

/// A section rendered by `render`; without its `.SH` heading lines unless `headings`.
fn section(
    man: &Man,
    render: fn(&Man, &mut dyn std::io::Write) -> std::io::Result<()>,
    headings: bool,
) -> anyhow::Result<String> {
    let mut out = Vec::new();
    render(man, &mut out)?;
    let text = String::from_utf8(out)?;
    Ok(text
        .split_inclusive('\n')
        .filter(|line| headings || !line.starts_with(".SH "))
        .collect())
}

/// Lines shown as written (examples, the exit codes).
fn verbatim(text: &str) -> String {
    let mut roff = Roff::new();
    roff.control("PP", []);
    roff.control("nf", []);
    for line in text.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
    roff.render()
}
