//! One wasmtime engine for every WASM plugin of a host: the compiler settings, the
//! epoch ticker that bounds call time, and one linker per world that holds exactly
//! the imports that world grants.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, Store, UpdateDeadline};

use crate::cache::CompileCache;
use crate::state::{Grants, HostState};
use crate::world::World;
use crate::{deny, directory, http, log};

/// How often the epoch advances. A call overruns its deadline by at most about this.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The engine, its ticker and the per-world linkers.
pub struct WasmRuntime {
    pub(crate) engine: Engine,
    pub(crate) cache: Option<CompileCache>,
    /// WASI without grants and `log`: policies.
    pub(crate) log_linker: Linker<HostState>,
    /// … and `http`: notifiers and sources (a store without a grant refuses every URL).
    pub(crate) http_linker: Linker<HostState>,
    /// … and `directory`: targets (a store without a grant refuses every call).
    pub(crate) directory_linker: Linker<HostState>,
    /// [`CALL_SLOTS`] permits: one per instance in a call.
    call_slots: Arc<Semaphore>,
    /// Idle reused instances kept, at most [`IDLE_SLOTS`].
    idle: Arc<AtomicUsize>,
    _ticker: Ticker,
}

impl WasmRuntime {
    /// A runtime; `cache` is where compiled components are kept between starts.
    pub fn new(cache: Option<CompileCache>) -> wasmtime::Result<Self> {
        let engine = match Engine::new(&engine_config(true)) {
            Ok(engine) => engine,
            Err(e) => {
                // The pool reserves address space up front; where that is refused
                // (a `ulimit -v`), instances are allocated on demand instead.
                tracing::warn!(error = %e, "WASM instance pool unavailable; allocating instances on demand");
                Engine::new(&engine_config(false))?
            }
        };

        let mut log_linker = Linker::new(&engine);
        add_wasi_without_grants(&mut log_linker)?;
        log::add_to_linker(&mut log_linker, HostState::log)?;

        let mut http_linker = log_linker.clone();
        http::add_to_linker(&mut http_linker, HostState::http)?;

        let mut directory_linker = log_linker.clone();
        directory::add_to_linker(&mut directory_linker, HostState::directory)?;

        Ok(WasmRuntime {
            _ticker: Ticker::start(engine.clone()).map_err(|e| {
                wasmtime::Error::msg(format!("cannot start the WASM epoch thread: {e}"))
            })?,
            engine,
            cache,
            call_slots: Arc::new(Semaphore::new(CALL_SLOTS as usize)),
            idle: Arc::new(AtomicUsize::new(0)),
            log_linker,
            http_linker,
            directory_linker,
        })
    }

    /// The linker holding exactly the imports `world` grants.
    pub(crate) fn linker(&self, world: World) -> &Linker<HostState> {
        match world {
            World::Policy => &self.log_linker,
            World::Notifier | World::Source => &self.http_linker,
            World::Target => &self.directory_linker,
        }
    }

    /// A slot for one call, waiting in arrival order until `until` at most.
    pub(crate) async fn call_slot(&self, until: Instant) -> Option<OwnedSemaphorePermit> {
        let wait = self.call_slots.clone().acquire_owned();
        match tokio::time::timeout_at(tokio::time::Instant::from_std(until), wait).await {
            Ok(Ok(permit)) => Some(permit),
            _ => None,
        }
    }

    /// An idle place, if fewer than [`IDLE_SLOTS`] instances are idle.
    pub(crate) fn idle_place(&self) -> Option<IdlePlace> {
        let taken = self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < IDLE_SLOTS as usize).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| IdlePlace(self.idle.clone()))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A store for one instance, with the memory cap and the deadline check in place.
    pub(crate) fn new_store(
        &self,
        plugin: Arc<str>,
        memory_cap: usize,
        grants: Grants,
    ) -> Store<HostState> {
        let mut store = Store::new(&self.engine, HostState::new(plugin, memory_cap, grants));
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut ctx| {
            let call = &mut ctx.data_mut().call;
            if Instant::now() >= call.deadline {
                call.timed_out = true;
                return Err(wasmtime::Error::msg("the call's time limit was reached"));
            }
            // Not yet: give the executor its thread back for a moment, then go on.
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);
        store
    }
}

/// Slots of the instance pool: every live instance (in a call or idle) holds one.
pub(crate) const POOL_INSTANCES: u32 = 128;
/// Slots kept for idle reused instances, across all plugins of the host: an idle
/// instance never takes a slot a call is waiting for.
pub(crate) const IDLE_SLOTS: u32 = 32;
/// Instances in calls at once; a call beyond that waits for a slot (within its
/// deadline) instead of failing on a full pool.
pub(crate) const CALL_SLOTS: u32 = POOL_INSTANCES - IDLE_SLOTS;

/// Where an instance's pool slot comes from: a call's permit, or an idle place.
pub(crate) enum Hold {
    Call(#[allow(dead_code)] OwnedSemaphorePermit),
    Idle(#[allow(dead_code)] IdlePlace),
    /// Not counted yet (between states).
    Nothing,
}

/// One of the [`IDLE_SLOTS`] places; given back when the idle instance is dropped.
pub(crate) struct IdlePlace(Arc<AtomicUsize>);

impl Drop for IdlePlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn engine_config(pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Every loop back-edge and function entry checks the epoch: a guest that
    // never returns is interrupted at its deadline.
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    if pooling {
        // Pre-reserved memories, tables and fiber stacks: a fresh instance per call
        // costs a slot reset instead of mmap/munmap. The per-plugin memory cap is
        // still enforced by each store's limiter.
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES * 2)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(4 << 30)
            .table_elements(100_000);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// WASI is linked because every `wasm32-wasip2` component imports it, even for pure
/// functions. The context grants nothing; directory lookups are logged as refusals.
fn add_wasi_without_grants(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    deny::log_filesystem_requests(linker)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    /// Without the ticker no call could be interrupted, so failing to start it is fatal.
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(Ticker { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
