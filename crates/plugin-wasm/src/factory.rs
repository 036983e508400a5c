//! What every WASM connector factory shares: its names and how a connector's table
//! reaches the guest.

use writeback_core::{ConfigError, ConnectorConfig};

use crate::options::InstanceMode;
use crate::sandbox::PluginMeta;

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
