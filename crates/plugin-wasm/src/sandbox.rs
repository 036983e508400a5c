//! Instances and the life of one call: a store with its limits, the deadline, and
//! turning whatever went wrong into a [`Fault`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::Store;
use writeback_core::Password;

use crate::cache::CacheUse;
use crate::directory::DirectoryGrant;
use crate::engine::WasmRuntime;
use crate::fault::{clip, Fault};
use crate::http::HttpGrant;
use crate::options::{InstanceMode, PluginOptions};
use crate::state::{Grants, HostState};
use crate::world::{Bindings, World};

/// What a loaded plugin says about itself.
#[derive(Clone, Debug)]
pub struct PluginMeta {
    pub name: String,
    pub version: String,
    pub description: String,
    pub world: World,
    pub path: PathBuf,
    pub cache: CacheUse,
}

/// A compiled, pre-linked component and its sandbox settings. Shared by every
/// connector built from it.
pub(crate) struct Plugin<B: Bindings> {
    pub meta: PluginMeta,
    pub name: Arc<str>,
    pub pre: B::Pre,
    pub runtime: Arc<WasmRuntime>,
    pub options: PluginOptions,
    pub http: Option<Arc<HttpGrant>>,
}

/// A live instance in its own store.
pub(crate) struct Live<B> {
    pub store: Store<HostState>,
    pub bindings: B,
}

impl<B: Bindings> Plugin<B> {
    /// A new instance, not configured. Time and memory limits already apply.
    pub async fn instantiate(
        &self,
        limit: Duration,
        redact: Vec<Password>,
        directory: Option<Arc<DirectoryGrant>>,
    ) -> Result<Live<B>, Fault> {
        let grants = Grants {
            http: self.http.clone(),
            directory,
        };
        let mut store =
            self.runtime
                .new_store(self.name.clone(), self.options.memory_bytes(), grants);
        store.data_mut().begin_call(limit, redact);
        match B::instantiate(&self.pre, &mut store).await {
            Ok(bindings) => Ok(Live { store, bindings }),
            Err(e) => Err(classify(&store, e, Fault::Instantiate)),
        }
    }

    /// A new instance with `config_json` applied. A refusal from the plugin's
    /// `configure` is returned as `Ok(Err(message))`.
    pub async fn configured(
        &self,
        config_json: &str,
        limit: Duration,
        redact: Vec<Password>,
        directory: Option<Arc<DirectoryGrant>>,
    ) -> Result<Result<Live<B>, String>, Fault> {
        let mut live = self.instantiate(limit, redact, directory).await?;
        let result = live.bindings.configure(&mut live.store, config_json).await;
        match result {
            Ok(Ok(())) => Ok(Ok(live)),
            Ok(Err(message)) => Ok(Err(clip(message, 1024))),
            Err(e) => Err(classify(&live.store, e, Fault::Trap)),
        }
    }
}

/// One configured connector: the plugin, its config, and its instances.
pub(crate) struct Sandbox<B: Bindings> {
    pub plugin: Arc<Plugin<B>>,
    config_json: String,
    mode: InstanceMode,
    /// The directory this connector's config grants (targets only).
    directory: Option<Arc<DirectoryGrant>>,
    idle: Mutex<Vec<Live<B>>>,
}

impl<B: Bindings> Sandbox<B> {
    /// Configures a first instance: the plugin checks its config now, at build time.
    pub async fn new(
        plugin: Arc<Plugin<B>>,
        config_json: String,
        mode: InstanceMode,
        directory: Option<Arc<DirectoryGrant>>,
    ) -> Result<Self, String> {
        let live = match plugin
            .configured(
                &config_json,
                plugin.options.timeout(),
                Vec::new(),
                directory.clone(),
            )
            .await
        {
            Ok(Ok(live)) => live,
            Ok(Err(message)) => {
                return Err(format!("the plugin refused its configuration: {message}"))
            }
            Err(fault) => return Err(format!("the plugin {fault}")),
        };
        let sandbox = Sandbox {
            plugin,
            config_json,
            mode,
            directory,
            idle: Mutex::new(Vec::new()),
        };
        sandbox.give_back(live);
        Ok(sandbox)
    }

    /// An instance ready for a call that must end within the plugin's time limit, or
    /// the request's deadline when that is nearer (instantiation included).
    pub async fn checkout(&self, redact: Vec<Password>) -> Result<Live<B>, Fault> {
        let limit = writeback_core::deadline::bound(self.plugin.options.timeout());
        if self.mode == InstanceMode::Reused {
            let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
            if let Some(mut live) = idle {
                live.store.data_mut().begin_call(limit, redact);
                live.store.set_epoch_deadline(1);
                return Ok(live);
            }
        }
        match self
            .plugin
            .configured(&self.config_json, limit, redact, self.directory.clone())
            .await?
        {
            Ok(live) => Ok(live),
            // It accepted this config at build time: refusing it now is a fault.
            Err(message) => Err(Fault::InvalidResult(format!(
                "configure refused its config: {message}"
            ))),
        }
    }

    /// Ends a call: the result, or the fault it became. A faulted instance is dropped;
    /// a healthy one is kept when instances are reused.
    pub fn finish<R>(&self, mut live: Live<B>, result: wasmtime::Result<R>) -> Result<R, Fault> {
        live.store.data_mut().end_call();
        match result {
            Ok(value) => {
                self.give_back(live);
                Ok(value)
            }
            Err(e) => Err(classify(&live.store, e, Fault::Trap)),
        }
    }

    fn give_back(&self, live: Live<B>) {
        if self.mode == InstanceMode::Reused {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < 16 {
                    idle.push(live);
                }
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.plugin.name
    }
}

/// Names the cause of a failed call: the deadline, the memory cap, or a trap.
fn classify(store: &Store<HostState>, error: wasmtime::Error, other: fn(String) -> Fault) -> Fault {
    let state = store.data();
    if state.timed_out {
        return Fault::TimeLimit(state.limit);
    }
    if let Some(wanted) = state.limiter.refused {
        return Fault::MemoryCap {
            cap: state.limiter.cap,
            wanted,
        };
    }
    other(clip(format!("{error:?}"), 2048))
}
