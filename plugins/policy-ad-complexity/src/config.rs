//! The `ad-complexity` table and its checks.

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig};
use writeback_policy_support::TargetScope;

/// ```toml
/// [[policies]]
/// type = "ad-complexity"
/// min_length = 7        # AD's minPwdLength (default 0: not checked here)
/// check_names = true    # the sAMAccountName / displayName rules (default true)
/// targets = ["corp-ad"] # only for accounts in these targets (default: all)
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdComplexityConfig {
    #[serde(default)]
    pub min_length: usize,
    #[serde(default = "yes")]
    pub check_names: bool,
    #[serde(default)]
    pub targets: TargetScope,
}

fn yes() -> bool {
    true
}

/// The most characters AD accepts in a password.
pub const AD_MAX_LENGTH: usize = 256;

impl AdComplexityConfig {
    /// Every problem of the table that needs no I/O, each with its key.
    pub fn check(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.min_length > AD_MAX_LENGTH {
            errors.push(config.error("min_length", "AD allows at most 256 characters"));
        }
        errors
    }
}
