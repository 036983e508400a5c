//! Panics stop here. A panic that unwinds into an `extern "C"` function aborts the
//! whole host, so every call into plugin code runs inside `catch_unwind`, in the
//! plugin's own copy of the standard library, and a panic becomes an error value.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic becomes `Err` with the panic's message (cut to 200 characters).
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
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
