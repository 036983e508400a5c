//! WASM component plugins for writeback, sandboxed with wasmtime.
//!
//! A plugin is one `.wasm` component built for a world of the WIT package
//! `writeback:plugin@0.1.0` (`wit/` at the repository root): `policy-plugin`,
//! `notifier-plugin`, `target-plugin` or `source-plugin`. It gets no ambient
//! authority: WASI is linked with an empty context (no files, no environment, no
//! sockets), and the only capabilities are structured logging, a clock, randomness,
//! HTTP to the URLs its `[[plugins]]` entry allows (notifiers and sources), and for
//! targets a directory handle confined to the server and subtree of the target's
//! `[targets.directory]` table. Every call has a memory cap and a time limit; a
//! trap, a limit hit or an invalid result fails that request with `plugin_fault`.
//!
//! Components are compiled once (kept in a [`CompileCache`] between starts) and
//! pre-linked (`InstancePre`): a policy call on a fresh instance costs tens of
//! microseconds, a notifier call on a reused instance about one.
//!
//! See docs/wasm-plugins.md for authors and administrators.

mod bindings;
mod cache;
mod call;
mod convert;
mod deny;
mod directory;
mod engine;
mod error;
mod factory;
mod fault;
mod http;
mod load;
mod loader;
mod log;
mod notifier;
mod options;
mod policy;
mod sandbox;
mod source;
mod state;
mod target;
mod world;

use std::path::PathBuf;
use std::sync::Arc;

use writeback_core::{CloudSource, ConnectorFactory, DirectoryTarget, Notifier, Policy};

pub use cache::{CacheUse, CompileCache};
pub use directory::{DirectoryConfig, DirectoryGrant, PASSWORD_MODIFY_OID};
pub use engine::{WasmRuntime, EPOCH_TICK};
pub use error::WasmError;
pub use fault::Fault;
pub use http::HttpGrant;
pub use load::LoadedPlugin;
pub use loader::{loader, options_from_spec, WasmLoader};
pub use notifier::WasmNotifier;
pub use options::{InstanceMode, PluginOptions};
pub use policy::WasmPolicy;
pub use sandbox::PluginMeta;
pub use source::{SourceSettings, WasmSource};
pub use target::WasmTarget;
pub use world::{World, WIT_VERSION};

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the checks every
/// value a guest hands back goes through, and the WIT types they take.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::bindings::notifier::writeback::plugin::types as wit;
    pub use crate::convert::{
        account_from_wit, failure_from_wit, identity_from_wit, initiator_from_wit,
        operation_from_wit, rules_from_wit,
    };
}

/// A factory made from a loaded component, for the host's registry.
#[derive(Clone)]
pub enum WasmFactory {
    Policy(Arc<dyn ConnectorFactory<dyn Policy>>),
    Notifier(Arc<dyn ConnectorFactory<dyn Notifier>>),
    Target(Arc<dyn ConnectorFactory<dyn DirectoryTarget>>),
    Source(Arc<dyn ConnectorFactory<dyn CloudSource>>),
}

/// Loads WASM plugins into one shared engine.
#[derive(Clone)]
pub struct WasmPlugins {
    runtime: Arc<WasmRuntime>,
}

impl WasmPlugins {
    /// An engine with its epoch ticker; `cache` keeps compiled components between starts.
    pub fn new(cache: Option<CompileCache>) -> Result<Self, WasmError> {
        let runtime = WasmRuntime::new(cache).map_err(|e| WasmError::Engine {
            reason: e.to_string(),
        })?;
        Ok(WasmPlugins {
            runtime: Arc::new(runtime),
        })
    }

    /// Loads, checks and links one component. Errors say what is wrong with the file.
    pub async fn load(&self, options: PluginOptions) -> Result<LoadedPlugin, WasmError> {
        load::load(&self.runtime, options).await
    }

    pub fn runtime(&self) -> &Arc<WasmRuntime> {
        &self.runtime
    }
}

impl LoadedPlugin {
    /// The connector factory for the host's registry; its `type` is the plugin's name.
    pub fn factory(&self) -> WasmFactory {
        use factory::WasmConnectorFactory as F;
        match &self.0 {
            load::Loaded::Policy(p) => WasmFactory::Policy(Arc::new(F::new(p.clone()))),
            load::Loaded::Notifier(p) => WasmFactory::Notifier(Arc::new(F::new(p.clone()))),
            load::Loaded::Target(p) => WasmFactory::Target(Arc::new(F::new(p.clone()))),
            load::Loaded::Source(p) => WasmFactory::Source(Arc::new(F::new(p.clone()))),
        }
    }
}

/// Where compiled components are kept when the config names no place:
/// `$WRITEBACK_WASM_CACHE`, else `$XDG_CACHE_HOME/writeback/wasm`, else
/// `$HOME/.cache/writeback/wasm`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WRITEBACK_WASM_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("writeback/wasm"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/writeback/wasm"))
}
