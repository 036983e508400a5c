//! The host's `[[plugins]]` loader for `.wasm` components.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use writeback_core::ConfigError;
use writeback_host::{PluginLoader, PluginSpec, Registry};

use crate::{default_cache_dir, CompileCache, PluginOptions, WasmError, WasmFactory, WasmPlugins};

/// Loads `[[plugins]] path = "x.wasm"` entries. The engine starts on the first load,
/// so a config without WASM plugins costs nothing.
pub struct WasmLoader {
    cache: Option<CompileCache>,
    plugins: OnceLock<Result<WasmPlugins, WasmError>>,
}

impl Default for WasmLoader {
    /// Compiled components are cached in [`default_cache_dir`].
    fn default() -> Self {
        WasmLoader::new(default_cache_dir().map(CompileCache::new))
    }
}

impl WasmLoader {
    pub fn new(cache: Option<CompileCache>) -> Self {
        WasmLoader {
            cache,
            plugins: OnceLock::new(),
        }
    }

    /// The shared engine (started on first use).
    pub fn plugins(&self) -> Result<&WasmPlugins, WasmError> {
        self.plugins
            .get_or_init(|| WasmPlugins::new(self.cache.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The sandbox options of one entry, with errors naming its key.
pub fn options_from_spec(spec: &PluginSpec) -> Result<PluginOptions, ConfigError> {
    let mut table = spec.table.clone();
    table.insert(
        "path".into(),
        toml::Value::String(spec.path.display().to_string()),
    );
    let mut options: PluginOptions = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| {
            let key = e.path().to_string();
            let message = e.into_inner().message().to_string();
            entry_error(
                spec,
                Some(key.as_str()).filter(|k| !k.is_empty() && *k != "."),
                message,
            )
        })?;
    options
        .check()
        .map_err(|(key, m)| entry_error(spec, Some(key), m))?;
    if let Some(ca) = &options.http_ca_file {
        if ca.is_relative() {
            let dir = spec.path.parent().unwrap_or(Path::new("."));
            options.http_ca_file = Some(dir.join(ca));
        }
    }
    Ok(options)
}

/// An error about the entry; the host adds the entry's place (`plugins[N]`, file, line).
fn entry_error(spec: &PluginSpec, key: Option<&str>, message: String) -> ConfigError {
    match key {
        Some(k) => ConfigError::new(format!(
            "WASM plugin {}: `{k}` {message}",
            spec.path.display()
        )),
        None => ConfigError::new(format!("WASM plugin {}: {message}", spec.path.display())),
    }
}

impl PluginLoader for WasmLoader {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn accepts(&self, path: &Path) -> bool {
        path.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wasm"))
    }

    fn load(&self, spec: &PluginSpec, registry: &mut Registry) -> Result<(), ConfigError> {
        let options = options_from_spec(spec)?;
        let plugins = self
            .plugins()
            .map_err(|e| entry_error(spec, None, e.to_string()))?;
        // The trait is synchronous. Loading runs guest code only for `describe` (no
        // host I/O), so a small executor on this thread drives it.
        // The message from `load` starts with the file's path already.
        let loaded = futures::executor::block_on(plugins.load(options))
            .map_err(|m| ConfigError::new(format!("WASM plugin {m}")))?;
        let meta = loaded.meta();
        tracing::info!(
            plugin = %meta.name,
            version = %meta.version,
            world = %meta.world,
            cache = ?meta.cache,
            path = %meta.path.display(),
            "WASM plugin loaded"
        );
        match loaded.factory() {
            WasmFactory::Policy(f) => registry.register_policy(f),
            WasmFactory::Notifier(f) => registry.register_notifier(f),
            WasmFactory::Target(f) => registry.register_target(f),
            WasmFactory::Source(f) => registry.register_source(f),
        }
        Ok(())
    }
}

/// The loader as the registry takes it.
pub fn loader() -> Arc<dyn PluginLoader> {
    Arc::new(WasmLoader::default())
}
