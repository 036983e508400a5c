//! What can go wrong when the engine starts or a component is loaded, as one typed
//! error at the crate's edge. Each message names the file and says what is wrong with
//! it (or with its `[[plugins]]` entry), so an administrator knows what to fix.

use std::path::{Path, PathBuf};

/// The engine could not start, or a component could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WasmError {
    /// The wasmtime engine or its epoch thread could not start.
    #[error("cannot start the WASM engine: {reason}")]
    Engine { reason: String },
    /// A sandbox setting of the entry is out of range.
    #[error("`{key}` {message}")]
    Option { key: &'static str, message: String },
    /// The file could not be read.
    #[error("{}: cannot read the plugin file: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// The file is not a WebAssembly component (or is too large to be one we load).
    #[error("{}: {reason}", path.display())]
    NotAComponent { path: PathBuf, reason: String },
    /// wasmtime could not compile the component.
    #[error("{}: cannot compile the component: {reason}", path.display())]
    Compile { path: PathBuf, reason: String },
    /// The component (its world, imports or self-description) or its entry (an
    /// `allow_http` for a world without HTTP) is refused.
    #[error("{}: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
    /// The component's imports could not be linked to the host's.
    #[error("{}: cannot link the component: {reason}", path.display())]
    Link { path: PathBuf, reason: String },
    /// The component trapped or ran out of limits while being instantiated.
    #[error("{}: the plugin could not be instantiated: {reason}", path.display())]
    Instantiate { path: PathBuf, reason: String },
    /// The component's `describe` failed.
    #[error("{}: `describe` failed: {reason}", path.display())]
    Describe { path: PathBuf, reason: String },
}

impl WasmError {
    /// The component file the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            WasmError::Engine { .. } | WasmError::Option { .. } => None,
            WasmError::Unreadable { path, .. }
            | WasmError::NotAComponent { path, .. }
            | WasmError::Compile { path, .. }
            | WasmError::Refused { path, .. }
            | WasmError::Link { path, .. }
            | WasmError::Instantiate { path, .. }
            | WasmError::Describe { path, .. } => Some(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PluginOptions, WasmPlugins};

    fn load(path: &Path) -> Result<crate::LoadedPlugin, WasmError> {
        let plugins = WasmPlugins::new(None).unwrap();
        futures::executor::block_on(plugins.load(PluginOptions::for_path(path)))
    }

    #[test]
    fn a_file_that_cannot_be_loaded_is_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();

        let missing = dir.path().join("missing.wasm");
        let e = load(&missing).unwrap_err();
        assert!(matches!(e, WasmError::Unreadable { .. }), "{e:?}");
        assert_eq!(e.path(), Some(missing.as_path()));
        assert!(e.to_string().starts_with(&format!(
            "{}: cannot read the plugin file:",
            missing.display()
        )));

        let core = dir.path().join("core.wasm");
        std::fs::write(&core, [0, b'a', b's', b'm', 1, 0, 0, 0]).unwrap();
        let e = load(&core).unwrap_err();
        assert!(matches!(e, WasmError::NotAComponent { .. }), "{e:?}");
        assert!(e
            .to_string()
            .contains("core WebAssembly module, not a component"));

        let mut options = PluginOptions::for_path(&core);
        options.memory_mb = 0;
        let plugins = WasmPlugins::new(None).unwrap();
        let e = futures::executor::block_on(plugins.load(options)).unwrap_err();
        assert!(
            matches!(
                e,
                WasmError::Option {
                    key: "memory_mb",
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.path(), None);
    }
}
