//! The config loader (crates/host config.rs on crates/core config.rs): TOML text to a
//! `Config`. Any text must give a config or an error that names the file and, where it
//! can, the line; the line must be one the file has.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use writeback_host::Config;

fuzz_target!(|text: &str| {
    let path = Path::new("/etc/writeback/writeback.toml");
    match Config::parse(text, path) {
        Ok(config) => {
            let d = config.pipeline.deadline_ms;
            assert!(d >= 1 && d <= 600_000);
            assert!(config.pipeline.max_in_flight >= 1);
            let _ = config.all_connectors();
            assert_eq!(config.base_dir(), Path::new("/etc/writeback"));
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            let lines = text.split('\n').count();
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= lines, "line {line} of {lines}");
            }
            let shown = e.to_string();
            assert!(
                shown.starts_with("/etc/writeback/writeback.toml"),
                "{shown}"
            );
        }
    }
});
