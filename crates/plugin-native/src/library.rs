//! Opening a plugin library: the file, abi_stable's header, the interface version, the
//! layout of every type at the boundary, then the plugin object. Each failure becomes
//! one message that names the file and says what to do.
//!
//! Libraries are never unloaded (abi_stable leaks them on purpose: code and statics of
//! a plugin may still be referenced by connectors that are running).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use writeback_plugin_native_abi::{
    ConnectorConfig, ConnectorInfo, PluginBox, PluginModule_Ref, PolicyBox, INTERFACE_VERSION,
};

/// A loaded plugin library.
pub struct NativeLibrary {
    pub path: PathBuf,
    /// The plugin's own name and version (from `Plugin::new`).
    pub name: String,
    pub version: String,
    /// The interface version the library was built against.
    pub interface_version: String,
    pub(crate) plugin: Arc<PluginBox>,
}

impl std::fmt::Debug for NativeLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeLibrary")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("interface_version", &self.interface_version)
            .finish_non_exhaustive()
    }
}

impl NativeLibrary {
    /// Loads the library at `path` (runs its static initializers, as any dlopen does).
    pub fn open(path: &Path) -> Result<NativeLibrary, String> {
        let shown = path.display();
        if !path.is_file() {
            return Err(format!(
                "native plugin {shown}: no such file. Build the plugin (cargo build --release) and \
                 check `path` in its [[plugins]] entry (relative paths are relative to the config file)"
            ));
        }
        let header = lib_header_from_path(path).map_err(|e| explain(path, None, e))?;
        let interface_version = header.version_strings().to_string();
        let module = header
            .init_root_module::<PluginModule_Ref>()
            .map_err(|e| explain(path, Some(&interface_version), e))?;
        let plugin = module.new_plugin()()
            .into_result()
            .map_err(|message| format!("native plugin {shown} failed to start: {message}"))?;
        Ok(NativeLibrary {
            path: path.to_path_buf(),
            name: plugin.name().into_string(),
            version: plugin.version().into_string(),
            interface_version,
            plugin: Arc::new(plugin),
        })
    }

    /// Every connector type the library provides.
    pub fn connectors(&self) -> Vec<ConnectorInfo> {
        self.plugin.connectors().into_vec()
    }

    /// Builds one of the library's policies from a TOML table, without a host (for
    /// embedding programs and benchmarks). Wrap it in [`crate::policy::NativePolicy`].
    pub fn build_policy(&self, type_name: &str, table_toml: &str) -> Result<PolicyBox, String> {
        let config = ConnectorConfig::new(type_name, table_toml, ".");
        self.plugin
            .build_policy(type_name.into(), &config)
            .into_result()
            .map_err(|p| format!("{}: `{}`: {}", self.label(), p.key, p.message))
    }

    /// How messages name this library: `native plugin `acme` 1.2.0 (/path/libacme.so)`.
    pub fn label(&self) -> String {
        format!(
            "native plugin `{}` {} ({})",
            self.name,
            self.version,
            self.path.display()
        )
    }
}

/// One message per way loading can fail.
fn explain(path: &Path, built_against: Option<&str>, error: LibraryError) -> String {
    let shown = path.display();
    let host = INTERFACE_VERSION;
    match error {
        LibraryError::OpenError { err, .. } => format!(
            "cannot load {shown} as a dynamic library: {err}. A native plugin is a cdylib built \
             for this system (crate-type = [\"cdylib\"])"
        ),
        LibraryError::GetSymbolError { .. } => format!(
            "{shown} is not a writeback native plugin: it exports no plugin root module. Build it \
             with writeback-plugin-native-abi and `export_plugin!`"
        ),
        LibraryError::InvalidAbiHeader(found) => format!(
            "native plugin {shown} was built with an incompatible abi_stable (its header: {found:?}); \
             this writeback uses abi_stable 0.11: rebuild the plugin with abi_stable 0.11 and \
             writeback-plugin-native-abi {host}"
        ),
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => format!(
            "native plugin {shown} was built against writeback native plugin interface \
             {actual_version}, but this writeback speaks interface {expected_version}: only plugins \
             built against {}.x load. Rebuild the plugin against writeback-plugin-native-abi \
             {expected_version}",
            expected_version.major
        ),
        LibraryError::ParseVersionError(e) => format!(
            "native plugin {shown} declares an interface version that is not a version number ({e})"
        ),
        LibraryError::AbiInstability(e) => format!(
            "native plugin {shown} (interface {}) does not match this writeback's interface {host}: \
             its boundary types differ though the versions agree; rebuild it against \
             writeback-plugin-native-abi {host}. First differences: {}",
            built_against.unwrap_or("unknown"),
            first_lines(&e.to_string(), 12)
        ),
        LibraryError::RootModule { err, .. } => {
            format!("native plugin {shown} failed to initialise: {err}")
        }
        other => format!("cannot load native plugin {shown}: {}", first_lines(&other.to_string(), 12)),
    }
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join(" / ")
}

// `PluginModule_Ref` must be a root module for the loader to accept it; checked here so
// a change to the interface crate that broke it fails this crate's build.
const _: fn() = || {
    fn is_root_module<M: RootModule>() {}
    is_root_module::<PluginModule_Ref>();
};
