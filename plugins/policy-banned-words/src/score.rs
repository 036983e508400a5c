//! Step 2 of Microsoft's algorithm: find the banned terms in the normalised password
//! and score it — one point per banned term found, one per remaining character.
//!
//! Microsoft does not publish how overlapping or competing matches are chosen. This
//! crate takes the reading that reproduces every worked example in its documentation:
//!
//! 1. Exact matches first: of all ways to cover the password with non-overlapping exact
//!    occurrences of terms (and of the person's name tokens), take one with the fewest
//!    points (the weakest reading of the password is the one an attacker uses).
//! 2. Then fuzzy matches (edit distance 1) inside the stretches no exact match covers,
//!    again taking the fewest points.
//!
//! Exact matches go first so that a term followed by one more character is scored as
//! the term plus that character ("blankf" is [blank] + [f], as in Microsoft's
//! `ContoS0Bl@nkf9!` example), not as a single fuzzy match.

use crate::index::TermIndex;

/// One match: `[start, end)` in the normalised password.
type Span = (usize, usize);

/// The score of a normalised password and how many banned terms it contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub points: usize,
    pub terms_found: usize,
}

/// Scores `password` (normalised) against `index` and the person's `names` (normalised,
/// matched exactly as substrings).
pub fn score(password: &[char], index: &TermIndex, names: &[Vec<char>]) -> Score {
    let n = password.len();
    let mut buf = String::with_capacity(4 * (n + 1));
    let mut exact: Vec<Span> = Vec::new();
    for start in 0..n {
        for len in index.exact_lengths() {
            if start + len > n {
                break;
            }
            if index.contains_exact(&password[start..start + len], &mut buf) {
                exact.push((start, start + len));
            }
        }
        for name in names {
            if !name.is_empty() && password[start..].starts_with(name) {
                exact.push((start, start + name.len()));
            }
        }
    }
    let chosen = cheapest_cover(0, n, &exact);
    let mut points = chosen.len();
    let mut terms_found = chosen.len();
    // the stretches between chosen exact matches
    let mut cursor = 0;
    for &(s, e) in chosen.iter().chain(std::iter::once(&(n, n))) {
        if s > cursor {
            let fuzzy = fuzzy_spans(password, cursor, s, index, &mut buf);
            let cover = cheapest_cover(cursor, s, &fuzzy);
            let covered: usize = cover.iter().map(|(a, b)| b - a).sum();
            points += cover.len() + (s - cursor - covered);
            terms_found += cover.len();
        }
        cursor = e;
    }
    Score {
        points,
        terms_found,
    }
}

/// Fuzzy matches lying within `[from, to)`.
fn fuzzy_spans(
    password: &[char],
    from: usize,
    to: usize,
    index: &TermIndex,
    buf: &mut String,
) -> Vec<Span> {
    let mut out = Vec::new();
    for start in from..to {
        for len in index.fuzzy_lengths() {
            if start + len > to {
                break;
            }
            if index.matches_fuzzy(&password[start..start + len], buf) {
                out.push((start, start + len));
            }
        }
    }
    out
}

/// The non-overlapping subset of `spans` (all inside `[from, to)`) that minimises
/// (spans chosen + characters left uncovered), by dynamic programming from the right.
fn cheapest_cover(from: usize, to: usize, spans: &[Span]) -> Vec<Span> {
    let width = to - from;
    // best[i]: fewest points for password[from + i .. to]; pick[i]: the span taken there
    let mut best = vec![0usize; width + 1];
    let mut pick: Vec<Option<usize>> = vec![None; width + 1];
    let mut by_start: Vec<Vec<usize>> = vec![Vec::new(); width];
    for &(s, e) in spans {
        if s >= from && e <= to && e > s {
            by_start[s - from].push(e - from);
        }
    }
    for i in (0..width).rev() {
        best[i] = best[i + 1] + 1;
        pick[i] = None;
        for &e in &by_start[i] {
            if 1 + best[e] < best[i] {
                best[i] = 1 + best[e];
                pick[i] = Some(e);
            }
        }
    }
    let mut chosen = Vec::new();
    let mut i = 0;
    while i < width {
        match pick[i] {
            Some(e) => {
                chosen.push((from + i, from + e));
                i = e;
            }
            None => i += 1,
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::Normalizer;

    fn score_of(password: &str, terms: &[&str], names: &[&str]) -> Score {
        let n = Normalizer::default();
        let index = TermIndex::new(terms.iter().map(|t| n.normalize(t)));
        let names: Vec<Vec<char>> = names.iter().map(|t| n.normalize(t)).collect();
        score(&n.normalize(password), &index, &names)
    }

    #[test]
    fn microsoft_contoso_examples() {
        // [contoso] + [blank] + [1] + [2] = 4 points: rejected
        assert_eq!(
            score_of("C0ntos0Blank12", &["contoso", "blank"], &[]),
            Score {
                points: 4,
                terms_found: 2
            }
        );
        // [contoso] + [blank] + [f] + [9] + [!] = 5 points: accepted
        assert_eq!(
            score_of("ContoS0Bl@nkf9!", &["contoso", "blank"], &[]).points,
            5
        );
    }

    #[test]
    fn microsoft_fuzzy_examples_score_one_or_two() {
        for p in ["abcdeg", "abcde", "abcdef"] {
            assert_eq!(score_of(p, &["abcdef"], &[]).points, 1, "{p}");
        }
        assert_eq!(score_of("abcdefg", &["abcdef"], &[]).points, 2);
        assert_eq!(score_of("Bl@nK", &["blank"], &[]).points, 1);
    }

    #[test]
    fn names_count_as_terms() {
        assert_eq!(score_of("p0LL23fb", &[], &["poll"]).points, 5);
        assert_eq!(score_of("p0LL23", &[], &["poll"]).points, 3);
    }

    #[test]
    fn no_terms_scores_every_character() {
        assert_eq!(score_of("Tr0ub4dor&3", &[], &[]).points, 11);
    }

    #[test]
    fn winter_with_a_year_term() {
        assert_eq!(score_of("Winter2026!", &["winter"], &[]).points, 6);
        assert_eq!(score_of("Winter2026!", &["winter", "2026"], &[]).points, 3);
    }
}
