//! The `basic` policy itself: its rules applied to a candidate password.

use async_trait::async_trait;
use writeback_core::{Outcome, Password, Policy, PolicyContext, RuleViolation};

use crate::config::BasicConfig;
use crate::rules;

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
