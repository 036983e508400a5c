//! A WASM component as a [`DirectoryTarget`]: the plugin finds accounts and applies
//! operations through the `directory` handle, which reaches only the server and
//! subtree of the target's `[targets.directory]` table. Each call runs on a fresh
//! instance by default, so no password outlives its call in guest memory.

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    Account, BuildContext, CloudIdentity, ConfigError, ConnectorConfig, DirectoryTarget,
    HealthCheck, Operation, Outcome, Password,
};

use crate::bindings::target::TargetPlugin;
use crate::convert;
use crate::directory::{DirectoryConfig, DirectoryGrant};
use crate::factory::WasmConnector;
use crate::fault::Fault;
use crate::sandbox::{Lends, Plugin, Sandbox};

/// A configured WASM target.
pub struct WasmTarget {
    sandbox: Sandbox<TargetPlugin>,
    directory: Arc<DirectoryGrant>,
}

impl WasmTarget {
    pub(crate) async fn build(
        plugin: Arc<Plugin<TargetPlugin>>,
        config_json: String,
        directory: Arc<DirectoryGrant>,
    ) -> Result<Self, String> {
        Ok(WasmTarget {
            sandbox: Sandbox::new(plugin, config_json, Some(directory.clone())).await?,
            directory,
        })
    }

    async fn resolve_call(&self, identity: &CloudIdentity) -> Result<Account, Fault> {
        let identity = convert::identity(identity);
        // `resolve` is lent no password, so it may run on an instance that served an
        // earlier `resolve`, even with fresh instances; `apply` never does.
        let mut live = self.sandbox.checkout(Vec::new(), Lends::Nothing).await?;
        let until = live.until();
        let result = crate::sandbox::bounded(
            until,
            live.bindings
                .writeback_plugin_target()
                .call_resolve(&mut live.store, &identity),
        )
        .await;
        match self.sandbox.finish(live, result)? {
            Ok(account) => {
                let account = convert::account_from_wit(account).map_err(Fault::InvalidResult)?;
                // An account elsewhere could not be written through the handle anyway;
                // refusing it here names the plugin as the culprit.
                match self.directory.contains(&account.dn) {
                    Ok(true) => Ok(account),
                    _ => Err(Fault::InvalidResult(format!(
                        "resolve returned `{}`, which is outside the granted subtree `{}`",
                        crate::fault::clip(account.dn, 256),
                        self.directory.base_dn()
                    ))),
                }
            }
            Err(outcome) => Err(stated(outcome)),
        }
    }

    async fn apply_call(&self, account: &Account, operation: &Operation) -> Result<(), Fault> {
        let wit_account = convert::account(account);
        let mut wit_operation = convert::operation(operation);
        let secrets = match operation {
            Operation::Reset { new_password, .. } => vec![new_password.clone()],
            Operation::Change {
                old_password,
                new_password,
            } => vec![old_password.clone(), new_password.clone()],
            Operation::Unlock => Vec::new(),
        };
        let mut live = self.sandbox.checkout(secrets, Lends::Secrets).await?;
        let until = live.until();
        let result = crate::sandbox::bounded(
            until,
            live.bindings.writeback_plugin_target().call_apply(
                &mut live.store,
                &wit_account,
                &wit_operation,
            ),
        )
        .await;
        convert::wipe(&mut wit_operation);
        match self.sandbox.finish(live, result)? {
            Ok(()) => Ok(()),
            Err(outcome) => Err(stated(outcome)),
        }
    }
}

/// The plugin's own failure outcome, passed on as it stated it (or a fault when it
/// is not a failure at all).
fn stated(outcome: crate::bindings::notifier::writeback::plugin::types::Outcome) -> Fault {
    match convert::failure_from_wit(outcome) {
        Ok(o) => Fault::Stated(Box::new(o)),
        Err(m) => Fault::InvalidResult(m),
    }
}

#[async_trait]
impl DirectoryTarget for WasmTarget {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        self.resolve_call(identity)
            .await
            .map_err(|fault| fault.report(self.sandbox.name()))
    }

    async fn apply(&self, account: &Account, operation: &Operation) -> Result<(), Outcome> {
        // The guest may quote a password it was lent in any text it returns.
        let secrets: Vec<&Password> = match operation {
            Operation::Reset { new_password, .. } => vec![new_password],
            Operation::Change {
                old_password,
                new_password,
            } => vec![old_password, new_password],
            Operation::Unlock => Vec::new(),
        };
        self.apply_call(account, operation)
            .await
            .map_err(|fault| fault.report_redacted(self.sandbox.name(), &secrets))
    }

    /// The granted connection's checks; the plugin itself is checked when it is
    /// configured at build time.
    async fn self_test(&self) -> Vec<HealthCheck> {
        self.directory.self_test().await
    }
}

/// The table the guest's `configure` gets: everything but the host's `directory`.
fn guest_json(config: &ConnectorConfig) -> Result<String, ConfigError> {
    crate::factory::guest_json(config, &["directory"])
}

#[async_trait]
impl WasmConnector for TargetPlugin {
    type Connector = dyn DirectoryTarget;

    fn validate(_plugin: &Plugin<Self>, config: &ConnectorConfig) -> Result<(), ConfigError> {
        DirectoryConfig::load(config)?;
        guest_json(config).map(|_| ())
    }

    async fn build(
        plugin: Arc<Plugin<Self>>,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        let directory = Arc::new(DirectoryGrant::build(config, ctx)?);
        let json = guest_json(config)?;
        let target = WasmTarget::build(plugin, json, directory)
            .await
            .map_err(|m| config.error("", m))?;
        Ok(Arc::new(target))
    }
}
