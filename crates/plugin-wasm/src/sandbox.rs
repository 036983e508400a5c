//! Instances and the life of one call: a slot of the instance pool, a store with its
//! limits, the deadline (enforced inside by epoch interruption and outside by
//! [`bounded`]), and turning whatever went wrong into a [`Fault`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::Store;
use writeback_core::Password;

use crate::cache::CacheUse;
use crate::call::Limit;
use crate::directory::DirectoryGrant;
use crate::engine::{Hold, WasmRuntime, EPOCH_TICK};
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
    /// Its slot of the instance pool (dropped with it).
    hold: Hold,
    /// It may serve another call after this one (reused instances, and calls that
    /// lend the guest no secret).
    reusable: bool,
}

impl<B> Live<B> {
    /// When the current call must end; see [`bounded`].
    pub fn until(&self) -> Instant {
        self.store.data().call.deadline
    }
}

/// Set as the error of a call the host abandoned at its deadline.
#[derive(Debug)]
struct AbandonedAtDeadline;

impl std::fmt::Display for AbandonedAtDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call was blocked in a host call at its deadline")
    }
}

impl std::error::Error for AbandonedAtDeadline {}

/// Bounds a guest call from outside. Epoch interruption only fires while guest code
/// runs; a guest blocked in a host call (a WASI sleep or poll) is never interrupted,
/// so the host stops waiting at the same deadline and drops the call (its instance is
/// then discarded by [`Sandbox::finish`]).
pub(crate) async fn bounded<R>(
    until: Instant,
    call: impl std::future::Future<Output = wasmtime::Result<R>>,
) -> wasmtime::Result<R> {
    // A little after the deadline, so a guest running code is stopped (and named) by
    // its own epoch check first.
    let at = tokio::time::Instant::from_std(until) + EPOCH_TICK * 2;
    match tokio::time::timeout_at(at, call).await {
        Ok(result) => result,
        Err(_) => Err(wasmtime::Error::new(AbandonedAtDeadline)),
    }
}

impl<B: Bindings> Plugin<B> {
    /// Fresh or reused instances: the plugin's entry, else the world's default.
    pub fn instances(&self) -> InstanceMode {
        self.options.instances.unwrap_or(B::INSTANCES)
    }

    /// A new instance, not configured. Time and memory limits already apply.
    pub async fn instantiate(
        &self,
        limit: Limit,
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
        let until = limit.until;
        match bounded(until, B::instantiate(&self.pre, &mut store)).await {
            Ok(bindings) => Ok(Live {
                store,
                bindings,
                hold: Hold::Nothing,
                reusable: false,
            }),
            Err(e) => Err(classify(&store, e, Fault::Instantiate)),
        }
    }

    /// A new instance with `config_json` applied. A refusal from the plugin's
    /// `configure` is returned as `Ok(Err(message))`.
    pub async fn configured(
        &self,
        config_json: &str,
        limit: Limit,
        redact: Vec<Password>,
        directory: Option<Arc<DirectoryGrant>>,
    ) -> Result<Result<Live<B>, String>, Fault> {
        let mut live = self.instantiate(limit, redact, directory).await?;
        let until = live.until();
        let result = bounded(until, live.bindings.configure(&mut live.store, config_json)).await;
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
    config_json: Arc<str>,
    mode: InstanceMode,
    /// The directory this connector's config grants (targets only).
    directory: Option<Arc<DirectoryGrant>>,
    /// Instances that served a call and may serve another.
    idle: Mutex<Vec<Live<B>>>,
    /// With fresh instances: one configured ahead, that no call has used yet.
    spare: Arc<Spare<B>>,
}

/// The next fresh instance, made in the background while the current call runs, so a
/// call does not wait for instantiation and `configure`. It is as fresh as one made
/// on demand: only `configure` has run in it.
struct Spare<B> {
    ready: Mutex<Option<Live<B>>>,
    /// A background task is making one.
    making: AtomicBool,
}

/// Whether a call lends the guest something secret (a password, or requests that
/// carry one). Only a call that lends nothing may run on an instance that served
/// another call when instances are fresh.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Lends {
    Secrets,
    Nothing,
}

impl<B: Bindings> Sandbox<B> {
    /// Configures a first instance: the plugin checks its config now, at build time.
    pub async fn new(
        plugin: Arc<Plugin<B>>,
        config_json: String,
        directory: Option<Arc<DirectoryGrant>>,
    ) -> Result<Self, String> {
        let mode = plugin.instances();
        let limit = Limit::from_now(plugin.options.timeout());
        let Some(slot) = plugin.runtime.call_slot(limit.until).await else {
            return Err(format!("the plugin {}", Fault::Busy { waited: limit.time }));
        };
        let mut live = match plugin
            .configured(&config_json, limit, Vec::new(), directory.clone())
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
            config_json: Arc::from(config_json),
            mode,
            directory,
            idle: Mutex::new(Vec::new()),
            spare: Arc::new(Spare {
                ready: Mutex::new(None),
                making: AtomicBool::new(false),
            }),
        };
        live.hold = Hold::Call(slot);
        live.reusable = mode == InstanceMode::Reused;
        sandbox.give_back(live);
        sandbox.make_spare();
        Ok(sandbox)
    }

    /// An instance ready for a call that must end within the plugin's time limit, or
    /// the request's deadline when that is nearer (waiting for a slot and
    /// instantiation included).
    pub async fn checkout(&self, redact: Vec<Password>, lends: Lends) -> Result<Live<B>, Fault> {
        let timeout = self.plugin.options.timeout();
        let time = writeback_core::deadline::bound(timeout);
        let started = Instant::now();
        let limit = Limit {
            time,
            until: started + time,
            deadline: time < timeout,
        };
        // Wait for a slot in arrival order: a full pool is backpressure, not a fault.
        let Some(slot) = self.plugin.runtime.call_slot(limit.until).await else {
            return Err(Fault::Busy {
                waited: started.elapsed(),
            });
        };
        let reusable = self.mode == InstanceMode::Reused || lends == Lends::Nothing;
        let ready = if reusable {
            self.idle.lock().ok().and_then(|mut v| v.pop())
        } else {
            let spare = self.spare.ready.lock().ok().and_then(|mut s| s.take());
            self.make_spare();
            spare
        };
        if let Some(mut live) = ready {
            live.hold = Hold::Call(slot);
            live.reusable = reusable;
            live.store.data_mut().begin_call(limit, redact);
            live.store.set_epoch_deadline(1);
            return Ok(live);
        }
        match self
            .plugin
            .configured(&self.config_json, limit, redact, self.directory.clone())
            .await?
        {
            Ok(mut live) => {
                live.hold = Hold::Call(slot);
                live.reusable = reusable;
                Ok(live)
            }
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

    /// Starts making the next fresh instance in the background, unless instances are
    /// reused, one is ready or being made, no idle place is free, or there is no
    /// runtime to make it on (it is then made on demand).
    fn make_spare(&self) {
        if self.mode != InstanceMode::Fresh {
            return;
        }
        if self.spare.ready.lock().map_or(true, |s| s.is_some()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.spare.making.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(place) = self.plugin.runtime.idle_place() else {
            self.spare.making.store(false, Ordering::Release);
            return;
        };
        let (plugin, json, directory, spare) = (
            self.plugin.clone(),
            self.config_json.clone(),
            self.directory.clone(),
            self.spare.clone(),
        );
        runtime.spawn(async move {
            let limit = Limit::from_now(plugin.options.timeout());
            // A refusal or a fault now is met again (and reported) by the call that
            // makes its instance on demand instead.
            if let Ok(Ok(mut live)) = plugin.configured(&json, limit, Vec::new(), directory).await {
                live.store.data_mut().end_call();
                live.hold = Hold::Idle(place);
                if let Ok(mut ready) = spare.ready.lock() {
                    *ready = Some(live);
                }
            }
            spare.making.store(false, Ordering::Release);
        });
    }

    /// Keeps a healthy instance for reuse when there is an idle place for it; its call
    /// slot is given back either way, so idle instances never hold slots calls need.
    fn give_back(&self, mut live: Live<B>) {
        if !live.reusable {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        if idle.len() >= 16 {
            return;
        }
        if let Some(place) = self.plugin.runtime.idle_place() {
            live.hold = Hold::Idle(place);
            idle.push(live);
        }
    }

    pub fn name(&self) -> &str {
        &self.plugin.name
    }
}

/// Names the cause of a failed call: the deadline, the memory cap, or a trap.
fn classify(store: &Store<HostState>, error: wasmtime::Error, other: fn(String) -> Fault) -> Fault {
    let state = store.data();
    if state.call.timed_out || error.is::<AbandonedAtDeadline>() {
        return Fault::TimeLimit {
            limit: state.call.limit,
            deadline: state.call.limit_is_deadline,
        };
    }
    if let Some(wanted) = state.limiter.refused {
        return Fault::MemoryCap {
            cap: state.limiter.cap,
            wanted,
        };
    }
    other(clip(format!("{error:?}"), 2048))
}
