//! The bearer token check. Both sides are hashed first, so the comparison takes the
//! same time whatever the length or the first differing byte of what was sent.

use axum::http::{header, HeaderMap};
use ring::digest::{digest, SHA256};
use writeback_core::Password;

#[derive(Clone)]
pub struct BearerToken {
    digest: [u8; 32],
}

impl BearerToken {
    /// At least 16 characters: the token is the only thing guarding password pushes.
    pub fn new(token: &Password) -> Result<Self, String> {
        if token.char_count() < 16 {
            return Err(
                "the bearer token must be at least 16 characters long (use a random one)".into(),
            );
        }
        Ok(BearerToken {
            digest: sha256(token.expose().as_bytes()),
        })
    }

    /// Whether the request's `Authorization: Bearer …` carries the token.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let sent = sha256(token.trim().as_bytes());
        sent.iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn admits_only_the_token() {
        let t =
            BearerToken::new(&Password::new("0123456789abcdef")).unwrap_or_else(|e| panic!("{e}"));
        assert!(t.admits(&headers("Bearer 0123456789abcdef")));
        assert!(t.admits(&headers("bearer 0123456789abcdef")));
        assert!(!t.admits(&headers("Bearer 0123456789abcdeF")));
        assert!(!t.admits(&headers("Basic 0123456789abcdef")));
        assert!(!t.admits(&headers("0123456789abcdef")));
        assert!(!t.admits(&HeaderMap::new()));
        assert!(BearerToken::new(&Password::new("short")).is_err());
    }
}
