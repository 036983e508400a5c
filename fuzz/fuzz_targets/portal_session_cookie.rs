//! Opening the password page's session from a request's `Cookie` headers
//! (plugins/source-portal wire.rs `cookie`, session.rs `Store`). The input is up to
//! eight header values (split at newlines). A session opens only when the first
//! usable `__Host-wb-portal` pair — trimmed, name exact, value not empty and at most
//! 128 bytes — holds exactly its id; any cookie read is such a value.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use writeback_source_portal::fuzzing::{
    cookie, cookie_headers, OneSession, MAX_COOKIE_VALUE, SESSION_COOKIE_NAME,
};

/// A session id as the page makes them (32 random bytes, base64url); fixed, so the
/// seeds can hold it.
const ID: &str = "kq3Lw0s2n7Vb9xYc1dE4fG6hJ8kM0pQrStUvWxYz-_A";

fn session() -> &'static OneSession {
    static S: OnceLock<OneSession> = OnceLock::new();
    S.get_or_init(|| OneSession::new(ID))
}

/// The first usable value for `name`, read independently of the page's code.
fn first_usable(values: &[&[u8]], name: &str) -> Option<String> {
    for v in values {
        // The page reads only visible-ASCII header values (and tabs); others (and
        // those the HTTP layer refuses) never reach it.
        if !v.iter().all(|b| *b == b'\t' || (0x20..=0x7e).contains(b)) {
            continue;
        }
        let Ok(text) = std::str::from_utf8(v) else {
            continue;
        };
        for pair in text.split(';') {
            let Some((k, val)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == name && !val.is_empty() && val.len() <= MAX_COOKIE_VALUE {
                return Some(val.to_string());
            }
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = data.split(|b| *b == b'\n').take(8).collect();
    let headers = cookie_headers(&values);
    let read = cookie(&headers, SESSION_COOKIE_NAME);
    if let Some(v) = &read {
        assert!(!v.is_empty() && v.len() <= MAX_COOKIE_VALUE && !v.contains(';'));
    }
    assert_eq!(read, first_usable(&values, SESSION_COOKIE_NAME));
    let opened = session().open(&headers);
    assert_eq!(opened.is_some(), read.as_deref() == Some(ID));
    if let Some(id) = opened {
        assert_eq!(id, ID);
    }
});
