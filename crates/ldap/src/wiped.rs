//! Bytes for an LDAP modify that are wiped when dropped: the password values the
//! targets write (`userPassword`, `unicodePwd`). ldap3's `Mod` keeps values in a
//! `HashSet`, which `zeroize::Zeroizing` cannot go into (it has no `Hash`).

use zeroize::Zeroize;

/// Owned bytes, zeroed on drop. Equality and hashing are over the bytes, as ldap3's
/// `Mod` needs; there is no `Debug`, so a value cannot end up in a log.
#[derive(PartialEq, Eq, Hash)]
pub struct WipedBytes(Vec<u8>);

impl WipedBytes {
    /// A wiped copy of `bytes` (the caller's own copy is the caller's to wipe).
    pub fn copy_of(bytes: &[u8]) -> Self {
        WipedBytes(bytes.to_vec())
    }
}

impl From<zeroize::Zeroizing<Vec<u8>>> for WipedBytes {
    /// Takes the buffer itself over: no copy is made.
    fn from(mut value: zeroize::Zeroizing<Vec<u8>>) -> Self {
        WipedBytes(std::mem::take(&mut *value))
    }
}

impl AsRef<[u8]> for WipedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for WipedBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_buffer_over_and_compares_by_bytes() {
        let buffer = zeroize::Zeroizing::new(b"Marker-Pass-1".to_vec());
        let at = buffer.as_ptr();
        let wiped = WipedBytes::from(buffer);
        assert_eq!(wiped.as_ref().as_ptr(), at, "no copy");
        assert!(wiped == WipedBytes::copy_of(b"Marker-Pass-1"));
        let set = std::collections::HashSet::from([wiped]);
        assert!(set.contains(&WipedBytes::copy_of(b"Marker-Pass-1")));
    }
}
