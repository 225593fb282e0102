//! Problems found in a spec, as values that accumulate, and their plain-text rendering.
//!
//! Owns [`Diagnostic`] and [`Severity`]. Invariants of every message written in this crate:
//! the summary starts lowercase, has no trailing period, puts literals in backticks and reads
//! well without color; a label describes the spanned text only; hints say what to do.
//! Rendering never panics, whatever the span.

use std::fmt::Write as _;

use crate::model::Span;
use crate::source::SourceFile;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The spec cannot be used.
    Error,
    /// The spec can be used, but something is likely not what the author meant.
    Warning,
}

impl Severity {
    /// The word that starts a rendered diagnostic.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// What is wrong, in one line.
    pub summary: String,
    /// Where: the offending key or value.
    pub span: Option<Span>,
    /// A short note printed under the spanned text.
    pub label: Option<String>,
    /// What to do about it; a hint may span several lines.
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// An error with no position yet.
    pub fn error(summary: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, summary.into())
    }

    /// A warning with no position yet.
    pub fn warning(summary: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, summary.into())
    }

    fn new(severity: Severity, summary: String) -> Diagnostic {
        Diagnostic {
            severity,
            summary,
            span: None,
            label: None,
            hints: Vec::new(),
        }
    }

    /// Places the diagnostic at `span`, with a label under it.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.span = Some(span);
        self.label = Some(label.into());
        self
    }

    /// Places the diagnostic at `span`, without a label.
    pub fn at_span(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    /// Adds a hint when there is one.
    pub fn with_optional_hint(mut self, hint: Option<String>) -> Diagnostic {
        self.hints.extend(hint);
        self
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic as plain text, ending with a newline:
    ///
    /// ```text
    /// error: unknown field `amii` in `instance.app`
    ///   --> environments/webapp.toml:62:1
    ///    |
    /// 62 | amii = "ami-0c55b159cbfafe1f0"
    ///    | ^^^^ unknown field
    ///    = hint: did you mean `ami`?
    /// ```
    ///
    /// A span covering several lines is underlined from its start to the end of its first
    /// line. Without a span, the location and snippet lines are left out.
    pub fn render(&self, source: &SourceFile) -> String {
        let mut out = format!("{}: {}\n", self.severity.as_str(), self.summary);
        let gutter = match self.span {
            Some(span) => {
                let (line, column) = source.line_col(span.start);
                let gutter = line.to_string().len();
                let (text, line_start) = source.line_at(span.start);
                let underline = underline(text, line_start, span);
                let pad = "";
                let _ = writeln!(out, "{pad:gutter$}--> {}:{line}:{column}", source.path);
                let _ = writeln!(out, "{pad:gutter$} |");
                let _ = writeln!(out, "{}", format!("{line} | {text}").trim_end());
                let label = self.label.as_deref().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{}",
                    format!("{pad:gutter$} | {underline} {label}").trim_end()
                );
                gutter
            }
            None => 1,
        };
        for hint in &self.hints {
            let mut lines = hint.lines();
            let first = lines.next().unwrap_or_default();
            let _ = writeln!(out, "{:gutter$} = hint: {first}", "");
            for line in lines {
                let _ = writeln!(
                    out,
                    "{}",
                    format!("{:gutter$}         {line}", "").trim_end()
                );
            }
        }
        out
    }
}

/// The padding and carets under `span` within the line `text` that starts at `line_start`.
/// Tabs in the padding are kept so the carets line up with the text above them.
fn underline(text: &str, line_start: usize, span: Span) -> String {
    let start = span.start.saturating_sub(line_start);
    let end = span
        .end
        .saturating_sub(line_start)
        .min(text.len())
        .max(start);
    let mut out = String::new();
    let mut carets = 0;
    for (offset, ch) in text.char_indices() {
        if offset < start {
            out.push(if ch == '\t' { '\t' } else { ' ' });
        } else if offset < end {
            carets += 1;
        }
    }
    out.push_str(&"^".repeat(carets.max(1)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceFile {
        SourceFile::new("env.toml", "[instance.app]\namii = \"x\"\n")
    }

    #[test]
    fn renders_location_snippet_label_and_hints() {
        let diagnostic = Diagnostic::error("unknown field `amii` in `instance.app`")
            .at(Span { start: 15, end: 19 }, "unknown field")
            .with_hint("did you mean `ami`?");
        assert_eq!(
            diagnostic.render(&source()),
            "error: unknown field `amii` in `instance.app`\n \
             --> env.toml:2:1\n  |\n2 | amii = \"x\"\n  | ^^^^ unknown field\n  \
             = hint: did you mean `ami`?\n"
        );
    }

    #[test]
    fn gutter_follows_the_width_of_the_line_number() {
        let text = format!("{}x = 1\n", "\n".repeat(99));
        let source = SourceFile::new("f.toml", text);
        let rendered = Diagnostic::warning("w")
            .at_span(Span {
                start: 99,
                end: 100,
            })
            .render(&source);
        assert_eq!(
            rendered,
            "warning: w\n   --> f.toml:100:1\n    |\n100 | x = 1\n    | ^\n"
        );
    }

    #[test]
    fn multi_line_spans_underline_to_the_end_of_the_first_line() {
        let source = SourceFile::new("f.toml", "a = [\n  1,\n]\n");
        let rendered = Diagnostic::error("e")
            .at(Span { start: 4, end: 12 }, "here")
            .render(&source);
        assert!(
            rendered.ends_with("1 | a = [\n  |     ^ here\n"),
            "{rendered}"
        );
    }

    #[test]
    fn without_span_only_summary_and_hints_are_rendered() {
        let rendered = Diagnostic::error("the spec declares no environments")
            .with_hint("add one:\n[environments.staging]")
            .render(&source());
        assert_eq!(
            rendered,
            "error: the spec declares no environments\n  = hint: add one:\n          \
             [environments.staging]\n"
        );
    }

    #[test]
    fn spans_outside_the_text_do_not_panic() {
        let rendered = Diagnostic::error("e")
            .at(
                Span {
                    start: 500,
                    end: 10,
                },
                "x",
            )
            .render(&source());
        assert!(rendered.contains("--> env.toml:3:1"), "{rendered}");
    }
}
