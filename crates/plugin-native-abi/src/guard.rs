//! Panics stop here. A panic that unwinds into an `extern "C"` function aborts the
//! whole host, so every call into plugin code runs inside `catch_unwind`, in the
//! plugin's own copy of the standard library, and a panic becomes an error value.
//!
//! The plugin's copy of the standard library has its own panic hook, and the default
//! one prints the panic's message to stderr. Rust's own messages quote the data they
//! were handed (a slicing panic prints the whole string): a password the plugin was
//! lent would land in the host's stderr and logs. So the first call into the plugin
//! installs a quiet hook that prints where the panic happened, never its message; the
//! message goes back to the host as an error value, and the host removes the
//! request's passwords from it before anyone sees it.

use std::any::Any;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

/// Replaces the plugin's panic hook with one that never prints the payload.
pub fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let place = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_else(|| "an unknown place".into());
            // One write, no formatting machinery of the payload; errors are ignored
            // (stderr may be closed) because a hook must not panic.
            let line = format!(
                "writeback native plugin: a panic at {place} (its message is withheld here \
                 because it may quote a password; the host reports it as plugin_fault)\n"
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
        }));
    });
}

/// Runs `f`; a panic becomes `Err` with the panic's message (cut to 200 characters).
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_panic_hook();
    // The closure's captures are only read again through its result; a panic leaves
    // nothing half-written that the caller goes on to use.
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_string());
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors() {
        assert_eq!(catch(|| 3), Ok(3));
        let err = catch(|| -> u8 { panic!("boom {}", 7) });
        assert_eq!(err, Err("boom 7".to_string()));
    }
}
