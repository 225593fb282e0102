//! `envctl fmt [--check]`: rewrite the spec file in the canonical layout (comments kept), or,
//! with `--check`, say whether it is in it (for CI).
//!
//! Invariants: the file is rewritten only when the formatted text is the same TOML document
//! (otherwise it is a bug of the formatter, refused and reported, nothing written); it is
//! replaced at once (written beside it, then renamed), never left half-written.

use anyhow::Context;

use crate::args::{FmtArgs, GlobalArgs};
use crate::errors::{Outcome, UserError};

pub fn run(global: &GlobalArgs, args: FmtArgs) -> anyhow::Result<Outcome> {
    let path = &global.spec;
    let text = String::from_utf8(crate::context::read_spec_file(path)?).map_err(|_| {
        UserError::new(format!("`{}` is not UTF-8 text", path.display()))
            .hint("a spec is a UTF-8 TOML file")
    })?;
    let formatted = envctl_spec::format::format(&text);
    if formatted == text {
        eprintln!("`{}` is formatted", path.display());
        return Ok(Outcome::Success);
    }
    if !envctl_spec::format::parses(&text) {
        return Err(
            UserError::new(format!("`{}` is not valid TOML", path.display()))
                .hint(format!(
                    "`envctl validate --spec {}` shows where",
                    path.display()
                ))
                .into(),
        );
    }
    if !envctl_spec::format::same_document(&text, &formatted) {
        return Err(UserError::new(format!(
            "formatting `{}` would change what it says; nothing was written",
            path.display()
        ))
        .hint("this is a bug of `envctl fmt`: please report it with the file")
        .into());
    }
    let changed = text
        .lines()
        .zip(formatted.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| text.lines().count().min(formatted.lines().count()))
        + 1;
    if args.check {
        crate::style::eprintln(&format!(
            "error: `{}` is not in the canonical layout (first difference at line {changed})",
            path.display()
        ));
        crate::style::eprintln(&format!("hint: run `envctl fmt --spec {}`", path.display()));
        return Ok(Outcome::ChangesPending);
    }
    let staging = path.with_extension("toml.envctl-fmt");
    std::fs::write(&staging, &formatted)
        .with_context(|| format!("failed to write `{}`", staging.display()))?;
    std::fs::rename(&staging, path)
        .with_context(|| format!("failed to replace `{}`", path.display()))?;
    eprintln!("formatted `{}`", path.display());
    Ok(Outcome::Success)
}
