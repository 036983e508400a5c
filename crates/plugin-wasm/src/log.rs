//! The `log` capability every world imports: a guest's lines go to the host's log
//! with the plugin's name, its passwords redacted, and a cap per call.

use wasmtime::component::{HasData, Linker};

use crate::bindings::notifier::writeback::plugin::log;
use crate::call::Call;

/// Caps on what one guest call may write to the host's log.
const MAX_LOG_LINES_PER_CALL: u32 = 200;
const MAX_LOG_MESSAGE: usize = 2048;
const MAX_LOG_FIELDS: usize = 32;

/// What the capability keeps per store.
#[derive(Default)]
pub(crate) struct LogState {
    /// Lines written in the current call.
    lines: u32,
}

impl LogState {
    pub fn begin_call(&mut self) {
        self.lines = 0;
    }
}

/// The capability as one host call sees it: its own state and the current call.
pub(crate) struct LogView<'a> {
    pub state: &'a mut LogState,
    pub call: &'a Call,
}

/// The `HasData` projection for [`LogView`].
struct Log;

impl HasData for Log {
    type Data<'a> = LogView<'a>;
}

/// Links the `log` interface; `get` projects a store's data onto the capability.
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> LogView<'_>,
) -> wasmtime::Result<()> {
    log::add_to_linker::<T, Log>(linker, get)
}

impl log::Host for LogView<'_> {
    fn log(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<log::Field>,
    ) -> wasmtime::Result<()> {
        self.state.lines += 1;
        let plugin = &*self.call.plugin;
        if self.state.lines > MAX_LOG_LINES_PER_CALL {
            if self.state.lines == MAX_LOG_LINES_PER_CALL + 1 {
                tracing::warn!(
                    plugin,
                    "WASM plugin logs too much; dropping its further lines for this call"
                );
            }
            return Ok(());
        }
        let message = self.call.scrub(&message, MAX_LOG_MESSAGE);
        let mut rendered = String::new();
        for field in fields.iter().take(MAX_LOG_FIELDS) {
            if !rendered.is_empty() {
                rendered.push(' ');
            }
            rendered.push_str(&self.call.scrub(&field.key, 64));
            rendered.push('=');
            rendered.push_str(&self.call.scrub(&field.value, 256));
        }
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
