//! A WASM component as a [`Notifier`]. It never sees a password; instances are reused
//! by default, and HTTP goes only to the URLs its `[[plugins]]` entry allows.

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Event, Notifier, NotifyError};

use crate::bindings::notifier::NotifierPlugin;
use crate::convert;
use crate::factory::WasmConnector;
use crate::fault::{clip, Fault};
use crate::sandbox::{Lends, Plugin, Sandbox};

/// A configured WASM notifier.
pub struct WasmNotifier {
    sandbox: Sandbox<NotifierPlugin>,
}

impl WasmNotifier {
    pub(crate) async fn build(
        plugin: Arc<Plugin<NotifierPlugin>>,
        config_json: String,
    ) -> Result<Self, String> {
        Ok(WasmNotifier {
            sandbox: Sandbox::new(plugin, config_json, None).await?,
        })
    }
}

#[async_trait]
impl Notifier for WasmNotifier {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        let event = convert::event(event);
        let fault = |f: Fault| {
            let outcome = f.report(self.sandbox.name());
            NotifyError {
                message: outcome.admin_detail.unwrap_or(outcome.message),
                retryable: true,
            }
        };
        let mut live = self
            .sandbox
            .checkout(Vec::new(), Lends::Nothing)
            .await
            .map_err(fault)?;
        let until = live.until();
        let result = crate::sandbox::bounded(
            until,
            live.bindings
                .writeback_plugin_notifier()
                .call_notify(&mut live.store, &event),
        )
        .await;
        match self.sandbox.finish(live, result).map_err(fault)? {
            Ok(()) => Ok(()),
            Err(e) => Err(NotifyError {
                message: format!(
                    "WASM notifier `{}`: {}",
                    self.sandbox.name(),
                    clip(e.message, 1024)
                ),
                retryable: e.retryable,
            }),
        }
    }
}

#[async_trait]
impl WasmConnector for NotifierPlugin {
    type Connector = dyn Notifier;

    fn validate(_plugin: &Plugin<Self>, config: &ConnectorConfig) -> Result<(), ConfigError> {
        crate::factory::config_json(config).map(|_| ())
    }

    async fn build(
        plugin: Arc<Plugin<Self>>,
        config: &ConnectorConfig,
        _ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Notifier>, ConfigError> {
        let json = crate::factory::config_json(config)?;
        let notifier = WasmNotifier::build(plugin, json)
            .await
            .map_err(|m| config.error("", m))?;
        Ok(Arc::new(notifier))
    }
}
