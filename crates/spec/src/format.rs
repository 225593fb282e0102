//! `envctl fmt`: the canonical layout of a spec file, comments kept.
//!
//! Owns [`format`]. The layout: no trailing whitespace; `\n` line ends and one at the end;
//! no blank line at the start; never two blank lines in a row; one blank line before every
//! table header (`[vpc.main]`, `[[differences]]`), or before the comment lines right above it;
//! `key = value` with one space on each side of the first `=`. Invariants: nothing inside a
//! string, a multi-line array or a multi-line inline value is touched, comments are kept
//! where they are, the order of tables and keys is the author's; formatting is idempotent;
//! the caller checks that the formatted text means the same spec (see `envctl fmt`).

/// Where a line starts, as far as the layout is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Blank,
    Comment,
    Header,
    /// A key/value line, or the continuation of a value spanning lines.
    Other,
}

/// What scanning a line left open for the next one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Open {
    /// Depth of `[`/`{` not yet closed.
    depth: usize,
    /// Inside a `"""` or `'''` string: its quote.
    triple: Option<char>,
}

/// Scans `line` from `open`; returns what stays open after it, and the byte offset of the
/// first `=` outside strings and brackets, if the line starts outside any (a key/value line).
fn scan(line: &str, mut open: Open) -> (Open, Option<usize>) {
    let starts_outside = open == Open::default();
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut equals = None;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if let Some(quote) = open.triple {
            if line[i..].starts_with(&quote.to_string().repeat(3)) {
                open.triple = None;
                i += 3;
            } else {
                i += if quote == '"' && c == '\\' { 2 } else { 1 };
            }
            continue;
        }
        match c {
            '#' => break,
            '"' | '\'' => {
                if line[i..].starts_with(&c.to_string().repeat(3)) {
                    open.triple = Some(c);
                    i += 3;
                    continue;
                }
                // A one-line string: skip to its closing quote.
                i += 1;
                while i < bytes.len() && bytes[i] as char != c {
                    i += if c == '"' && bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            '[' | '{' => open.depth += 1,
            ']' | '}' => open.depth = open.depth.saturating_sub(1),
            '=' if starts_outside && open.depth == 0 && equals.is_none() => equals = Some(i),
            _ => {}
        }
        i += 1;
    }
    (open, equals)
}

/// Whether `text` is a TOML document at all.
pub fn parses(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok()
}

/// Whether `a` and `b` are the same TOML document (same tables, keys and values, whatever
/// the layout and comments); `false` when either does not parse.
pub fn same_document(a: &str, b: &str) -> bool {
    match (a.parse::<toml::Table>(), b.parse::<toml::Table>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `text` in the canonical layout (see the module docs).
pub fn format(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<(Line, String)> = Vec::new();
    let mut open = Open::default();
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if open != Open::default() {
            // Inside a value that spans lines: kept as written (trailing spaces too, inside a
            // multi-line string they are content).
            let (next, _) = scan(raw, open);
            let kept = if open.triple.is_some() {
                raw.to_string()
            } else {
                raw.trim_end().to_string()
            };
            open = next;
            lines.push((Line::Other, kept));
            continue;
        }
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        let kind = if trimmed.is_empty() {
            Line::Blank
        } else if trimmed.starts_with('#') {
            Line::Comment
        } else if trimmed.starts_with('[') {
            Line::Header
        } else {
            Line::Other
        };
        let (next, equals) = scan(line, open);
        open = next;
        let written = match (kind, equals) {
            (Line::Other, Some(at)) => {
                let (key, value) = line.split_at(at);
                format!("{} = {}", key.trim_end(), value[1..].trim_start())
            }
            (Line::Blank, _) => String::new(),
            _ => line.to_string(),
        };
        lines.push((kind, written));
    }
    let mut out: Vec<(Line, String)> = Vec::new();
    for (index, (kind, line)) in lines.iter().enumerate() {
        match kind {
            Line::Blank => {
                if out.is_empty() || out.last().is_some_and(|(k, _)| *k == Line::Blank) {
                    continue;
                }
                out.push((Line::Blank, String::new()));
            }
            Line::Header | Line::Comment => {
                // A header, or the first of the comment lines right above one, follows a
                // blank line (unless it opens the file).
                let opens_block = *kind == Line::Header || {
                    let rest = &lines[index..];
                    let above_header = rest
                        .iter()
                        .find(|(k, _)| *k != Line::Comment)
                        .is_some_and(|(k, _)| *k == Line::Header);
                    above_header && out.last().is_some_and(|(k, _)| *k != Line::Comment)
                };
                if opens_block
                    && out
                        .last()
                        .is_some_and(|(k, _)| *k != Line::Blank && *k != Line::Comment)
                {
                    out.push((Line::Blank, String::new()));
                }
                out.push((*kind, line.clone()));
            }
            Line::Other => out.push((*kind, line.clone())),
        }
    }
    while out.last().is_some_and(|(k, _)| *k == Line::Blank) {
        out.pop();
    }
    let mut text: String = out
        .into_iter()
        .map(|(_, line)| line)
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_blank_lines_and_line_ends_become_canonical() {
        let messy = "\n\n[project]\r\nname=\"webapp\"   \nregion =   \"us-east-1\" # where\n\n\n\n# the network\n[vpc.main]\ncidr = \"10.0.0.0/16\"\n[subnet.a]\nvpc = \"main\"\n\n\n";
        assert_eq!(
            format(messy),
            "[project]\nname = \"webapp\"\nregion = \"us-east-1\" # where\n\n# the network\n[vpc.main]\ncidr = \"10.0.0.0/16\"\n\n[subnet.a]\nvpc = \"main\"\n"
        );
    }

    #[test]
    fn strings_and_values_spanning_lines_are_kept_as_written() {
        let text = "[security_group.app]\ningress = [\n  { protocol = \"tcp\",   ports = \"443\", cidr = \"10.0.0.0/8\" },   \n    # a comment inside\n]\n[parameter.motd]\nvalue = \"\"\"\nline = one  \n[not a header]\n\"\"\"\nx=\"a=b # not a comment\"\n";
        let formatted = format(text);
        assert!(formatted.contains("  { protocol = \"tcp\",   ports = \"443\", cidr = \"10.0.0.0/8\" },\n    # a comment inside\n]"), "{formatted}");
        assert!(
            formatted.contains("value = \"\"\"\nline = one  \n[not a header]\n\"\"\""),
            "{formatted}"
        );
        assert!(
            formatted.contains("\nx = \"a=b # not a comment\"\n"),
            "{formatted}"
        );
        assert!(formatted.contains("]\n\n[parameter.motd]"), "{formatted}");
    }

    #[test]
    fn formatting_is_idempotent() {
        let text = "# top\n[a]\nx=1\n\n\n# about b\n# more\n[[b]]\ny = [\n 1,\n]\n";
        let once = format(text);
        assert_eq!(format(&once), once);
        assert_eq!(
            once,
            "# top\n[a]\nx = 1\n\n# about b\n# more\n[[b]]\ny = [\n 1,\n]\n"
        );
    }

    #[test]
    fn the_example_is_in_the_canonical_layout() {
        let example = include_str!("../../../environments/webapp.toml");
        assert_eq!(format(example), example);
        let messy = example.replace("cidr = \"10.0.0.0/16\"", "cidr=\"10.0.0.0/16\"   ");
        assert_ne!(messy, example);
        assert_eq!(format(&messy), example);
        assert!(same_document(&messy, example));
        assert!(!same_document(
            example,
            &example.replace("10.0.0.0/16", "10.9.0.0/16")
        ));
    }
}
