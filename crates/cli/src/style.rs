//! Color for people at a terminal, and none for anyone else.
//!
//! Owns [`Palette`] (whether one stream gets color, and the styles of the `error:`, `warning:`
//! and `hint:` prefixes and of plan symbols), [`no_color`] and [`eprint`]. Invariants: color
//! only decorates, so every text reads the same with the escapes removed; a stream gets color
//! only when it is a terminal, `NO_COLOR` is unset or empty and `TERM` is not `dumb`; data for
//! pipelines (JSON, Markdown) is never colored.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use envctl_engine::Action;

/// `--color`, once `main` has read it.
static CHOICE: std::sync::OnceLock<crate::args::ColorChoice> = std::sync::OnceLock::new();

/// Records `--color` for every palette of the run.
pub fn set_choice(choice: crate::args::ColorChoice) {
    let _ = CHOICE.set(choice);
}

fn choice() -> crate::args::ColorChoice {
    CHOICE.get().copied().unwrap_or_default()
}

/// Whether the user asked for no color: `--color never`, `NO_COLOR` set and not empty
/// (no-color.org), or a terminal that cannot show it (`TERM=dumb`). `--color always` wins
/// over the variables.
pub fn no_color() -> bool {
    match choice() {
        crate::args::ColorChoice::Never => true,
        crate::args::ColorChoice::Always => false,
        crate::args::ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
                || std::env::var_os("TERM").is_some_and(|t| t == "dumb")
        }
    }
}

/// How one output stream is decorated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    enabled: bool,
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();

impl Palette {
    /// No color at all.
    #[cfg(test)]
    pub const PLAIN: Palette = Palette { enabled: false };

    /// Every style on, whatever the stream (for tests of the colored rendering).
    #[cfg(test)]
    pub const COLORED: Palette = Palette { enabled: true };

    /// The palette of stdout.
    pub fn stdout() -> Palette {
        Palette::when(std::io::stdout().is_terminal())
    }

    /// The palette of stderr.
    pub fn stderr() -> Palette {
        Palette::when(std::io::stderr().is_terminal())
    }

    fn when(terminal: bool) -> Palette {
        let always = choice() == crate::args::ColorChoice::Always;
        Palette {
            enabled: (terminal || always) && !no_color(),
        }
    }

    /// Whether this palette writes escapes (logs follow the same rule).
    pub fn enabled(self) -> bool {
        self.enabled
    }

    fn paint(self, style: Style, text: &str) -> String {
        if self.enabled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// The symbol shown before an address in a plan (`+`, `~`, `-/+`, `-`), right-aligned in
    /// three columns.
    pub fn action(self, action: Action) -> String {
        let style = match action {
            Action::Create => AnsiColor::Green.on_default(),
            Action::Update => AnsiColor::Yellow.on_default(),
            Action::Replace(_) => AnsiColor::Magenta.on_default(),
            Action::Delete => AnsiColor::Red.on_default(),
        }
        .bold();
        format!(
            "{:>width$}",
            self.paint(style, action.symbol()),
            width = 3 + self.escape_len(style)
        )
    }

    /// The length the escapes around a text painted with `style` add.
    fn escape_len(self, style: Style) -> usize {
        if self.enabled {
            self.paint(style, "").len()
        } else {
            0
        }
    }

    /// `text` with the `error:`, `warning:` and `hint:` (or `= hint:`) that start its lines,
    /// after any indentation, painted.
    pub fn prefixes(self, text: &str) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len() + 32);
        for line in text.split_inclusive('\n') {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            let (lead, rest) = match body.strip_prefix("= ") {
                Some(rest) => ("= ", rest),
                None => ("", body),
            };
            let styled = [("error:", ERROR), ("warning:", WARNING), ("hint:", HINT)]
                .into_iter()
                .find(|(prefix, _)| {
                    rest.starts_with(prefix) && (lead.is_empty() || *prefix == "hint:")
                });
            match styled {
                Some((prefix, style)) => {
                    out.push_str(indent);
                    out.push_str(lead);
                    out.push_str(&self.paint(style, prefix));
                    out.push_str(&rest[prefix.len()..]);
                }
                None => out.push_str(line),
            }
        }
        out
    }
}

/// Writes a message to stderr, its prefixes colored when stderr is a terminal. A failed write
/// to stderr has nowhere to be reported, so it is ignored.
pub fn eprint(text: &str) {
    let text = Palette::stderr().prefixes(text);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// [`eprint`] with a newline.
pub fn eprintln(text: &str) {
    eprint(&format!("{text}\n"));
}

/// `text` without ANSI escape sequences: what a reader without color sees.
#[cfg(test)]
pub fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_painted_only_at_the_start_of_lines() {
        let text =
            "error: failed\n  = hint: try again\nhint: or this\nsee error: here\nwarning: w\n";
        let colored = Palette::COLORED.prefixes(text);
        assert_ne!(colored, text);
        assert_eq!(strip(&colored), text);
        assert!(colored.contains("see error: here"), "{colored}");
        assert_eq!(Palette::PLAIN.prefixes(text), text);
    }

    #[test]
    fn colored_symbols_keep_their_alignment() {
        for action in [
            Action::Create,
            Action::Update,
            Action::Replace(envctl_engine::ReplaceOrder::CreateBeforeDestroy),
            Action::Delete,
        ] {
            let plain = Palette::PLAIN.action(action);
            assert_eq!(plain.len(), 3);
            assert_eq!(strip(&Palette::COLORED.action(action)), plain);
        }
    }
}
