//! Snapshot tests of diagnostics, as a user sees them.
//!
//! Each `tests/fixtures/<name>.toml` is checked (as of [`TODAY`]) and every diagnostic is
//! rendered with the path `fixtures/<name>.toml`; the result must equal `<name>.stderr`. Run
//! with `ENVCTL_BLESS=1` to rewrite the `.stderr` files, then review the changes by eye.
//! Files are read as bytes, so a fixture may hold invalid UTF-8.

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
    let bless = std::env::var_os("ENVCTL_BLESS").is_some_and(|v| v == "1");
    let mut entries: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in &entries {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => {}
            Some("stderr") => {
                if !path.with_extension("toml").exists() {
                    failures.push(format!("{stem}.stderr has no {stem}.toml"));
                }
                continue;
            }
            _ => continue,
        }
        count += 1;
        let actual = render(stem, fs::read(path).expect("readable fixture"));
        if actual.is_empty() {
            failures.push(format!(
                "{stem}.toml produces no diagnostic: it tests nothing"
            ));
            continue;
        }
        let snapshot = path.with_extension("stderr");
        if bless {
            fs::write(&snapshot, &actual).expect("writable snapshot");
            continue;
        }
        match fs::read_to_string(&snapshot) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{stem}: rendered diagnostics differ from {stem}.stderr\n--- expected\n{expected}\n--- actual\n{actual}"
            )),
            Err(_) => failures.push(format!(
                "{stem}.stderr is missing; run with ENVCTL_BLESS=1\n--- actual\n{actual}"
            )),
        }
    }
    assert!(count > 0, "no fixtures found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
