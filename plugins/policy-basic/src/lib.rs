//! Policy `basic`: length, character classes, and not containing the person's names.
//!
//! Rule ids (stable; override their messages with the host's `messages` table):
//! `length.min`, `length.max`, `classes.upper`, `classes.lower`, `classes.digit`,
//! `classes.symbol`, `classes.min_categories`, `name.contains_account_name`,
//! `name.contains_display_name`.

mod config;
mod rules;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    BuildContext, ConfigError, ConnectorConfig, Outcome, Password, Policy, PolicyContext,
    RuleViolation, TypedFactory,
};

pub use config::BasicConfig;
pub use rules::evaluate;

/// The `basic` policy, built from its config.
pub struct BasicPolicy {
    config: BasicConfig,
}

impl BasicPolicy {
    pub fn new(config: BasicConfig) -> Self {
        BasicPolicy { config }
    }
}

#[async_trait]
impl Policy for BasicPolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        if !self.config.targets.applies(context) {
            return Ok(Vec::new());
        }
        Ok(rules::evaluate(&self.config, password.expose(), context))
    }

    fn rule_ids(&self) -> Vec<String> {
        rules::rule_ids(&self.config)
    }
}

/// Registers as `type = "basic"`.
pub struct BasicFactory;

#[async_trait]
impl TypedFactory<dyn Policy> for BasicFactory {
    type Config = BasicConfig;
    const TYPE_NAME: &'static str = "basic";
    const DESCRIPTION: &'static str =
        "Length, character classes and not containing the account or display name.";

    fn check(&self, typed: &BasicConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config).err().into_iter().collect()
    }

    async fn build_from(
        &self,
        typed: BasicConfig,
        _config: &ConnectorConfig,
        _ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        Ok(Arc::new(BasicPolicy::new(typed)))
    }
}
