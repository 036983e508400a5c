//! One wasmtime engine for every WASM plugin of a host: the compiler settings, the
//! epoch ticker that bounds call time, the thread that drops used instances off the
//! request path, and one linker per world that holds exactly the imports that world
//! grants.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
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
    /// Drops used instances on its own thread; `None` when it could not start.
    reaper: Option<Reaper>,
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
            reaper: Reaper::start()
                .map_err(|e| tracing::warn!(error = %e, "cannot start the WASM reaper thread; used instances are dropped in the call"))
                .ok(),
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

    /// Drops a used instance on the reaper thread, so the call that used it need
    /// not wait while its pool slot is reset (its memory put back to the component's
    /// image). The instance keeps its slot until then, so the pool never counts a
    /// slot free before it is clean.
    pub(crate) fn discard(&self, used: Box<dyn Send>) {
        match &self.reaper {
            Some(reaper) => reaper.discard(used),
            None => drop(used),
        }
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

/// Bytes of each linear memory kept resident when its slot is reset: the pages the
/// guest wrote (found with the `PAGEMAP_SCAN` ioctl where the kernel has it, 6.7+)
/// are copied back from the component's image or zeroed, up to this much, instead of
/// being unmapped, so the next instance in the slot takes no page faults on them.
/// Beyond this the rest is unmapped as before. Either way the memory is back to the
/// image before the slot serves another instance.
pub(crate) const MEMORY_KEEP_RESIDENT: usize = 1 << 20;
/// The same for each table.
pub(crate) const TABLE_KEEP_RESIDENT: usize = 64 << 10;

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
    // Tables are filled when an instance is made (ahead of the call, in the background)
    // instead of entry by entry on the first indirect calls inside the request.
    config.table_lazy_init(false);
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
            .table_elements(100_000)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT)
            // Without the ioctl the first bytes are reset with `memset` whether the
            // guest wrote them or not; with it, only the written pages.
            .pagemap_scan(wasmtime::Enabled::Auto);
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

/// How long the reaper lets used instances pile up between two rounds while calls
/// keep coming: callers never wake it while it is working, so a call pays no
/// wake-up (and is not preempted by the reaper on its own core).
const REAP_EVERY: Duration = Duration::from_millis(1);

/// The thread that drops used instances; it ends when the runtime is dropped.
struct Reaper {
    queue: Arc<(Mutex<ReapQueue>, Condvar)>,
}

#[derive(Default)]
struct ReapQueue {
    items: Vec<Box<dyn Send>>,
    /// The reaper will look again within [`REAP_EVERY`]: no need to wake it.
    awake: bool,
    stop: bool,
}

impl Reaper {
    fn start() -> std::io::Result<Self> {
        let queue = Arc::new((Mutex::new(ReapQueue::default()), Condvar::new()));
        let theirs = queue.clone();
        std::thread::Builder::new()
            .name("wasm-reaper".into())
            .spawn(move || reap(&theirs))?;
        Ok(Reaper { queue })
    }

    fn discard(&self, used: Box<dyn Send>) {
        let (lock, wake) = &*self.queue;
        let mut queue = lock.lock().unwrap_or_else(PoisonError::into_inner);
        queue.items.push(used);
        let asleep = !std::mem::replace(&mut queue.awake, true);
        drop(queue);
        if asleep {
            wake.notify_one();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let (lock, wake) = &*self.queue;
        lock.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        wake.notify_one();
    }
}

/// The reaper's loop: take what piled up, drop it, pause; sleep when nothing came.
fn reap(queue: &(Mutex<ReapQueue>, Condvar)) {
    let (lock, wake) = queue;
    let mut batch = Vec::new();
    loop {
        {
            let mut queue = lock.lock().unwrap_or_else(PoisonError::into_inner);
            while queue.items.is_empty() {
                if queue.stop {
                    return;
                }
                queue.awake = false;
                queue = wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
            }
            std::mem::swap(&mut batch, &mut queue.items);
        }
        batch.clear();
        std::thread::sleep(REAP_EVERY);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::mpsc;

    /// Records the thread it is dropped on.
    struct Marker(mpsc::Sender<Option<String>>);

    impl Drop for Marker {
        fn drop(&mut self) {
            let _ = self
                .0
                .send(std::thread::current().name().map(str::to_string));
        }
    }

    #[test]
    fn used_instances_are_dropped_on_the_reaper_thread() {
        let runtime = WasmRuntime::new(None).unwrap_or_else(|e| panic!("runtime: {e}"));
        let (tx, rx) = mpsc::channel();
        // Some arrive while it sleeps, some while it is between two rounds.
        for _ in 0..3 {
            runtime.discard(Box::new(Marker(tx.clone())));
        }
        std::thread::sleep(REAP_EVERY * 5);
        for _ in 0..3 {
            runtime.discard(Box::new(Marker(tx.clone())));
        }
        for n in 0..6 {
            let thread = rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("instance {n} never dropped: {e}"));
            assert_eq!(thread.as_deref(), Some("wasm-reaper"));
        }
    }
}
