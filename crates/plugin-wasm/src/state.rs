//! The data every sandbox store carries: an empty WASI context (no preopens, no
//! environment, no arguments, no sockets), the memory limiter, the capabilities the
//! config granted, and the bookkeeping of the current call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use writeback_core::Password;

use crate::bindings::notifier::writeback::plugin::log;
use crate::directory::DirectoryGrant;
use crate::fault::clip;
use crate::http::HttpGrant;

/// Caps on what one guest call may write to the host's log.
const MAX_LOG_LINES_PER_CALL: u32 = 200;
const MAX_LOG_MESSAGE: usize = 2048;
const MAX_LOG_FIELDS: usize = 32;

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

/// The time one call may take (waiting for a slot and instantiation included).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limit {
    /// The limit as configured, or the time left before the request's deadline.
    pub time: Duration,
    /// When the call must end.
    pub until: Instant,
    /// `time` is the request's deadline (nearer than the plugin's `timeout_ms`).
    pub deadline: bool,
}

impl Limit {
    /// A limit of `time` from now that is not the request's deadline.
    pub fn from_now(time: Duration) -> Self {
        Limit {
            time,
            until: Instant::now() + time,
            deadline: false,
        }
    }
}

/// The capabilities of one instance; `None` refuses every call of that import.
#[derive(Clone, Default)]
pub(crate) struct Grants {
    pub http: Option<Arc<HttpGrant>>,
    pub directory: Option<Arc<DirectoryGrant>>,
}

/// What one store holds.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    /// The plugin's name, added to every log line it writes.
    pub plugin: Arc<str>,
    /// The capabilities the config granted this instance.
    pub grants: Grants,
    /// Directory operations made in the current call (capped per call).
    pub directory_calls: u32,
    /// When the current call must stop (checked on every epoch tick).
    pub deadline: Instant,
    /// Set by the epoch callback when it interrupted the call.
    pub timed_out: bool,
    /// The time limit of the current call (for the fault message).
    pub limit: Duration,
    /// The limit is the request's deadline (nearer than the plugin's `timeout_ms`).
    pub limit_is_deadline: bool,
    /// The passwords of the current call, so a guest that logs one gets it redacted.
    pub redact: Vec<Password>,
    log_lines: u32,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_cap: usize, grants: Grants) -> Self {
        HostState {
            // Nothing is granted: `WasiCtxBuilder::new()` has no preopened directories,
            // no environment, no arguments, no network, and stdio goes nowhere.
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_cap),
            plugin,
            grants,
            directory_calls: 0,
            deadline: Instant::now(),
            timed_out: false,
            limit: Duration::ZERO,
            limit_is_deadline: false,
            redact: Vec::new(),
            log_lines: 0,
        }
    }

    /// Starts a call: its time limit and the passwords to keep out of logs.
    pub fn begin_call(&mut self, limit: Limit, redact: Vec<Password>) {
        self.deadline = limit.until;
        self.limit = limit.time;
        self.limit_is_deadline = limit.deadline;
        self.timed_out = false;
        self.limiter.refused = None;
        self.redact = redact;
        self.log_lines = 0;
        self.directory_calls = 0;
    }

    /// Ends a call: the password copies are dropped (and zeroized) now.
    pub fn end_call(&mut self) {
        self.redact.clear();
    }

    /// The text with the call's passwords replaced, control characters blanked, and
    /// clipped to `max` bytes.
    pub fn scrub(&self, text: &str, max: usize) -> String {
        let mut text = text.to_string();
        for p in &self.redact {
            if !p.is_empty() && text.contains(p.expose()) {
                text = text.replace(p.expose(), "[redacted]");
            }
        }
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        clip(text, max)
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

impl log::Host for HostState {
    fn log(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<log::Field>,
    ) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES_PER_CALL {
            if self.log_lines == MAX_LOG_LINES_PER_CALL + 1 {
                tracing::warn!(plugin = %self.plugin, "WASM plugin logs too much; dropping its further lines for this call");
            }
            return Ok(());
        }
        let message = self.scrub(&message, MAX_LOG_MESSAGE);
        let mut rendered = String::new();
        for field in fields.iter().take(MAX_LOG_FIELDS) {
            if !rendered.is_empty() {
                rendered.push(' ');
            }
            rendered.push_str(&self.scrub(&field.key, 64));
            rendered.push('=');
            rendered.push_str(&self.scrub(&field.value, 256));
        }
        let plugin = &*self.plugin;
        match level {
            log::Level::Trace => tracing::trace!(plugin, fields = %rendered, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, fields = %rendered, "{message}"),
            log::Level::Info => tracing::info!(plugin, fields = %rendered, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, fields = %rendered, "{message}"),
            log::Level::Error => tracing::error!(plugin, fields = %rendered, "{message}"),
        }
        Ok(())
    }
}

impl crate::bindings::notifier::writeback::plugin::types::Host for HostState {}

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
