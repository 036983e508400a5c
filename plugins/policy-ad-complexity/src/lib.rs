//! Policy `ad-complexity`: the rules Active Directory applies when "Password must meet
//! complexity requirements" is on, checked before the write and without AD, so every
//! broken rule can be named (AD itself only says "does not meet the length, complexity,
//! or history requirement").
//!
//! From Microsoft's documentation (passfilt / MS-SAMR 3.1.1.7.2):
//! * characters from at least three of five categories: upper-case letters (any
//!   script), lower-case letters (any script), base-10 digits, the special characters
//!   `` ~!@#$%^&*_-+=`|\(){}[]:;"'<>,.?/ ``, and letters that are neither upper nor
//!   lower case (for example CJK). Each character counts for one category only; other
//!   characters (spaces, currency signs) count for none;
//! * not the sAMAccountName as a case-insensitive substring, when it is longer than
//!   two characters;
//! * no token of the displayName (split on `,` `.` `-` `_` space tab `#`) of three or
//!   more characters as a case-insensitive substring;
//! * at most 256 characters, and optionally at least `min_length` (AD's minPwdLength).
//!
//! Rule ids: `ad.complexity`, `ad.contains_account_name`, `ad.contains_display_name`,
//! `ad.min_length`, `ad.max_length`.

mod categories;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use writeback_core::{
    BuildContext, ConfigError, ConnectorConfig, Outcome, Password, Policy, PolicyContext,
    RuleViolation, TypedFactory,
};
use writeback_policy_support::{
    display_names, sam_account_names, tokens, TargetScope, AD_DELIMITERS,
};

pub use categories::{categories_present, Category};

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

/// Every rule `password` breaks for the person in `ctx`.
pub fn evaluate(
    config: &AdComplexityConfig,
    password: &str,
    ctx: &PolicyContext<'_>,
) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    let length = password.chars().count();
    if length < config.min_length {
        out.push(RuleViolation::new(
            "ad.min_length",
            format!("Use at least {} characters.", config.min_length),
        ));
    }
    if length > AD_MAX_LENGTH {
        out.push(RuleViolation::new(
            "ad.max_length",
            "Use at most 256 characters.",
        ));
    }
    let present = categories_present(password);
    if present.len() < 3 {
        out.push(RuleViolation::new(
            "ad.complexity",
            format!(
                "Use characters of at least 3 of these kinds: upper-case letters, lower-case letters, \
                 digits (0-9), symbols such as ! $ # %, and letters without case such as Chinese or \
                 Japanese characters (this password has {}).",
                present.len()
            ),
        ));
    }
    if config.check_names {
        let lower = password.to_lowercase();
        if sam_account_names(ctx)
            .iter()
            .any(|n| n.chars().count() > 2 && lower.contains(n.as_str()))
        {
            out.push(RuleViolation::new(
                "ad.contains_account_name",
                "Do not include your account name in your password.",
            ));
        }
        if tokens(&display_names(ctx), &AD_DELIMITERS, 3)
            .iter()
            .any(|t| lower.contains(t.as_str()))
        {
            out.push(RuleViolation::new(
                "ad.contains_display_name",
                "Do not include a part of your name (three letters or more) in your password.",
            ));
        }
    }
    out
}

pub struct AdComplexityPolicy {
    config: AdComplexityConfig,
}

impl AdComplexityPolicy {
    pub fn new(config: AdComplexityConfig) -> Self {
        AdComplexityPolicy { config }
    }
}

#[async_trait]
impl Policy for AdComplexityPolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        if !self.config.targets.applies(context) {
            return Ok(Vec::new());
        }
        Ok(evaluate(&self.config, password.expose(), context))
    }

    fn rule_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        if self.config.min_length > 0 {
            ids.push("ad.min_length");
        }
        ids.extend(["ad.max_length", "ad.complexity"]);
        if self.config.check_names {
            ids.extend(["ad.contains_account_name", "ad.contains_display_name"]);
        }
        ids.into_iter().map(String::from).collect()
    }
}

/// Registers as `type = "ad-complexity"`.
pub struct AdComplexityFactory;

#[async_trait]
impl TypedFactory<dyn Policy> for AdComplexityFactory {
    type Config = AdComplexityConfig;
    const TYPE_NAME: &'static str = "ad-complexity";
    const DESCRIPTION: &'static str =
        "Active Directory's complexity rules (3 of 5 categories, no account or display name), without AD.";

    fn check(&self, typed: &AdComplexityConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if typed.min_length > AD_MAX_LENGTH {
            errors.push(config.error("min_length", "AD allows at most 256 characters"));
        }
        errors
    }

    async fn build_from(
        &self,
        typed: AdComplexityConfig,
        _config: &ConnectorConfig,
        _ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        Ok(Arc::new(AdComplexityPolicy::new(typed)))
    }
}
