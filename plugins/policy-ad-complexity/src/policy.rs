//! The `ad-complexity` policy: AD's rules applied to a candidate password.

use async_trait::async_trait;
use writeback_core::{Outcome, Password, Policy, PolicyContext, RuleViolation};
use writeback_policy_support::{display_names, sam_account_names, tokens, AD_DELIMITERS};

use crate::categories::categories_present;
use crate::config::{AdComplexityConfig, AD_MAX_LENGTH};

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
