//! The data every sandbox store carries: an empty WASI context (no preopens, no
//! environment, no arguments, no sockets), the memory limiter, the current call, and
//! the state of each capability (log, http, directory) the config granted. This is
//! the one place that knows every capability; they only know [`Call`].

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use writeback_core::Password;

use crate::call::{Call, Limit};
use crate::directory::{DirectoryGrant, DirectoryState, DirectoryView};
use crate::http::{HttpGrant, HttpState, HttpView};
use crate::log::{LogState, LogView};

/// Bytes one table element is counted as (a function reference on a 64-bit host).
const TABLE_ELEMENT_BYTES: usize = 8;

/// The memory cap of one store (one instance): every linear memory and table of the
/// component counts against one total, so a component with several memories or a
/// large table gets no more than `memory_mb` in all.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub cap: usize,
    /// Set when the guest asked for more than the cap: the call then traps.
    pub refused: Option<usize>,
    /// Bytes of all memories and tables of the store so far.
    pub used: usize,
}

impl MemoryLimiter {
    pub fn new(cap: usize) -> Self {
        MemoryLimiter {
            cap,
            refused: None,
            used: 0,
        }
    }

    /// Grows one memory or table from `current` to `desired` bytes, or refuses when
    /// the store's total would pass the cap.
    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.cap {
            self.refused = Some(total);
            // An error (not `Ok(false)`) traps at once: a guest allocator that gets a
            // failed grow may spin or abort in confusing ways.
            return Err(wasmtime::Error::msg("memory cap reached"));
        }
        self.used = total;
        Ok(true)
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > 100_000 {
            return Ok(false);
        }
        self.grow(
            current.saturating_mul(TABLE_ELEMENT_BYTES),
            desired.saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        32
    }

    fn tables(&self) -> usize {
        32
    }

    fn memories(&self) -> usize {
        8
    }
}

/// The capabilities of one instance; `None` refuses every call of that import.
#[derive(Clone, Default)]
pub(crate) struct Grants {
    pub http: Option<Arc<HttpGrant>>,
    pub directory: Option<Arc<DirectoryGrant>>,
}

/// What one store holds: WASI, the memory cap, the current call, and one state per
/// capability. Each capability is linked with a getter that projects this onto its
/// own view (its state beside the read-only call), so capabilities know nothing of
/// each other or of this struct.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub call: Call,
    log: LogState,
    http: HttpState,
    directory: DirectoryState,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_cap: usize, grants: Grants) -> Self {
        HostState {
            // Nothing is granted: `WasiCtxBuilder::new()` has no preopened directories,
            // no environment, no arguments, no network, and stdio goes nowhere.
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_cap),
            call: Call::new(plugin),
            log: LogState::default(),
            http: HttpState::new(grants.http),
            directory: DirectoryState::new(grants.directory),
        }
    }

    /// Starts a call: its time limit, the passwords to keep out of logs, and fresh
    /// per-call counters of every capability.
    pub fn begin_call(&mut self, limit: Limit, redact: Vec<Password>) {
        self.call.begin(limit, redact);
        self.limiter.refused = None;
        self.log.begin_call();
        self.directory.begin_call();
    }

    /// Ends a call: the password copies are dropped (and zeroized) now.
    pub fn end_call(&mut self) {
        self.call.end();
    }

    pub fn log(&mut self) -> LogView<'_> {
        LogView {
            state: &mut self.log,
            call: &self.call,
        }
    }

    pub fn http(&mut self) -> HttpView<'_> {
        HttpView {
            state: &mut self.http,
            call: &self.call,
        }
    }

    pub fn directory(&mut self) -> DirectoryView<'_> {
        DirectoryView {
            state: &mut self.directory,
            call: &self.call,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn the_cap_is_one_total_for_every_memory_and_table_of_a_store() {
        let mut limiter = MemoryLimiter::new(16 * MIB);
        // Two memories of 10 MiB each: each alone is under the cap, together over.
        assert!(limiter.memory_growing(0, 10 * MIB, None).is_ok());
        assert!(limiter.memory_growing(0, 10 * MIB, None).is_err());
        assert_eq!(limiter.refused, Some(20 * MIB));
        // Growing the first memory within the cap still works.
        assert!(limiter.memory_growing(10 * MIB, 12 * MIB, None).is_ok());
        // A table counts too: 4 MiB worth of elements passes the remaining 4 MiB.
        let elements = 4 * MIB / TABLE_ELEMENT_BYTES + 1;
        assert!(limiter
            .table_growing(0, elements.min(100_000), None)
            .is_ok());
        let mut small = MemoryLimiter::new(MIB);
        assert!(small.table_growing(0, 100_000, None).is_ok());
        assert!(small.memory_growing(0, MIB, None).is_err());
    }
}
