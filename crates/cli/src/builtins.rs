//! The binary's connector list: every built-in from `writeback-builtins` (all its
//! features on). Kept as functions here so the subcommands and the end-to-end tests
//! share one call.

use writeback_host::{HostOptions, Registry};

/// Every built-in connector type and plugin loader.
pub fn builtin_registry() -> Registry {
    writeback_builtins::registry()
}

/// Host options of the binary. The durable outbox is chosen by the host itself from
/// the config's `[outbox]` table.
pub fn builtin_options() -> HostOptions {
    HostOptions::default()
}
