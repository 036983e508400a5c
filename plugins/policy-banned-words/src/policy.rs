//! The `banned-words` policy: normalize, score, and judge a candidate password.

use async_trait::async_trait;
use writeback_core::{Outcome, Password, Policy, PolicyContext, RuleViolation};
use writeback_policy_support::{account_names, full_names, tokens, AD_DELIMITERS};

use crate::config::BannedWordsConfig;
use crate::index::TermIndex;
use crate::normalize::Normalizer;
use crate::score;

/// Delimiters for name tokens: AD's, plus `@` (a UPN's local part and domain).
const NAME_DELIMITERS: [char; 8] = [
    AD_DELIMITERS[0],
    AD_DELIMITERS[1],
    AD_DELIMITERS[2],
    AD_DELIMITERS[3],
    AD_DELIMITERS[4],
    AD_DELIMITERS[5],
    AD_DELIMITERS[6],
    '@',
];

pub struct BannedWordsPolicy {
    config: BannedWordsConfig,
    normalizer: Normalizer,
    index: TermIndex,
}

impl BannedWordsPolicy {
    pub fn new(config: BannedWordsConfig, normalizer: Normalizer, terms: Vec<Vec<char>>) -> Self {
        BannedWordsPolicy {
            index: TermIndex::new(terms),
            config,
            normalizer,
        }
    }

    /// How many distinct terms are loaded.
    pub fn term_count(&self) -> usize {
        self.index.len()
    }

    /// The person's name tokens, normalised, at least `min_name_length` long.
    fn name_tokens(&self, ctx: &PolicyContext<'_>) -> Vec<Vec<char>> {
        if !self.config.user_names && !self.config.reject_names {
            return Vec::new();
        }
        let mut names = full_names(ctx);
        names.extend(account_names(ctx));
        let mut out: Vec<Vec<char>> = tokens(&names, &NAME_DELIMITERS, 1)
            .iter()
            .map(|t| self.normalizer.normalize(t))
            .filter(|t| t.len() >= self.config.min_name_length)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every rule `password` breaks for the person in `ctx`.
    pub fn check(&self, password: &str, ctx: &PolicyContext<'_>) -> Vec<RuleViolation> {
        let normalized = self.normalizer.normalize(password);
        let names = self.name_tokens(ctx);
        let mut out = Vec::new();
        if self.config.reject_names
            && names
                .iter()
                .any(|n| normalized.windows(n.len()).any(|w| w == n.as_slice()))
        {
            out.push(RuleViolation::new(
                "banned.contains_name",
                "Do not use your name or account name in your password, even with letters swapped \
                 for look-alike digits or symbols.",
            ));
        }
        let scored_names: &[Vec<char>] = if self.config.user_names { &names } else { &[] };
        let s = score::score(&normalized, &self.index, scored_names);
        if s.points < self.config.min_score {
            let why = if s.terms_found == 0 {
                "it is too short".to_string()
            } else {
                format!(
                    "it is built on {} common or banned word{} (swapping letters for look-alike digits \
                     or symbols does not hide them)",
                    s.terms_found,
                    if s.terms_found == 1 { "" } else { "s" }
                )
            };
            out.push(RuleViolation::new(
                "banned.score",
                format!(
                    "This password is too easy to guess: {why}. Add more characters of your own or choose \
                     a different phrase. (It scores {} of the {} points needed: each banned word counts \
                     1, every other character 1.)",
                    s.points, self.config.min_score
                ),
            ));
        }
        out
    }
}

#[async_trait]
impl Policy for BannedWordsPolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        if !self.config.targets.applies(context) {
            return Ok(Vec::new());
        }
        Ok(self.check(password.expose(), context))
    }

    fn rule_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        if self.config.reject_names {
            ids.push("banned.contains_name".to_string());
        }
        ids.push("banned.score".to_string());
        ids
    }
}
