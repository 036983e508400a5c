//! Policy `basic`: length, character classes, and not containing the person's names.
//!
//! Rule ids (stable; override their messages with the host's `messages` table):
//! `length.min`, `length.max`, `classes.upper`, `classes.lower`, `classes.digit`,
//! `classes.symbol`, `classes.min_categories`, `name.contains_account_name`,
//! `name.contains_display_name`.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod config;
mod rules;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    BuildContext, ConfigError, ConnectorConfig, ConnectorFactory, Outcome, Password, Policy,
    PolicyContext, RuleViolation,
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
impl ConnectorFactory<dyn Policy> for BasicFactory {
    fn type_name(&self) -> &'static str {
        "basic"
    }

    fn description(&self) -> &'static str {
        "Length, character classes and not containing the account or display name."
    }

    fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        BasicConfig::from_connector(config).map(|_| ())
    }

    async fn build(
        &self,
        config: &ConnectorConfig,
        _ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        Ok(Arc::new(BasicPolicy::new(BasicConfig::from_connector(
            config,
        )?)))
    }
}
