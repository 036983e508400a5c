//! Step 1 of Microsoft's algorithm: lower-case, then the documented substitutions.

use std::collections::BTreeMap;

/// Microsoft's documented table (Entra Password Protection, "Step 1: Normalization").
pub const MICROSOFT_SUBSTITUTIONS: [(char, char); 4] =
    [('0', 'o'), ('1', 'l'), ('$', 's'), ('@', 'a')];

/// Lower-cases and substitutes character by character.
#[derive(Clone, Debug)]
pub struct Normalizer {
    table: BTreeMap<char, char>,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(&[])
    }
}

impl Normalizer {
    /// Microsoft's table plus `extra` pairs (which win over it).
    pub fn new(extra: &[(char, char)]) -> Self {
        let table = MICROSOFT_SUBSTITUTIONS
            .iter()
            .chain(extra)
            .copied()
            .collect();
        Normalizer { table }
    }

    /// The normalised characters of `s`. Lower-casing may turn one character into
    /// several (e.g. `İ`); substitutions apply after it.
    pub fn normalize(&self, s: &str) -> Vec<char> {
        s.chars()
            .flat_map(char::to_lowercase)
            .map(|c| self.table.get(&c).copied().unwrap_or(c))
            .collect()
    }

    pub fn normalize_string(&self, s: &str) -> String {
        self.normalize(s).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_examples() {
        let n = Normalizer::default();
        assert_eq!(n.normalize_string("Bl@nK"), "blank");
        assert_eq!(n.normalize_string("p0LL23fb"), "poll23fb");
        assert_eq!(n.normalize_string("C0ntos0Blank12"), "contosoblankl2");
        assert_eq!(n.normalize_string("ContoS0Bl@nkf9!"), "contosoblankf9!");
    }

    #[test]
    fn extra_substitutions_apply() {
        let n = Normalizer::new(&[('3', 'e'), ('4', 'a')]);
        assert_eq!(n.normalize_string("W1nt3r"), "wlnter");
    }
}
