//! Placeholders in text values: `${project}`, `${environment}`, `${region}`.
//!
//! Owns which placeholders a templated field may use, their check (located at the field) and
//! their substitution at expansion. Invariants: a template is checked before it is expanded,
//! so substitution never meets an unknown placeholder; the parity digest hashes the template,
//! not its expansion, so two environments whose values differ only by their own names are at
//! parity; [`unsubstitute`] is how live values of two environments are compared the same way.

/// The placeholders every templated field may use.
pub const PLACEHOLDERS: [&str; 3] = ["project", "environment", "region"];

/// What the placeholders of one environment stand for.
#[derive(Debug, Clone, Copy)]
pub struct Placeholders<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub region: &'a str,
}

impl Placeholders<'_> {
    fn value(&self, name: &str) -> Option<&str> {
        match name {
            "project" => Some(self.project),
            "environment" => Some(self.environment),
            "region" => Some(self.region),
            _ => None,
        }
    }

    /// `text` with every `${name}` replaced by its value (unknown ones are left as written;
    /// a checked template has none).
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find('}') {
                Some(end) => match self.value(&after[..end]) {
                    Some(value) => {
                        out.push_str(value);
                        rest = &after[end + 1..];
                    }
                    None => {
                        out.push_str("${");
                        rest = after;
                    }
                },
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// `text` with this environment's name, then the project's name and the region, written back
/// as placeholders: what parity compares, so that `staging-jaeger:6831` and
/// `production-jaeger:6831` are the same value.
pub fn unsubstitute(text: &str, placeholders: &Placeholders<'_>) -> String {
    let mut out = text.to_string();
    for name in ["environment", "project", "region"] {
        if let Some(value) = placeholders.value(name).filter(|v| !v.is_empty()) {
            out = out.replace(value, &format!("${{{name}}}"));
        }
    }
    out
}

/// A problem with one placeholder of a template: the byte range (inside the text) and what
/// is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateProblem {
    pub start: usize,
    pub end: usize,
    pub label: String,
}

/// Checks every `${...}` of `text` against `allowed`.
pub(crate) fn check(text: &str, allowed: &[&str]) -> Vec<TemplateProblem> {
    let mut problems = Vec::new();
    let mut offset = 0;
    while let Some(found) = text[offset..].find("${") {
        let start = offset + found;
        match text[start + 2..].find('}') {
            Some(len) => {
                let name = &text[start + 2..start + 2 + len];
                let end = start + 3 + len;
                if !allowed.contains(&name) {
                    problems.push(TemplateProblem {
                        start,
                        end,
                        label: format!("`${{{name}}}` is not a placeholder envctl knows"),
                    });
                }
                offset = end;
            }
            None => {
                problems.push(TemplateProblem {
                    start,
                    end: text.len(),
                    label: "`${` is never closed with `}`".to_string(),
                });
                break;
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGING: Placeholders<'static> = Placeholders {
        project: "webapp",
        environment: "staging",
        region: "us-east-1",
    };

    #[test]
    fn placeholders_are_substituted_and_written_back() {
        let text = "${environment}-jaeger:6831/${project}/${region}";
        let expanded = STAGING.substitute(text);
        assert_eq!(expanded, "staging-jaeger:6831/webapp/us-east-1");
        assert_eq!(unsubstitute(&expanded, &STAGING), text);
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_problems() {
        assert!(check("${environment}-x", &PLACEHOLDERS).is_empty());
        let problems = check("a ${env} b ${region", &PLACEHOLDERS);
        assert_eq!(problems.len(), 2);
        assert_eq!((problems[0].start, problems[0].end), (2, 8));
        assert!(problems[1].label.contains("never closed"));
    }

    #[test]
    fn text_without_placeholders_is_left_alone() {
        assert_eq!(STAGING.substitute("INFO"), "INFO");
        assert_eq!(STAGING.substitute("cost $5 {x}"), "cost $5 {x}");
    }
}
