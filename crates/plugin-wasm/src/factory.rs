//! One connector factory for every world: [`WasmConnectorFactory`] is generic over a
//! world's bindings, and each world says in [`WasmConnector`] which connector trait it
//! builds, how its table is checked and how the connector is built. Also here: the
//! factory's names and how a connector's table reaches the guest.
//!
//! Not a `TypedFactory`: its type name and description are constants there, while a
//! WASM factory's come from the component at load time, and the guest (not a serde
//! type) is the judge of its own table.

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, ConnectorFactory};

use crate::options::InstanceMode;
use crate::sandbox::{Plugin, PluginMeta};
use crate::world::Bindings;

/// What a world adds to the generic factory.
#[async_trait]
pub(crate) trait WasmConnector: Bindings {
    /// The connector trait object this world's components become (`dyn Policy`, …).
    type Connector: ?Sized + Send + Sync + 'static;

    /// Checks the table without I/O (the host's own keys and the guest's JSON).
    fn validate(plugin: &Plugin<Self>, config: &ConnectorConfig) -> Result<(), ConfigError>;

    /// Builds the connector: configures a first instance, so the plugin checks its
    /// table now.
    async fn build(
        plugin: Arc<Plugin<Self>>,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<Self::Connector>, ConfigError>;
}

/// Builds connectors of one loaded component; its `type` is the component's own name.
pub(crate) struct WasmConnectorFactory<B: Bindings> {
    plugin: Arc<Plugin<B>>,
    type_name: &'static str,
    description: &'static str,
}

impl<B: Bindings> WasmConnectorFactory<B> {
    pub fn new(plugin: Arc<Plugin<B>>) -> Self {
        let (type_name, description) = names(&plugin.meta, plugin.instances());
        WasmConnectorFactory {
            plugin,
            type_name,
            description,
        }
    }
}

/// The erased trait for one world. Written per world (by this macro) rather than as
/// one generic impl: core's blanket impl for `TypedFactory` types makes a generic
/// `ConnectorFactory<B::Connector>` impl overlap in the compiler's eyes.
macro_rules! connector_factory {
    ($bindings:ty) => {
        #[async_trait]
        impl ConnectorFactory<<$bindings as WasmConnector>::Connector>
            for WasmConnectorFactory<$bindings>
        {
            fn type_name(&self) -> &'static str {
                self.type_name
            }

            fn description(&self) -> &'static str {
                self.description
            }

            fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
                <$bindings as WasmConnector>::validate(&self.plugin, config)
            }

            async fn build(
                &self,
                config: &ConnectorConfig,
                ctx: &BuildContext<'_>,
            ) -> Result<Arc<<$bindings as WasmConnector>::Connector>, ConfigError> {
                <$bindings as WasmConnector>::build(self.plugin.clone(), config, ctx).await
            }
        }
    };
}

connector_factory!(crate::bindings::policy::PolicyPlugin);
connector_factory!(crate::bindings::notifier::NotifierPlugin);
connector_factory!(crate::bindings::target::TargetPlugin);
connector_factory!(crate::bindings::source::SourcePlugin);

/// Largest configuration handed to a guest.
const MAX_CONFIG_JSON: usize = 256 * 1024;

/// The `type` name and the `plugins list` line. Factories outlive the host, and the
/// names come from the component at run time, so they are leaked once per load.
pub(crate) fn names(meta: &PluginMeta, mode: InstanceMode) -> (&'static str, &'static str) {
    let type_name: &'static str = Box::leak(meta.name.clone().into_boxed_str());
    let mode = match mode {
        InstanceMode::Fresh => "fresh instance per call",
        InstanceMode::Reused => "reused instances",
    };
    // The file is listed beside it (the registry's origin), so it is not repeated.
    let line = format!(
        "WASM {} {} ({}, {}): {}",
        meta.world.interface(),
        meta.version,
        meta.world,
        mode,
        meta.description
    );
    (type_name, Box::leak(line.into_boxed_str()))
}

/// The connector's table without the keys the host takes for itself (a target's
/// `directory`, a source's poll settings), as the JSON text `configure` receives.
pub(crate) fn guest_json(
    config: &ConnectorConfig,
    host_keys: &[&str],
) -> Result<String, ConfigError> {
    let mut guest = config.clone();
    for key in host_keys {
        guest.table.remove(*key);
    }
    config_json(&guest)
}

/// The connector's table as the JSON text `configure` receives.
pub(crate) fn config_json(config: &ConnectorConfig) -> Result<String, ConfigError> {
    let json = serde_json::to_string(&config.table).map_err(|e| {
        config.error(
            "",
            format!("cannot pass this table to the WASM plugin: {e}"),
        )
    })?;
    if json.len() > MAX_CONFIG_JSON {
        return Err(config.error(
            "",
            format!("the table is over {} KiB", MAX_CONFIG_JSON / 1024),
        ));
    }
    Ok(json)
}
