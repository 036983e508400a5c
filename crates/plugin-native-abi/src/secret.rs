//! Passwords at the boundary. Neither type has `Debug`, `Display` or `Serialize`, so a
//! password cannot end up in a log line by accident; read the characters with
//! `expose()` at the one place that checks or writes them.
//!
//! * [`PasswordView`] — host → plugin: a borrowed view of the host's own password (the
//!   host zeroizes it). Nothing is copied, so a policy call costs no allocation.
//! * [`Secret`] — an owned password (plugin → host: a source's request). Its bytes are
//!   zeroized when it is dropped, on whichever side drops it.

use abi_stable::std_types::{RStr, RVec};
use abi_stable::StableAbi;
use zeroize::Zeroize;

/// A password the host lends for the length of one call.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct PasswordView<'a> {
    chars: RStr<'a>,
}

impl<'a> PasswordView<'a> {
    /// Used by the host (and by tests) to lend a password.
    pub fn new(chars: &'a str) -> Self {
        PasswordView {
            chars: RStr::from_str(chars),
        }
    }

    /// The characters. Never log, store or echo them.
    pub fn expose(&self) -> &'a str {
        self.chars.as_str()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn char_count(&self) -> usize {
        self.chars.as_str().chars().count()
    }

    /// An owned copy, zeroized on drop (for a plugin that must keep it past the call).
    pub fn to_secret(&self) -> Secret {
        Secret::new(self.expose())
    }
}

/// An owned password, zeroized on drop on either side of the boundary.
#[repr(C)]
#[derive(StableAbi)]
pub struct Secret {
    /// UTF-8, allocated with exactly its length so no copy lingers in spare capacity.
    bytes: RVec<u8>,
}

impl Secret {
    pub fn new(chars: &str) -> Self {
        let mut bytes = Vec::with_capacity(chars.len());
        bytes.extend_from_slice(chars.as_bytes());
        Secret {
            bytes: RVec::from(bytes),
        }
    }

    /// No password (an unlock, or a reset without the old password).
    pub fn empty() -> Self {
        Secret { bytes: RVec::new() }
    }

    /// The characters. Never log, store or echo them. A value that is not UTF-8 (only
    /// possible if a side built it by hand) reads as empty, which every check refuses.
    pub fn expose(&self) -> &str {
        std::str::from_utf8(self.bytes.as_slice()).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn view(&self) -> PasswordView<'_> {
        PasswordView::new(self.expose())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.bytes.as_mut_slice().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_round_trips_and_views_borrow() {
        let s = Secret::new("Marker-pw-1");
        assert_eq!(s.expose(), "Marker-pw-1");
        assert_eq!(s.view().char_count(), 11);
        assert_eq!(s.view().to_secret().expose(), "Marker-pw-1");
        assert!(Secret::empty().is_empty());
    }
}
