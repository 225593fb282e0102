//! "Did you mean" suggestions and the lists of names that messages show.
//!
//! Owns the edit distance and how close a name must be to be suggested. Invariant: work per
//! candidate is bounded by the shorter name's length times the threshold's band, so long
//! hostile names cannot make a check slow.

/// The candidate closest to `name`, if one is close enough to be what the author meant.
///
/// Close enough: equal ignoring case, or within an edit distance (insertions, deletions,
/// substitutions, transpositions) of a third of the longer name's length, so `amii` finds
/// `ami` and `ap` finds `app`, but `c` does not find `a`. Ties go to the earliest candidate.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let length = name.chars().count();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(name) {
            0
        } else {
            let limit = length.max(candidate.chars().count()) / 3;
            match bounded_distance(name, candidate, limit) {
                Some(distance) => distance,
                None => continue,
            }
        };
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `did you mean `x`?` for the closest candidate.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// A hint for an unknown name: the closest candidate if there is one, else the list of known
/// names (`what` is their plural, as in "known subnets"), else that there are none.
pub(crate) fn unknown_name_hint<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> String {
    if let Some(hint) = did_you_mean(name, candidates.clone()) {
        return hint;
    }
    let known: Vec<&str> = candidates.into_iter().collect();
    if known.is_empty() {
        format!("the spec declares no {what}")
    } else {
        format!("known {what}: {}", backticked(&known))
    }
}

/// `` `a`, `b`, `c` `` with at most 12 names shown, then how many more there are.
pub(crate) fn backticked(names: &[&str]) -> String {
    const SHOWN: usize = 12;
    let mut out = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    out
}

/// `` `a` ``, `` `a` and `b` ``, `` `a`, `b` and `c` ``.
pub(crate) fn and_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The optimal-string-alignment distance between `a` and `b`, if it is at most `limit`.
fn bounded_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    // Three rolling rows: two rows back (for transpositions), previous, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        let mut row_min = current[0];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut best = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
            if i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca) {
                best = best.min(before[j - 1] + 1);
            }
            current[j + 1] = best;
            row_min = row_min.min(best);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().copied().filter(|&d| d <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_within_reach() {
        let fields = ["ami", "instance_type", "count", "subnets"];
        assert_eq!(closest("amii", fields), Some("ami"));
        assert_eq!(closest("instnace_type", fields), Some("instance_type"));
        assert_eq!(closest("subnet", fields), Some("subnets"));
        assert_eq!(closest("COUNT", fields), Some("count"));
        assert_eq!(closest("zone", fields), None);
        assert_eq!(closest("ap", ["app"]), Some("app"));
        assert_eq!(
            closest("c", ["a", "b"]),
            None,
            "one-letter names are all one edit apart"
        );
    }

    #[test]
    fn transpositions_count_as_one_edit() {
        assert_eq!(bounded_distance("ab", "ba", 1), Some(1));
        assert_eq!(bounded_distance("kitten", "sitting", 5), Some(3));
        assert_eq!(bounded_distance("kitten", "sitting", 2), None);
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(and_list(&["a"]), "`a`");
        assert_eq!(and_list(&["a", "b"]), "`a` and `b`");
        assert_eq!(and_list(&["a", "b", "c"]), "`a`, `b` and `c`");
    }

    #[test]
    fn unknown_names_fall_back_to_the_known_list() {
        assert_eq!(
            unknown_name_hint("zzz", ["a", "b"], "subnets"),
            "known subnets: `a`, `b`"
        );
        assert_eq!(
            unknown_name_hint("zzz", [], "subnets"),
            "the spec declares no subnets"
        );
        let many: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(backticked(&many).ends_with("`n11` and 8 more"));
    }
}
