//! Policy `basic`: length, character classes, and not containing the person's names.
//!
//! Rule ids (stable; override their messages with the host's `messages` table):
//! `length.min`, `length.max`, `classes.upper`, `classes.lower`, `classes.digit`,
//! `classes.symbol`, `classes.min_categories`, `name.contains_account_name`,
//! `name.contains_display_name`.

mod config;
mod policy;
mod rules;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Policy, TypedFactory};

pub use config::BasicConfig;
pub use policy::BasicPolicy;
pub use rules::evaluate;

/// Registers as `type = "basic"`.
pub struct BasicPolicyFactory;

/// The earlier name of [`BasicPolicyFactory`].
pub use BasicPolicyFactory as BasicFactory;

#[async_trait]
impl TypedFactory<dyn Policy> for BasicPolicyFactory {
    type Config = BasicConfig;
    const TYPE_NAME: &'static str = "basic";
    const DESCRIPTION: &'static str =
        "Length, character classes and not containing the account or display name.";

    fn check(&self, typed: &BasicConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
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
