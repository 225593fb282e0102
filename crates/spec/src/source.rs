//! The spec's text, and positions in it.
//!
//! Owns [`SourceFile`] (with the files next to it that the spec names, read by the caller:
//! nothing here opens a file) and the mapping from byte offsets ([`Span`]s) to 1-based lines and
//! columns. Invariants: `text` is valid UTF-8 (it is a `String`); columns count characters,
//! not bytes; every lookup clamps out-of-range offsets instead of panicking, so a span from any
//! source can be rendered against any text.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;
use crate::model::Span;

/// A spec file: where it came from (for messages only), its text, and the files next to it
/// that it names (dashboard bodies), as its caller read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path shown in diagnostics (`environments/webapp.toml`); never opened here.
    pub path: String,
    pub text: String,
    /// The files the spec names ([`crate::companion_paths`]), by the path written in the
    /// spec (relative to the spec's folder): their text, or why they could not be read. A
    /// named file missing here is reported as unreadable.
    pub files: BTreeMap<String, Result<String, String>>,
}

impl SourceFile {
    /// A source from text already known to be UTF-8.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
            files: BTreeMap::new(),
        }
    }

    /// The source with file `path` (as the spec writes it) read as `contents`, or not read
    /// for the reason given.
    pub fn with_file(mut self, path: impl Into<String>, contents: Result<String, String>) -> Self {
        self.files.insert(path.into(), contents);
        self
    }

    /// A source from the bytes of a file.
    ///
    /// Non-UTF-8 input becomes an error [`Diagnostic`] whose span points at the first invalid
    /// byte. Render it against [`SourceFile::lossy`] of the same bytes: the lossy text is
    /// identical up to that byte, so the span lands on the replacement character.
    pub fn from_bytes(path: impl Into<String>, bytes: Vec<u8>) -> Result<SourceFile, Diagnostic> {
        let path = path.into();
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile::new(path, text)),
            Err(err) => {
                let start = err.utf8_error().valid_up_to();
                let byte = err.as_bytes().get(start).copied().unwrap_or_default();
                let span = Span {
                    start,
                    end: start + char::REPLACEMENT_CHARACTER.len_utf8(),
                };
                Err(Diagnostic::error("the spec is not valid UTF-8")
                    .at(span, format!("byte `0x{byte:02X}` is not UTF-8"))
                    .with_hint("save the file as UTF-8"))
            }
        }
    }

    /// A source whose invalid UTF-8 sequences are replaced by `U+FFFD`: the text to render the
    /// diagnostic of [`SourceFile::from_bytes`] against.
    pub fn lossy(path: impl Into<String>, bytes: &[u8]) -> SourceFile {
        SourceFile::new(path, String::from_utf8_lossy(bytes).into_owned())
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset);
        let before = self.text.get(..offset).unwrap_or_default();
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }

    /// The text of the line holding byte `offset`, without its line break, and the byte offset
    /// where that line starts.
    pub(crate) fn line_at(&self, offset: usize) -> (&str, usize) {
        let offset = floor_char_boundary(&self.text, offset);
        let start = self
            .text
            .get(..offset)
            .and_then(|before| before.rfind('\n'))
            .map_or(0, |i| i + 1);
        let rest = self.text.get(start..).unwrap_or_default();
        let line = rest.split('\n').next().unwrap_or_default();
        (line.strip_suffix('\r').unwrap_or(line), start)
    }

    /// The text a span covers, if the span lies within the text on character boundaries.
    pub(crate) fn slice(&self, span: Span) -> Option<&str> {
        self.text.get(span.start..span.end)
    }
}

/// The largest character boundary at or before `offset`, clamped to the text.
pub(crate) fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let source = SourceFile::new("x.toml", "a = 1\nné = \"é\" x");
        let offset = source.text.find('x').expect("present");
        assert_eq!(source.line_col(offset), (2, 10));
    }

    #[test]
    fn offsets_past_the_end_clamp_to_the_last_position() {
        let source = SourceFile::new("x.toml", "ab\ncd");
        assert_eq!(source.line_col(999), (2, 3));
        assert_eq!(source.line_at(999), ("cd", 3));
    }

    #[test]
    fn invalid_utf8_points_at_the_first_bad_byte() {
        let bytes = b"[project]\nname = \"we\xFFb\"\n".to_vec();
        let diagnostic = SourceFile::from_bytes("x.toml", bytes.clone()).expect_err("invalid");
        let lossy = SourceFile::lossy("x.toml", &bytes);
        let span = diagnostic.span.expect("has a span");
        assert_eq!(lossy.line_col(span.start), (2, 11));
        assert_eq!(lossy.slice(span), Some("\u{FFFD}"));
    }

    #[test]
    fn line_text_drops_the_carriage_return() {
        let source = SourceFile::new("x.toml", "a = 1\r\nb = 2\r\n");
        assert_eq!(source.line_at(8).0, "b = 2");
    }
}
