//! The banned terms, indexed for exact and edit-distance-1 lookups of substrings.
//!
//! Fuzzy lookup uses deletion neighbourhoods: two strings within one edit of each other
//! share a string obtained by deleting at most one character from each. Each term is
//! stored under itself and its one-character deletions; a candidate substring looks up
//! itself and its deletions, and every hit is confirmed with [`within_one_edit`].

use std::collections::{HashMap, HashSet};

use crate::edit::within_one_edit;

/// Terms shorter than this are refused: Microsoft's custom list has the same minimum,
/// and shorter terms would match almost any password.
pub const MIN_TERM_CHARS: usize = 4;
/// Terms longer than this are refused (a term is a word, not a passphrase).
pub const MAX_TERM_CHARS: usize = 64;
/// A fuzzy match must span at least this many characters (a 4-letter term minus one
/// letter would otherwise match any 3 letters).
pub const MIN_FUZZY_CHARS: usize = 4;

#[derive(Debug, Default)]
pub struct TermIndex {
    terms: Vec<Vec<char>>,
    exact: HashSet<String>,
    neighbours: HashMap<String, Vec<u32>>,
    min_len: usize,
    max_len: usize,
}

fn deletions(s: &[char]) -> impl Iterator<Item = String> + '_ {
    (0..s.len()).map(move |k| s[..k].iter().chain(&s[k + 1..]).collect())
}

impl TermIndex {
    /// Indexes normalised terms (duplicates and out-of-range lengths are skipped).
    pub fn new(terms: impl IntoIterator<Item = Vec<char>>) -> Self {
        let mut index = TermIndex {
            min_len: usize::MAX,
            ..Default::default()
        };
        for term in terms {
            let len = term.len();
            if !(MIN_TERM_CHARS..=MAX_TERM_CHARS).contains(&len) {
                continue;
            }
            let key: String = term.iter().collect();
            if !index.exact.insert(key.clone()) {
                continue;
            }
            let id = index.terms.len() as u32;
            index.neighbours.entry(key).or_default().push(id);
            for d in deletions(&term) {
                let ids = index.neighbours.entry(d).or_default();
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
            }
            index.min_len = index.min_len.min(len);
            index.max_len = index.max_len.max(len);
            index.terms.push(term);
        }
        index
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Lengths of substrings that can match exactly.
    pub fn exact_lengths(&self) -> std::ops::RangeInclusive<usize> {
        if self.is_empty() {
            return std::ops::RangeInclusive::new(1, 0); // empty
        }
        self.min_len..=self.max_len
    }

    /// Lengths of substrings that can match within one edit.
    pub fn fuzzy_lengths(&self) -> std::ops::RangeInclusive<usize> {
        if self.is_empty() {
            return std::ops::RangeInclusive::new(1, 0); // empty
        }
        (self.min_len - 1).max(MIN_FUZZY_CHARS)..=self.max_len + 1
    }

    /// Whether `s` is a term. `buf` is scratch space, reused to avoid allocating.
    pub fn contains_exact(&self, s: &[char], buf: &mut String) -> bool {
        buf.clear();
        buf.extend(s);
        self.exact.contains(buf.as_str())
    }

    /// Whether some term is within one edit of `s`. `buf` is scratch space.
    pub fn matches_fuzzy(&self, s: &[char], buf: &mut String) -> bool {
        let hit = |probe: &str| {
            self.neighbours.get(probe).is_some_and(|ids| {
                ids.iter()
                    .any(|&id| within_one_edit(s, &self.terms[id as usize]))
            })
        };
        buf.clear();
        buf.extend(s);
        if hit(buf) {
            return true;
        }
        (0..s.len()).any(|k| {
            buf.clear();
            buf.extend(&s[..k]);
            buf.extend(&s[k + 1..]);
            hit(buf)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn finds_exact_and_one_edit_neighbours_only() {
        let idx = TermIndex::new([c("abcdef"), c("blank"), c("abc")]);
        assert_eq!(idx.len(), 2, "3-letter terms are skipped");
        let mut buf = String::new();
        assert!(idx.contains_exact(&c("blank"), &mut buf));
        for s in ["abcdeg", "abcdefg", "abcde", "blanc", "blnk", "bllank"] {
            assert!(idx.matches_fuzzy(&c(s), &mut buf), "{s}");
        }
        for s in ["bacdef", "blaxx", "zzzzz"] {
            assert!(!idx.matches_fuzzy(&c(s), &mut buf), "{s}");
        }
    }
}
