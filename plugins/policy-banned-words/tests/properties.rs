//! Property tests of normalisation, edit-distance matching and scoring.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use writeback_policy_banned_words::edit::within_one_edit;
use writeback_policy_banned_words::index::TermIndex;
use writeback_policy_banned_words::normalize::Normalizer;
use writeback_policy_banned_words::score::score;

/// Reference Levenshtein distance (quadratic, for checking).
fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// Hides a lower-case term the way people do: random capitals and look-alikes.
fn disguise(term: &str, mask: u64) -> String {
    term.chars()
        .enumerate()
        .map(|(i, c)| {
            let bit = mask >> (i % 32) & 1 == 1;
            let leet = mask >> ((i + 7) % 32) & 1 == 1;
            match (c, leet) {
                ('o', true) => '0',
                ('l', true) => '1',
                ('s', true) => '$',
                ('a', true) => '@',
                (c, _) if bit => c.to_ascii_uppercase(),
                (c, _) => c,
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn normalisation_is_idempotent_and_leaves_no_substituted_characters(s in "[ -~àÀßΣİ]{0,24}") {
        let n = Normalizer::default();
        let once = n.normalize_string(&s);
        prop_assert_eq!(n.normalize_string(&once), once.clone());
        prop_assert!(!once.chars().any(|c| "01$@".contains(c) || c.is_ascii_uppercase()));
    }

    #[test]
    fn within_one_edit_agrees_with_levenshtein(a in "[abc]{0,7}", b in "[abc]{0,7}") {
        let (a, b) = (chars(&a), chars(&b));
        prop_assert_eq!(within_one_edit(&a, &b), levenshtein(&a, &b) <= 1);
    }

    #[test]
    fn one_edit_of_a_term_scores_one_point(
        term in "[a-z]{5,12}",
        pos in 0usize..12,
        c in "[a-z0-9!]",
        kind in 0u8..3,
    ) {
        let mut p = chars(&term);
        let pos = pos % p.len();
        let c = c.chars().next().unwrap_or('x');
        match kind {
            0 => p[pos] = c,
            1 => p.insert(pos, c),
            _ => { p.remove(pos); }
        }
        let n = Normalizer::default();
        let index = TermIndex::new([n.normalize(&term)]);
        let candidate: String = p.into_iter().collect();
        let s = score(&n.normalize(&candidate), &index, &[]);
        prop_assert!(s.points <= 2, "{} scored {}", candidate, s.points);
        prop_assert!(s.terms_found == 1);
    }

    #[test]
    fn disguised_terms_are_found(term in "[a-z]{4,12}", mask in any::<u64>()) {
        let n = Normalizer::default();
        let index = TermIndex::new([n.normalize(&term)]);
        let s = score(&n.normalize(&disguise(&term, mask)), &index, &[]);
        prop_assert_eq!(s.points, 1);
    }

    #[test]
    fn without_terms_every_character_is_a_point(p in "[ -~]{0,40}") {
        let n = Normalizer::default();
        let normalized = n.normalize(&p);
        let s = score(&normalized, &TermIndex::default(), &[]);
        prop_assert_eq!(s.points, normalized.len());
        prop_assert_eq!(s.terms_found, 0);
    }

    #[test]
    fn score_never_exceeds_length(p in "[a-z0-9]{0,30}", terms in proptest::collection::vec("[a-z]{4,8}", 0..6)) {
        let n = Normalizer::default();
        let index = TermIndex::new(terms.iter().map(|t| n.normalize(t)));
        let normalized = n.normalize(&p);
        let s = score(&normalized, &index, &[]);
        prop_assert!(s.points <= normalized.len());
    }
}
