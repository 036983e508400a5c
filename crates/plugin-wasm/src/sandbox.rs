//! Instances and the life of one call: a slot of the instance pool, a store with its
//! limits, the deadline (enforced inside by epoch interruption and outside by
//! [`bounded`]), and turning whatever went wrong into a [`Fault`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// With fresh instances: instances configured ahead, that no call has used yet.
    ahead: Arc<Mutex<Ahead<Live<B>>>>,
}

/// Instances fresh calls may take at most, made ahead per connector.
pub(crate) const MAX_AHEAD: usize = 8;
/// How long a connector keeps making more instances ahead than one after the last
/// call that found none ready.
const AHEAD_HOLD: Duration = Duration::from_secs(10);

/// The next fresh instances, made in the background while calls run, so a call does
/// not wait for instantiation and `configure`. Each is as fresh as one made on
/// demand: only `configure` has run in it. As many are kept as calls recently needed
/// at once: a call that finds none ready raises the count by one (up to
/// [`MAX_AHEAD`]); it falls back by one per [`AHEAD_HOLD`] without such a call.
struct Ahead<T> {
    ready: Vec<T>,
    /// Background tasks making one each.
    making: usize,
    /// How many to keep ready (1..=[`MAX_AHEAD`]).
    want: usize,
    /// The last time the count was raised or lowered.
    changed: Instant,
}

impl<T> Ahead<T> {
    fn new(now: Instant) -> Self {
        Ahead {
            ready: Vec::new(),
            making: 0,
            want: 1,
            changed: now,
        }
    }

    /// Takes a ready instance, adjusting how many to keep.
    fn take(&mut self, now: Instant) -> Option<T> {
        let live = self.ready.pop();
        if live.is_none() {
            self.want = (self.want + 1).min(MAX_AHEAD);
            self.changed = now;
        } else if self.want > 1 && now.duration_since(self.changed) >= AHEAD_HOLD {
            self.want -= 1;
            self.changed = now;
        }
        live
    }

    /// How many more to start making now.
    fn missing(&self) -> usize {
        self.want.saturating_sub(self.ready.len() + self.making)
    }
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
            ahead: Arc::new(Mutex::new(Ahead::new(Instant::now()))),
        };
        live.hold = Hold::Call(slot);
        live.reusable = mode == InstanceMode::Reused;
        sandbox.give_back(live);
        sandbox.make_ahead();
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
            let ready = self
                .ahead
                .lock()
                .ok()
                .and_then(|mut a| a.take(Instant::now()));
            self.make_ahead();
            ready
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
    /// a healthy one is kept when instances are reused. A dropped instance goes to
    /// the runtime's reaper thread: the caller gets its result without waiting for
    /// the slot reset.
    pub fn finish<R>(&self, mut live: Live<B>, result: wasmtime::Result<R>) -> Result<R, Fault> {
        live.store.data_mut().end_call();
        match result {
            Ok(value) => {
                self.give_back(live);
                Ok(value)
            }
            Err(e) => {
                let fault = classify(&live.store, e, Fault::Trap);
                self.plugin.runtime.discard(Box::new(live));
                Err(fault)
            }
        }
    }

    /// Starts making fresh instances in the background until as many as wanted are
    /// ready or being made, unless instances are reused, no idle place is free, or
    /// there is no runtime to make them on (they are then made on demand).
    fn make_ahead(&self) {
        if self.mode != InstanceMode::Fresh {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut places = Vec::new();
        if let Ok(mut ahead) = self.ahead.lock() {
            for _ in 0..ahead.missing() {
                let Some(place) = self.plugin.runtime.idle_place() else {
                    break;
                };
                places.push(place);
            }
            ahead.making += places.len();
        }
        for place in places {
            let (plugin, json, directory, ahead) = (
                self.plugin.clone(),
                self.config_json.clone(),
                self.directory.clone(),
                self.ahead.clone(),
            );
            runtime.spawn(async move {
                let limit = Limit::from_now(plugin.options.timeout());
                // A refusal or a fault now is met again (and reported) by the call
                // that makes its instance on demand instead.
                let made = plugin.configured(&json, limit, Vec::new(), directory).await;
                let Ok(mut ahead) = ahead.lock() else {
                    return;
                };
                ahead.making -= 1;
                if let Ok(Ok(mut live)) = made {
                    live.store.data_mut().end_call();
                    live.hold = Hold::Idle(place);
                    ahead.ready.push(live);
                }
            });
        }
    }

    /// Keeps a healthy instance for reuse when there is an idle place for it; its call
    /// slot is given back either way, so idle instances never hold slots calls need.
    /// One not kept goes to the reaper.
    fn give_back(&self, mut live: Live<B>) {
        if live.reusable {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < 16 {
                    if let Some(place) = self.plugin.runtime.idle_place() {
                        live.hold = Hold::Idle(place);
                        idle.push(live);
                        return;
                    }
                }
            }
        }
        self.plugin.runtime.discard(Box::new(live));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_made_ahead_follow_the_calls_that_found_none_ready() {
        let start = Instant::now();
        let mut ahead = Ahead::<u32>::new(start);
        assert_eq!(ahead.missing(), 1);
        // Eight calls at once find none ready: one more is wanted for each, up to the cap.
        for _ in 0..12 {
            assert_eq!(ahead.take(start), None);
        }
        assert_eq!(ahead.want, MAX_AHEAD);
        ahead.making = 3;
        ahead.ready = vec![1, 2];
        assert_eq!(ahead.missing(), MAX_AHEAD - 5);
        // Calls that find one ready do not lower it within the hold time ...
        assert_eq!(ahead.take(start + AHEAD_HOLD / 2), Some(2));
        assert_eq!(ahead.want, MAX_AHEAD);
        // ... and lower it by one per hold time after the last call that found none.
        assert_eq!(ahead.take(start + AHEAD_HOLD), Some(1));
        assert_eq!(ahead.want, MAX_AHEAD - 1);
        ahead.ready = vec![1; 10];
        let mut now = start + AHEAD_HOLD;
        for _ in 0..MAX_AHEAD + 2 {
            now += AHEAD_HOLD;
            ahead.take(now);
        }
        assert_eq!(ahead.want, 1, "never below one");
        assert_eq!(ahead.missing(), 0, "more ready than wanted: none made");
    }
}
