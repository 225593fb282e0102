//! No input may panic: random bytes, and random mutations of the shipped example, go through
//! `SourceFile::from_bytes`, `check`, rendering of every diagnostic, and `expand` of every
//! environment.

use envctl_spec::{CivilDate, SourceFile, check};
use proptest::prelude::*;
use proptest::sample::Index;

const WEBAPP: &str = include_str!("../../../environments/webapp.toml");

const TODAY: CivilDate = CivilDate {
    year: 2026,
    month: 6,
    day: 1,
};

/// Everything a caller does with a spec; panics are the failures looked for.
fn exercise(bytes: Vec<u8>) {
    let source = match SourceFile::from_bytes("fuzz.toml", bytes.clone()) {
        Ok(source) => source,
        Err(diagnostic) => {
            assert!(diagnostic.is_error());
            let _ = diagnostic.render(&SourceFile::lossy("fuzz.toml", &bytes));
            return;
        }
    };
    let source = source.with_file(
        "dashboards/main.json",
        Ok(include_str!("../../../environments/dashboards/main.json").into()),
    );
    let checked = check(&source, TODAY);
    for diagnostic in &checked.diagnostics {
        let rendered = diagnostic.render(&source);
        assert!(rendered.starts_with("error: ") || rendered.starts_with("warning: "));
    }
    assert_eq!(checked.spec.is_some(), !checked.has_errors());
    if let Some(spec) = checked.spec {
        for environment in spec.environment_names() {
            let state = spec
                .expand(environment)
                .expect("a declared environment expands");
            assert_eq!(state.parity_digest, spec.parity_digest());
        }
    }
}

/// Values that stress the checks when they replace the value of a `key = value` line.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "101",
    "9223372036854775807",
    "99999999999999999999",
    "0x7f",
    "1e400",
    "nan",
    "true",
    "\"\"",
    "\"-\"",
    "\"main\"",
    "\"a\"",
    "\"10.0.0.0/16\"",
    "\"10.0.1.0/24\"",
    "\"0.0.0.0/0\"",
    "\"us-east-1\"",
    "\"ami-0c55b159cbfafe1f0\"",
    "\"15\"",
    "\"23:45-00:15\"",
    "\"é\"",
    "[]",
    "[\"a\", \"a\"]",
    "[\"b\"]",
    "[{}]",
    "[{ protocol = \"all\", cidr = \"0.0.0.0/0\" }]",
    "[{ protocol = \"tcp\", ports = \"1-2\", from_group = \"db\" }]",
    "{}",
    "{ count = 1 }",
    "{ staging = 7 }",
    "2020-01-01",
    "2027-02-30",
    "1979-05-27T07:32:00Z",
    "07:32:00",
];

/// Text to insert, from TOML's own punctuation to whole table headers.
const SNIPPETS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    "=",
    ".",
    ",",
    "\"",
    "'",
    "#",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\u{0}",
    "é",
    "[[differences]]\n",
    "[environments.qa]\n",
    "[vpc.x]\n",
    "[instance.app]\n",
    "instance.app = { count = 3 }\n",
    "promote_from = \"production\"\n",
    "from_group = \"db\"",
    "\"\"\"",
    "'''",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteChar(Index),
    DuplicateChar(Index),
    Insert(Index, Index),
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    ReplaceValue(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteChar),
        any::<Index>().prop_map(Mutation::DuplicateChar),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::ReplaceValue(a, b)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    match mutation {
        Mutation::DeleteChar(at) if !chars.is_empty() => {
            chars.remove(at.index(chars.len()));
        }
        Mutation::DuplicateChar(at) if !chars.is_empty() => {
            let at = at.index(chars.len());
            chars.insert(at, chars[at]);
        }
        Mutation::Insert(at, snippet) => {
            let at = at.index(chars.len() + 1);
            let snippet = SNIPPETS[snippet.index(SNIPPETS.len())];
            chars.splice(at..at, snippet.chars());
        }
        Mutation::DeleteLine(at) => {
            lines.remove(at.index(lines.len()));
            return lines.join("\n");
        }
        Mutation::DuplicateLine(at) => {
            let at = at.index(lines.len());
            lines.insert(at, lines[at].clone());
            return lines.join("\n");
        }
        Mutation::SwapLines(a, b) => {
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
            return lines.join("\n");
        }
        Mutation::ReplaceValue(line, value) => {
            let candidates: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(" = ") && !lines[i].starts_with('#'))
                .collect();
            if !candidates.is_empty() {
                let i = candidates[line.index(candidates.len())];
                let key = lines[i].split(" = ").next().unwrap_or_default().to_string();
                lines[i] = format!("{key} = {}", VALUES[value.index(VALUES.len())]);
            }
            return lines.join("\n");
        }
        _ => {}
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(bytes);
    }

    #[test]
    fn random_toml_like_text_never_panics(
        text in proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(SNIPPETS.to_vec()).prop_map(str::to_string),
                proptest::sample::select(VALUES.to_vec()).prop_map(str::to_string),
                "[a-z_]{1,12}",
            ],
            0..60,
        )
    ) {
        exercise(text.concat().into_bytes());
    }

    #[test]
    fn mutations_of_the_example_never_panic(
        mutations in proptest::collection::vec(mutation(), 1..6)
    ) {
        let mut text = WEBAPP.to_string();
        for m in &mutations {
            text = apply(&text, m);
        }
        exercise(text.into_bytes());
    }
}

#[test]
fn the_unmutated_example_is_exercised_cleanly() {
    let checked = check(
        &SourceFile::new("webapp.toml", WEBAPP).with_file(
            "dashboards/main.json",
            Ok(include_str!("../../../environments/dashboards/main.json").into()),
        ),
        TODAY,
    );
    assert!(checked.diagnostics.is_empty());
    exercise(WEBAPP.as_bytes().to_vec());
}
