//! Unit tests of the `active-directory` target's own helpers (the modules test theirs).

use super::*;

#[test]
fn unicode_pwd_is_quoted_utf16le_with_surrogates() {
    assert_eq!(*unicode_pwd("ab"), vec![b'"', 0, b'a', 0, b'b', 0, b'"', 0]);
    // U+1F600 → D83D DE00
    assert_eq!(
        *unicode_pwd("😀"),
        vec![b'"', 0, 0x3d, 0xd8, 0x00, 0xde, b'"', 0]
    );
    assert_eq!(*unicode_pwd("é"), vec![b'"', 0, 0xe9, 0, b'"', 0]);
}
