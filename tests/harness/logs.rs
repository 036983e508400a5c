//! Every log line of the test process, kept in memory so tests can assert that no
//! password ever reaches one. Debug level, and trace for writeback's own crates, so
//! even chatty lines are searched (dependencies' trace output is left out).

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static CAPTURED: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(m) = CAPTURED.get() {
            m.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once per process.
pub fn init() {
    if CAPTURED.set(Mutex::new(Vec::new())).is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,writeback=trace"))
            .with_writer(|| Capture)
            .with_ansi(false)
            .try_init();
    }
}

/// Everything logged so far.
pub fn text() -> String {
    CAPTURED
        .get()
        .map(|m| String::from_utf8_lossy(&m.lock().unwrap_or_else(|p| p.into_inner())).into_owned())
        .unwrap_or_default()
}
