//! The [`PluginLoader`] for native libraries: `[[plugins]] path = "libacme.so"`.

use std::path::Path;
use std::sync::Arc;

use writeback_core::{
    CloudSource, ConfigError, ConnectorFactory, DirectoryTarget, Notifier, Policy,
};
use writeback_host::{PluginLoader, PluginSpec, Registry};
use writeback_plugin_native_abi::ConnectorKind;

use crate::factory::NativeFactory;
use crate::library::NativeLibrary;
use crate::settings::CallSettings;

/// Loads native plugin libraries (`.so`, `.dylib`, `.dll`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeLoader;

impl NativeLoader {
    pub fn new() -> Self {
        NativeLoader
    }
}

/// An error about the `[[plugins]]` entry; the host adds the file, line and entry
/// (`plugins[N]`), so only a key inside the entry is named here.
fn error(_spec: &PluginSpec, key: &str, message: String) -> ConfigError {
    match key {
        "" | "path" => ConfigError::new(message),
        key => ConfigError::new(format!("`{key}`: {message}")),
    }
}

impl PluginLoader for NativeLoader {
    fn name(&self) -> &'static str {
        "native"
    }

    fn accepts(&self, path: &Path) -> bool {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy())
            .unwrap_or_default();
        matches!(ext.as_ref(), "so" | "dylib" | "dll") || name.contains(".so.")
    }

    fn load(&self, spec: &PluginSpec, registry: &mut Registry) -> Result<(), ConfigError> {
        let settings = CallSettings::from_table(&spec.table).map_err(|(key, message)| {
            error(spec, &key, format!("native plugin settings: {message}"))
        })?;
        let library =
            Arc::new(NativeLibrary::open(&spec.path).map_err(|m| error(spec, "path", m))?);
        let connectors = library.connectors();
        if connectors.is_empty() {
            return Err(error(
                spec,
                "path",
                format!("{} provides no connector types", library.label()),
            ));
        }
        for info in &connectors {
            let type_name = info.type_name.as_str();
            let taken = match info.kind {
                ConnectorKind::SOURCE => registry.source(type_name).is_some(),
                ConnectorKind::TARGET => registry.target(type_name).is_some(),
                ConnectorKind::POLICY => registry.policy(type_name).is_some(),
                ConnectorKind::NOTIFIER => registry.notifier(type_name).is_some(),
                other => {
                    return Err(error(
                        spec,
                        "path",
                        format!(
                            "{} provides a connector of a kind this writeback does not know ({}): \
                             upgrade writeback",
                            library.label(),
                            other.0
                        ),
                    ))
                }
            };
            if taken {
                let origin = registry
                    .list()
                    .into_iter()
                    .find(|i| i.type_name == type_name && i.kind.singular() == info.kind.as_str())
                    .map(|i| i.origin)
                    .unwrap_or_default();
                return Err(error(
                    spec,
                    "path",
                    format!(
                        "{} provides {} type `{type_name}`, which is already registered ({origin}); \
                         a plugin cannot replace another connector type: rename it",
                        library.label(),
                        info.kind
                    ),
                ));
            }
            let factory = Arc::new(NativeFactory::new(library.clone(), info, settings.clone()));
            match info.kind {
                ConnectorKind::SOURCE => {
                    registry.register_source(factory as Arc<dyn ConnectorFactory<dyn CloudSource>>)
                }
                ConnectorKind::TARGET => registry
                    .register_target(factory as Arc<dyn ConnectorFactory<dyn DirectoryTarget>>),
                ConnectorKind::POLICY => {
                    registry.register_policy(factory as Arc<dyn ConnectorFactory<dyn Policy>>)
                }
                _ => registry.register_notifier(factory as Arc<dyn ConnectorFactory<dyn Notifier>>),
            }
        }
        tracing::info!(
            "loaded {} (interface {}): {}",
            library.label(),
            library.interface_version,
            connectors
                .iter()
                .map(|c| format!("{} `{}`", c.kind, c.type_name))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(())
    }
}
