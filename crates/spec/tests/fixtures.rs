//! Snapshot tests of diagnostics, as a user sees them.
//!
//! Each `tests/fixtures/<name>.toml` is checked (as of [`TODAY`]) and every diagnostic is
//! rendered with the path `fixtures/<name>.toml`; the result must equal its `insta` snapshot
//! `tests/fixtures/snapshots/<name>.snap`. After a deliberate change, review and accept with
//! `cargo insta review` (or rerun with `INSTA_UPDATE=always` and read the git diff).
//! Files are read as bytes, so a fixture may hold invalid UTF-8; the files a fixture names
//! (dashboard bodies) are read from `tests/fixtures/` too.

use std::fs;
use std::path::{Path, PathBuf};

use envctl_spec::{CivilDate, SourceFile, check};

/// The date fixtures are checked on, so expiry dates in them stay meaningful.
const TODAY: CivilDate = CivilDate {
    year: 2026,
    month: 6,
    day: 1,
};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every diagnostic of the fixture, rendered and separated by blank lines.
fn render(name: &str, bytes: Vec<u8>) -> String {
    let path = format!("fixtures/{name}.toml");
    let source = match SourceFile::from_bytes(path.clone(), bytes.clone()) {
        Ok(source) => source,
        Err(diagnostic) => return diagnostic.render(&SourceFile::lossy(path, &bytes)),
    };
    // The files it names, read as the CLI reads them: relative to the spec's folder.
    let source =
        envctl_spec::companion_paths(&source)
            .into_iter()
            .fold(source, |source, relative| {
                let contents = fs::read_to_string(fixtures_dir().join(&relative))
                    .map_err(|_| format!("cannot read `{relative}`: no such file"));
                source.with_file(relative, contents)
            });
    let checked = check(&source, TODAY);
    assert_eq!(
        checked.spec.is_some(),
        !checked.has_errors(),
        "{name}: a spec must come back exactly when there is no error"
    );
    checked
        .diagnostics
        .iter()
        .map(|d| d.render(&source))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fixtures_match_their_snapshots() {
    let snapshots = fixtures_dir().join("snapshots");
    let mut entries: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no fixtures found");
    // A snapshot whose fixture is gone tests nothing.
    for snapshot in fs::read_dir(&snapshots).into_iter().flatten() {
        let snapshot = snapshot.expect("readable entry").path();
        let Some(stem) = snapshot.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let stem = stem.trim_end_matches(".snap");
        assert!(
            fixtures_dir().join(format!("{stem}.toml")).exists(),
            "{} has no fixtures/{stem}.toml",
            snapshot.display()
        );
    }
    for path in &entries {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a fixture name");
        let actual = render(stem, fs::read(path).expect("readable fixture"));
        assert!(
            !actual.is_empty(),
            "{stem}.toml produces no diagnostic: it tests nothing"
        );
        insta::with_settings!({
            snapshot_path => "fixtures/snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("diagnostics of fixtures/{stem}.toml"),
        }, {
            insta::assert_snapshot!(stem, actual);
        });
    }
}
