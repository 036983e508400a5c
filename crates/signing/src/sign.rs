//! Signing: the sender's side.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderValue};
use ring::hmac;

use crate::headers::{check_id, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::secret::Secret;
use crate::verify::VerifyError;

/// The bytes the HMAC covers: `{id}.{timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + 22 + body.len());
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// The HMAC over [`signed_content`], fed piece by piece so the body (up to the
/// source's body limit) is never copied next to the id and timestamp.
pub(crate) fn tag(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(&secret.hmac_key());
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    context.sign()
}

/// One `v1,<base64>` signature entry for the message.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = tag(secret, id, timestamp, body);
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// The three headers for a message, signed with every given key (space-separated in
/// `webhook-signature`, as during a key rotation). Fails only on an id the verifier
/// would refuse (empty, too long, spaces, `.`, non-ASCII) or an empty key list.
pub fn sign_headers(
    secrets: &[&Secret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<HeaderMap, VerifyError> {
    check_id(id).map_err(VerifyError::BadId)?;
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let signature = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    let mut headers = HeaderMap::new();
    // The id passed check_id and the others are ASCII we made: all valid header values.
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|_| VerifyError::BadId("is not a valid header value"))
    };
    headers.insert(WEBHOOK_ID, value(id)?);
    headers.insert(WEBHOOK_TIMESTAMP, value(&timestamp.to_string())?);
    headers.insert(WEBHOOK_SIGNATURE, value(&signature)?);
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with the Python reference package (`pip install standardwebhooks`):
    /// `Webhook(secret).sign("msg_1", datetime.fromtimestamp(1764000000, utc), BODY)`.
    const SECRET: &str = "whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=";
    const BODY: &str = r#"{"id":"req-1","operation":"unlock","identity":{"username":"alice"}}"#;
    const EXPECTED: &str = "v1,itbSQD6p6vsR7jnGVFrl9YddAzpQIpXuUVHZQwY/uRY=";

    #[test]
    fn matches_the_reference_implementation() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(
            sign(&secret, "msg_1", 1_764_000_000, BODY.as_bytes()),
            EXPECTED
        );
    }

    /// The worked example of docs/webhook-protocol.md (checked with the Python package
    /// and with `openssl dgst -hmac`).
    #[test]
    fn matches_the_documented_example() {
        let body = r#"{"id":"req-2026-0001","operation":"reset","must_change":true,"identity":{"upn":"alice@example.test"},"initiator":{"kind":"user"},"new_password":"Correct-Horse-42"}"#;
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(
            sign(&secret, "msg_2Kq7TtXn4bWc9", 1_764_090_000, body.as_bytes()),
            "v1,rLHLEPX09ud60O49eIFeOAT5UelABbAk139I0LhFiog="
        );
    }

    #[test]
    fn the_incremental_tag_is_the_tag_of_the_signed_content() {
        let secret = Secret::parse(SECRET).unwrap();
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let whole = hmac::sign(
            &secret.hmac_key(),
            &signed_content("msg_9", 1_764_000_000, &body),
        );
        let fed = tag(&secret, "msg_9", 1_764_000_000, &body);
        assert_eq!(fed.as_ref(), whole.as_ref());
    }

    #[test]
    fn signed_content_joins_with_dots() {
        assert_eq!(signed_content("m", 12, b"{}"), b"m.12.{}".to_vec());
    }

    #[test]
    fn headers_carry_one_entry_per_key() {
        let a = Secret::parse(SECRET).unwrap();
        let b = Secret::parse("whsec_d3JpdGViYWNrLXJvdGF0ZWQta2V5LTAwMDItYWJjZGVm").unwrap();
        let h = sign_headers(&[&a, &b], "msg_1", 1_764_000_000, BODY.as_bytes()).unwrap();
        let sig = h
            .get(WEBHOOK_SIGNATURE)
            .and_then(|v| v.to_str().ok())
            .unwrap();
        assert_eq!(
            sig,
            "v1,itbSQD6p6vsR7jnGVFrl9YddAzpQIpXuUVHZQwY/uRY= v1,w120S9lEvAk7yB0DdqkfjNY0y/gat0tXrTLUOGNlPv8="
        );
        assert_eq!(h.get(WEBHOOK_TIMESTAMP).unwrap(), "1764000000");
    }

    #[test]
    fn refuses_ids_that_break_the_scheme() {
        let a = Secret::parse(SECRET).unwrap();
        for id in ["", "a.b", "a b", "é"] {
            assert!(sign_headers(&[&a], id, 1, b"").is_err(), "{id:?}");
        }
        assert!(matches!(
            sign_headers(&[], "m", 1, b""),
            Err(VerifyError::NoSecrets)
        ));
    }
}
