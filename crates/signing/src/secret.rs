//! The shared signing secret: `whsec_` followed by base64 of 24 to 64 random bytes.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ring::hmac;
use zeroize::Zeroizing;

const PREFIX: &str = "whsec_";
/// The spec asks for at least 24 bytes (192 bits) and at most 64 (512 bits).
const MIN_BYTES: usize = 24;
const MAX_BYTES: usize = 64;

/// A signing key. Its bytes are zeroized on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct Secret {
    key: Zeroizing<Vec<u8>>,
}

/// Why a `whsec_` string is not a usable secret. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret must start with `whsec_` followed by base64")]
    MissingPrefix,
    #[error("the webhook secret after `whsec_` is not valid base64")]
    NotBase64,
    #[error("the webhook secret decodes to {0} bytes; use 24 to 64 random bytes")]
    BadLength(usize),
}

impl Secret {
    /// Parses `whsec_<base64>` (padding optional). Surrounding whitespace, such as the
    /// newline at the end of a secret file, is ignored.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let unpadded = encoded.trim_end_matches('=');
        let key = Zeroizing::new(
            STANDARD_NO_PAD
                .decode(unpadded)
                .map_err(|_| SecretError::NotBase64)?,
        );
        Self::from_bytes(&key)
    }

    /// A secret from raw key bytes (24 to 64 of them).
    pub fn from_bytes(key: &[u8]) -> Result<Self, SecretError> {
        if !(MIN_BYTES..=MAX_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Secret {
            key: Zeroizing::new(key.to_vec()),
        })
    }

    /// The `whsec_` form, to hand to the other side. Treat it as the secret it is.
    pub fn to_whsec(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{PREFIX}{}", STANDARD.encode(self.key.as_slice())))
    }

    /// The HMAC key. Built per use rather than kept, so the only long-lived copy of
    /// the key material is the zeroized byte vector.
    pub(crate) fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.key)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=";

    #[test]
    fn parses_padded_unpadded_and_trailing_newline() {
        assert!(Secret::parse(GOOD).is_ok());
        assert!(Secret::parse(GOOD.trim_end_matches('=')).is_ok());
        assert!(Secret::parse(&format!("{GOOD}\n")).is_ok());
    }

    #[test]
    fn refuses_malformed_secrets() {
        assert_eq!(
            Secret::parse("d3JpdGViYWNr").err(),
            Some(SecretError::MissingPrefix)
        );
        assert_eq!(
            Secret::parse("whsec_***").err(),
            Some(SecretError::NotBase64)
        );
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ=").err(),
            Some(SecretError::BadLength(5))
        );
    }

    #[test]
    fn round_trips_and_hides_key_in_debug() {
        let s = Secret::parse(GOOD).unwrap();
        assert_eq!(s.to_whsec().as_str(), GOOD);
        let shown = format!("{s:?}");
        assert!(!shown.contains("d3Jp"), "{shown}");
    }
}
