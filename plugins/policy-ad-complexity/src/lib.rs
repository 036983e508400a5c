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
mod config;
mod policy;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Policy, TypedFactory};

pub use categories::{categories_present, Category};
pub use config::{AdComplexityConfig, AD_MAX_LENGTH};
pub use policy::{evaluate, AdComplexityPolicy};

/// Registers as `type = "ad-complexity"`.
pub struct AdComplexityPolicyFactory;

/// The earlier name of [`AdComplexityPolicyFactory`].
pub use AdComplexityPolicyFactory as AdComplexityFactory;

#[async_trait]
impl TypedFactory<dyn Policy> for AdComplexityPolicyFactory {
    type Config = AdComplexityConfig;
    const TYPE_NAME: &'static str = "ad-complexity";
    const DESCRIPTION: &'static str =
        "Active Directory's complexity rules (3 of 5 categories, no account or display name), without AD.";

    fn check(&self, typed: &AdComplexityConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
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
