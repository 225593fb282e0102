//! `promote_from` and `require_verified` as written in the example: verification is required
//! by default for a promoted environment, can be turned off, and means nothing (an error at
//! the key) without an upstream.
#![allow(clippy::unwrap_used)]

use envctl_spec::{CivilDate, SourceFile, check};

const WEBAPP: &str = include_str!("../../../environments/webapp.toml");

fn checked(edits: &[(&str, &str)]) -> (Vec<String>, Option<envctl_spec::Spec>) {
    let mut text = WEBAPP.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the example has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    let source = SourceFile::new("envctl.toml", &text).with_file(
        "dashboards/main.json",
        Ok(include_str!("../../../environments/dashboards/main.json").into()),
    );
    let result = check(&source, CivilDate::new(2026, 6, 1).unwrap());
    let errors = result
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.render(&source))
        .collect();
    (errors, result.spec)
}

#[test]
fn a_promoted_environment_requires_a_verified_upstream_unless_turned_off() {
    let (errors, spec) = checked(&[]);
    assert!(errors.is_empty(), "{errors:#?}");
    let spec = spec.unwrap();
    assert!(spec.environment("production").unwrap().require_verified);
    assert!(
        !spec.environment("staging").unwrap().require_verified,
        "no upstream"
    );

    let (errors, spec) = checked(&[(
        "protected = true ",
        "require_verified = false\nprotected = true ",
    )]);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        !spec
            .unwrap()
            .environment("production")
            .unwrap()
            .require_verified
    );
}

#[test]
fn require_verified_without_promote_from_is_an_error_at_the_key() {
    let (errors, spec) = checked(&[(
        "[environments.staging]\n",
        "[environments.staging]\nrequire_verified = true\n",
    )]);
    assert!(spec.is_none());
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = &errors[0];
    assert!(
        error.contains("error: `require_verified` in environment `staging` without `promote_from`"),
        "{error}"
    );
    assert!(error.contains("--> envctl.toml:10:20"), "{error}");
    assert!(error.contains("hint: set `promote_from"), "{error}");
}
