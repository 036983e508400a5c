//! A WASM component as a [`Policy`]. By default each call runs on a fresh instance,
//! so the password never outlives its call in guest memory.

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    BuildContext, ConfigError, ConnectorConfig, Outcome, Password, Policy, PolicyContext,
    RuleViolation,
};

use crate::bindings::policy::PolicyPlugin;
use crate::convert;
use crate::factory::WasmConnector;
use crate::fault::Fault;
use crate::sandbox::{Lends, Plugin, Sandbox};

/// A configured WASM policy.
pub struct WasmPolicy {
    sandbox: Sandbox<PolicyPlugin>,
}

impl WasmPolicy {
    pub(crate) async fn build(
        plugin: Arc<Plugin<PolicyPlugin>>,
        config_json: String,
    ) -> Result<Self, String> {
        Ok(WasmPolicy {
            sandbox: Sandbox::new(plugin, config_json, None).await?,
        })
    }

    async fn call(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Fault> {
        let identity = convert::identity(context.identity);
        let accounts = convert::target_accounts(context.accounts);
        let mut live = self
            .sandbox
            .checkout(vec![password.clone()], Lends::Secrets)
            .await?;
        let until = live.until();
        let result = crate::sandbox::bounded(
            until,
            live.bindings.writeback_plugin_policy().call_evaluate(
                &mut live.store,
                password.expose(),
                &identity,
                &accounts,
            ),
        )
        .await;
        match self.sandbox.finish(live, result)? {
            Ok(rules) => convert::rules_from_wit(rules).map_err(Fault::InvalidResult),
            Err(outcome) => Err(match convert::failure_from_wit(outcome) {
                // The plugin's own failure is passed on as it stated it.
                Ok(o) => return Err(Fault::Stated(Box::new(o))),
                Err(m) => Fault::InvalidResult(m),
            }),
        }
    }
}

#[async_trait]
impl Policy for WasmPolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        // The guest may quote the password it was lent in any text it returns.
        match self.call(password, context).await {
            Ok(mut rules) => {
                for rule in &mut rules {
                    rule.redact(&[password]);
                }
                Ok(rules)
            }
            Err(fault) => Err(fault.report_redacted(self.sandbox.name(), &[password])),
        }
    }
}

#[async_trait]
impl WasmConnector for PolicyPlugin {
    type Connector = dyn Policy;

    fn validate(_plugin: &Plugin<Self>, config: &ConnectorConfig) -> Result<(), ConfigError> {
        crate::factory::config_json(config).map(|_| ())
    }

    async fn build(
        plugin: Arc<Plugin<Self>>,
        config: &ConnectorConfig,
        _ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        let json = crate::factory::config_json(config)?;
        let policy = WasmPolicy::build(plugin, json)
            .await
            .map_err(|m| config.error("", m))?;
        Ok(Arc::new(policy))
    }
}
