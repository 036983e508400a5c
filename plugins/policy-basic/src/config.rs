//! The `basic` policy's keys.

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, Password};
use writeback_policy_support::TargetScope;

/// ```toml
/// [[policies]]
/// type = "basic"
/// min_length = 12          # default 8
/// max_length = 128         # default 256 (the most any password may have)
/// require = ["upper", "lower", "digit", "symbol"]   # each listed class is required
/// min_categories = 3       # or: at least N of the 4 classes (default 0: off)
/// forbid_account_name = true   # default true
/// forbid_display_name = true   # default true
/// name_min_token = 3       # display-name tokens shorter than this are ignored
/// targets = ["corp-ad"]    # only for accounts in these targets (default: all)
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicConfig {
    #[serde(default = "default_min")]
    pub min_length: usize,
    #[serde(default = "default_max")]
    pub max_length: usize,
    #[serde(default)]
    pub require: Vec<CharClass>,
    #[serde(default)]
    pub min_categories: usize,
    #[serde(default = "yes")]
    pub forbid_account_name: bool,
    #[serde(default = "yes")]
    pub forbid_display_name: bool,
    #[serde(default = "default_token")]
    pub name_min_token: usize,
    #[serde(default)]
    pub targets: TargetScope,
}

/// The four character classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharClass {
    Upper,
    Lower,
    Digit,
    Symbol,
}

fn default_min() -> usize {
    8
}
fn default_max() -> usize {
    Password::MAX_CHARS
}
fn yes() -> bool {
    true
}
fn default_token() -> usize {
    3
}

impl Default for BasicConfig {
    fn default() -> Self {
        BasicConfig {
            min_length: default_min(),
            max_length: default_max(),
            require: Vec::new(),
            min_categories: 0,
            forbid_account_name: true,
            forbid_display_name: true,
            name_min_token: default_token(),
            targets: TargetScope::default(),
        }
    }
}

impl BasicConfig {
    /// Parses and checks the table; errors name the key.
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let c: BasicConfig = config.parse()?;
        match c.check(config).into_iter().next() {
            Some(first) => Err(first),
            None => Ok(c),
        }
    }

    /// The checks of a parsed table: every problem, each with its key.
    pub fn check(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        let c = self;
        let mut errors = Vec::new();
        if c.max_length == 0 || c.max_length > Password::MAX_CHARS {
            errors.push(config.error(
                "max_length",
                format!("must be between 1 and {}", Password::MAX_CHARS),
            ));
        } else if c.min_length > c.max_length {
            errors.push(config.error(
                "min_length",
                "is larger than max_length: no password could pass",
            ));
        }
        if c.min_categories > 4 {
            errors.push(config.error(
                "min_categories",
                "there are only 4 classes (upper, lower, digit, symbol)",
            ));
        }
        if c.name_min_token == 0 {
            errors.push(config.error("name_min_token", "must be at least 1"));
        }
        errors
    }
}
