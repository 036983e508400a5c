//! Test only: the connector kinds the example plugin does not show, and misbehaviour
//! on demand, so the end-to-end tests can run every kind through the real pipeline.
//!
//! * `test-inbox` (source): polls a directory for `*.json` request files and appends
//!   each outcome to an outbox file.
//! * `test-memory-directory` (target): a fixed list of users; applied operations are
//!   appended to a log file (kind and DN, never a password).
//! * `test-faulty-policy` (policy): panics (quoting the password) when the password
//!   contains `PANIC-NOW`, sleeps `sleep_ms` on `SLOW-NOW`, quotes the password in a
//!   rule on `LEAK-NOW`, returns a failure coded `succeeded` on `LIE-NOW`, otherwise
//!   passes. The target refuses `TARGET-LEAK` passwords, quoting them.

mod faulty;
mod inbox;
mod memory;

use writeback_plugin_native_abi::{export_plugin, Plugin};

fn plugin() -> Plugin {
    Plugin::new("native-test", env!("CARGO_PKG_VERSION"))
        .source::<inbox::Inbox>()
        .target::<memory::MemoryDirectory>()
        .policy::<faulty::FaultyPolicy>()
}

export_plugin!(plugin);
