//! The `banned-words` policy's keys, and loading term files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig};
use writeback_policy_support::TargetScope;

use crate::index::{MAX_TERM_CHARS, MIN_TERM_CHARS};
use crate::normalize::Normalizer;

/// ```toml
/// [[policies]]
/// type = "banned-words"
/// terms = ["contoso", "london", "widget"]
/// files = ["banned-terms.txt"]   # one term per line; `#` comments; relative to the config
/// min_score = 5                  # points needed (default 5, as Microsoft)
/// user_names = true              # the person's name tokens count as banned terms
/// reject_names = true            # a name token anywhere refuses the password outright
/// min_name_length = 4            # shorter name tokens are ignored (Microsoft: 4)
/// substitutions = { "3" = "e" }  # added to Microsoft's 0→o 1→l $→s @→a
/// targets = ["corp-ad"]          # only for accounts in these targets (default: all)
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BannedWordsConfig {
    #[serde(default)]
    pub terms: Vec<String>,
    #[serde(default)]
    pub files: Vec<PathBuf>,
    #[serde(default = "default_min_score")]
    pub min_score: usize,
    #[serde(default = "yes")]
    pub user_names: bool,
    #[serde(default = "yes")]
    pub reject_names: bool,
    #[serde(default = "default_name_length")]
    pub min_name_length: usize,
    #[serde(default)]
    pub substitutions: BTreeMap<String, String>,
    #[serde(default)]
    pub targets: TargetScope,
}

fn default_min_score() -> usize {
    5
}
fn yes() -> bool {
    true
}
fn default_name_length() -> usize {
    4
}

/// Largest term file read (a list of words, not a breach corpus: use `breached` for that).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

impl BannedWordsConfig {
    /// The look-alike substitutions as character pairs, and the keys of those that do
    /// not map one character to one character.
    fn substitution_pairs(&self) -> (Vec<(char, char)>, Vec<&str>) {
        let mut pairs = Vec::new();
        let mut bad = Vec::new();
        for (from, to) in &self.substitutions {
            let mut f = from.chars();
            let mut t = to.chars();
            match (f.next(), f.next(), t.next(), t.next()) {
                (Some(a), None, Some(b), None) => pairs.push((a, b)),
                _ => bad.push(from.as_str()),
            }
        }
        (pairs, bad)
    }

    /// The normaliser with Microsoft's substitutions and the configured ones.
    pub fn normalizer(&self) -> Normalizer {
        Normalizer::new(&self.substitution_pairs().0)
    }

    /// Every problem of the parsed table that needs no I/O, each with its key.
    pub fn check(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.min_score == 0 {
            errors.push(config.error("min_score", "must be at least 1"));
        }
        if self.min_name_length == 0 {
            errors.push(config.error("min_name_length", "must be at least 1"));
        }
        let (pairs, bad) = self.substitution_pairs();
        for from in bad {
            errors.push(config.error(
                &format!("substitutions.{from}"),
                "substitutions map one character to one character, like \"3\" = \"e\"",
            ));
        }
        let normalizer = Normalizer::new(&pairs);
        for (i, term) in self.terms.iter().enumerate() {
            let len = normalizer.normalize(term.trim()).len();
            if !(MIN_TERM_CHARS..=MAX_TERM_CHARS).contains(&len) {
                errors.push(config.error(
                    &format!("terms[{i}]"),
                    format!(
                        "a banned term has {MIN_TERM_CHARS} to {MAX_TERM_CHARS} characters (this one has {len}): \
                         shorter terms would refuse almost every password"
                    ),
                ));
            }
        }
        errors
    }

    /// Every term, inline and from the files, normalised. Files are read here (at build).
    pub fn load_terms(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
        normalizer: &Normalizer,
    ) -> Result<Vec<Vec<char>>, ConfigError> {
        let mut terms: Vec<Vec<char>> = self
            .terms
            .iter()
            .map(|t| normalizer.normalize(t.trim()))
            .collect();
        for (i, file) in self.files.iter().enumerate() {
            let key = format!("files[{i}]");
            let path = ctx.path(file);
            let size = std::fs::metadata(&path)
                .map_err(|e| config.error(&key, format!("cannot read {}: {e}", path.display())))?
                .len();
            if size > MAX_FILE_BYTES {
                return Err(config.error(
                    &key,
                    format!("{} is larger than 64 MiB: this policy takes word lists; put breach corpora in a `breached` policy", path.display()),
                ));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| {
                config.error(
                    &key,
                    format!("cannot read {} as UTF-8 text: {e}", path.display()),
                )
            })?;
            let before = terms.len();
            terms.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| normalizer.normalize(l))
                    .filter(|t| (MIN_TERM_CHARS..=MAX_TERM_CHARS).contains(&t.len())),
            );
            if terms.len() == before {
                return Err(config.error(
                    &key,
                    format!(
                        "{} has no terms of {MIN_TERM_CHARS} to {MAX_TERM_CHARS} characters (one per line, `#` starts a comment)",
                        path.display()
                    ),
                ));
            }
        }
        Ok(terms)
    }
}
