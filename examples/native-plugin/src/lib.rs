//! An example native plugin for writeback: one policy and one notifier.
//!
//! * `example-forbidden-words` (policy): refuses passwords that contain any of the
//!   configured words, ignoring case.
//! * `example-jsonl-file` (notifier): appends one JSON line per finished request to a
//!   file.
//!
//! Build it with `cargo build --release -p writeback-example-native-plugin`, then name
//! `target/release/libwriteback_example_native_plugin.so` in a `[[plugins]]` entry.

mod forbidden_words;
mod jsonl_file;

use writeback_plugin_native_abi::{export_plugin, Plugin};

/// Every connector type this library provides.
fn plugin() -> Plugin {
    Plugin::new("example", env!("CARGO_PKG_VERSION"))
        .policy::<forbidden_words::ForbiddenWords>()
        .notifier::<jsonl_file::JsonlFile>()
}

export_plugin!(plugin);
