//! Verification: the receiver's side. Checks, in order: the three headers are there
//! and well formed, the timestamp is within the tolerance, and one `v1` signature
//! matches one of the configured keys. One HMAC per key, computed over the body in
//! place; each tag is compared in constant time (`subtle`) with every signature given.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::headers::{check_id, MAX_SIGNATURES, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use crate::secret::Secret;
use crate::sign::tag;

/// How far the timestamp may be from the receiver's clock, either way (the spec's
/// reference libraries use five minutes).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A message whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `webhook-id`: unique per message, the idempotency key.
    pub id: String,
    /// The `webhook-timestamp`, in Unix seconds.
    pub timestamp: i64,
}

/// Why a message was refused. Messages are safe to log and to send back: they never
/// contain a key, a signature or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing or given more than once")]
    MissingHeader(&'static str),
    #[error("the `webhook-id` header {0}")]
    BadId(&'static str),
    #[error("the `webhook-timestamp` header is not an integer number of Unix seconds")]
    BadTimestamp,
    #[error("the `webhook-timestamp` is {0} s old, beyond the tolerance; check the sender's clock and sign each attempt afresh")]
    Stale(u64),
    #[error("the `webhook-timestamp` is {0} s in the future, beyond the tolerance; check the sender's clock")]
    Future(u64),
    #[error("the `webhook-signature` header has no well-formed `v1,<base64>` entry")]
    MalformedSignature,
    #[error("no signature in `webhook-signature` matches a configured secret")]
    NoMatchingSignature,
    #[error("no signing secret is configured")]
    NoSecrets,
}

/// Verifies a message against every configured key (several during a rotation).
///
/// `headers` are the request's headers, `body` the raw bytes exactly as received (not
/// re-serialized), `now` the receiver's clock.
pub fn verify(
    secrets: &[Secret],
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<Verified, VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let id = single(headers, WEBHOOK_ID)?;
    check_id(id).map_err(VerifyError::BadId)?;
    let timestamp = parse_timestamp(single(headers, WEBHOOK_TIMESTAMP)?)?;
    check_freshness(timestamp, now, tolerance)?;
    let candidates = parse_signatures(single(headers, WEBHOOK_SIGNATURE)?)?;

    // Every comparison runs (no early exit), so the time taken does not tell which key
    // or which entry came close.
    let mut matched = subtle::Choice::from(0u8);
    for secret in secrets {
        let expected = tag(secret, id, timestamp, body);
        for candidate in &candidates {
            matched |= expected.as_ref().ct_eq(candidate.as_slice());
        }
    }
    if !bool::from(matched) {
        return Err(VerifyError::NoMatchingSignature);
    }
    Ok(Verified {
        id: id.to_string(),
        timestamp,
    })
}

/// The header's value as text, refusing absent, repeated or non-ASCII ones.
fn single<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v
            .to_str()
            .map(str::trim)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or(VerifyError::MissingHeader(name)),
        _ => Err(VerifyError::MissingHeader(name)),
    }
}

fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    // Digits only: no sign, no fraction, no exponent; 12 digits reach the year 33658.
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    text.parse().map_err(|_| VerifyError::BadTimestamp)
}

fn check_freshness(
    timestamp: i64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    let age = now.saturating_sub(timestamp);
    if age > tolerance {
        return Err(VerifyError::Stale(age.unsigned_abs()));
    }
    if -age > tolerance {
        return Err(VerifyError::Future(age.unsigned_abs()));
    }
    Ok(())
}

/// The decoded tags of the `v1` entries. Entries of other versions (such as `v1a`,
/// asymmetric) are skipped; the header is malformed when no usable `v1` entry is left
/// and some entry could not be read at all.
fn parse_signatures(header: &str) -> Result<Vec<[u8; 32]>, VerifyError> {
    let mut tags = Vec::new();
    let mut unreadable = false;
    for entry in header
        .split(' ')
        .filter(|e| !e.is_empty())
        .take(MAX_SIGNATURES)
    {
        match entry.split_once(',') {
            Some(("v1", encoded)) => match STANDARD.decode(encoded).map(<[u8; 32]>::try_from) {
                Ok(Ok(tag)) => tags.push(tag),
                _ => unreadable = true,
            },
            Some(_) => {}
            None => unreadable = true,
        }
    }
    if tags.is_empty() && unreadable {
        return Err(VerifyError::MalformedSignature);
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::sign_headers;
    use http::HeaderValue;

    const SECRET: &str = "whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=";
    const ROTATED: &str = "whsec_d3JpdGViYWNrLXJvdGF0ZWQta2V5LTAwMDItYWJjZGVm";
    const OTHER: &str = "whsec_b3RoZXItdGVuYW50LWtleS10aGF0LWlzLXdyb25nIQ==";
    const BODY: &[u8] = br#"{"id":"req-1","operation":"unlock","identity":{"username":"alice"}}"#;
    const TS: i64 = 1_764_000_000;

    fn secret(s: &str) -> Secret {
        Secret::parse(s).unwrap()
    }

    fn at(seconds: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    }

    fn headers(id: &str, ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(WEBHOOK_ID, HeaderValue::from_str(id).unwrap());
        h.insert(WEBHOOK_TIMESTAMP, HeaderValue::from_str(ts).unwrap());
        h.insert(WEBHOOK_SIGNATURE, HeaderValue::from_str(sig).unwrap());
        h
    }

    fn check(
        secrets: &[Secret],
        h: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, VerifyError> {
        verify(secrets, h, body, at(now), DEFAULT_TOLERANCE)
    }

    #[test]
    fn accepts_the_reference_signature() {
        // The signature the Python reference package computes for this input.
        let h = headers(
            "msg_1",
            "1764000000",
            "v1,itbSQD6p6vsR7jnGVFrl9YddAzpQIpXuUVHZQwY/uRY=",
        );
        let v = check(&[secret(SECRET)], &h, BODY, TS + 5).unwrap();
        assert_eq!(
            v,
            Verified {
                id: "msg_1".into(),
                timestamp: TS
            }
        );
    }

    #[test]
    fn refuses_a_wrong_key_or_a_changed_body() {
        let h = sign_headers(&[&secret(SECRET)], "msg_1", TS, BODY).unwrap();
        assert_eq!(
            check(&[secret(OTHER)], &h, BODY, TS),
            Err(VerifyError::NoMatchingSignature)
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            check(&[secret(SECRET)], &h, &tampered, TS),
            Err(VerifyError::NoMatchingSignature)
        );
        // Same signature, another id: the id is signed too.
        let sig = h.get(WEBHOOK_SIGNATURE).unwrap().to_str().unwrap();
        let moved = headers("msg_2", "1764000000", sig);
        assert_eq!(
            check(&[secret(SECRET)], &moved, BODY, TS),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn refuses_stale_and_future_timestamps_at_the_edges() {
        let h = sign_headers(&[&secret(SECRET)], "msg_1", TS, BODY).unwrap();
        let s = [secret(SECRET)];
        assert!(check(&s, &h, BODY, TS + 300).is_ok());
        assert_eq!(check(&s, &h, BODY, TS + 301), Err(VerifyError::Stale(301)));
        assert!(check(&s, &h, BODY, TS - 300).is_ok());
        assert_eq!(check(&s, &h, BODY, TS - 301), Err(VerifyError::Future(301)));
    }

    #[test]
    fn key_rotation_either_side() {
        // Sender signs with old and new keys; receiver knows only the new one.
        let both = sign_headers(&[&secret(SECRET), &secret(ROTATED)], "msg_1", TS, BODY).unwrap();
        assert!(check(&[secret(ROTATED)], &both, BODY, TS).is_ok());
        // Sender has moved to the new key; receiver still accepts old and new.
        let new_only = sign_headers(&[&secret(ROTATED)], "msg_1", TS, BODY).unwrap();
        assert!(check(&[secret(SECRET), secret(ROTATED)], &new_only, BODY, TS).is_ok());
    }

    #[test]
    fn several_secrets_against_several_signatures() {
        let (a, b, c) = (secret(SECRET), secret(ROTATED), secret(OTHER));
        let sig = |s: &Secret| crate::sign::sign(s, "msg_1", TS, BODY);
        let decoy = format!("v1,{}", STANDARD.encode([7u8; 32]));
        // The matching entry last, behind a decoy and a signature by a key not configured.
        let header = format!("{decoy} {} {}", sig(&c), sig(&b));
        let h = headers("msg_1", "1764000000", &header);
        assert!(check(&[a.clone(), b.clone()], &h, BODY, TS).is_ok());
        assert!(check(&[b.clone(), a.clone()], &h, BODY, TS).is_ok());
        assert!(check(std::slice::from_ref(&c), &h, BODY, TS).is_ok());
        // No configured key signed any entry.
        assert_eq!(
            check(std::slice::from_ref(&a), &h, BODY, TS),
            Err(VerifyError::NoMatchingSignature)
        );
        // Right keys, but the body changed under every entry.
        assert_eq!(
            check(&[a, b, c], &h, &BODY[1..], TS),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        let s = [secret(SECRET)];
        let good = sign_headers(&[&secret(SECRET)], "msg_1", TS, BODY).unwrap();
        for name in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
            let mut h = good.clone();
            h.remove(name);
            assert_eq!(
                check(&s, &h, BODY, TS),
                Err(VerifyError::MissingHeader(name))
            );
        }
        let mut twice = good.clone();
        twice.append(WEBHOOK_ID, HeaderValue::from_static("msg_2"));
        assert_eq!(
            check(&s, &twice, BODY, TS),
            Err(VerifyError::MissingHeader(WEBHOOK_ID))
        );

        let sig = good
            .get(WEBHOOK_SIGNATURE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        for ts in ["-1764000000", "1764000000.5", "1e9", "abc", "9999999999999"] {
            assert_eq!(
                check(&s, &headers("msg_1", ts, &sig), BODY, TS),
                Err(VerifyError::BadTimestamp),
                "{ts}"
            );
        }
        assert!(matches!(
            check(&s, &headers("a.b", "1764000000", &sig), BODY, TS),
            Err(VerifyError::BadId(_))
        ));
        for bad in [
            "itbSQD6p6vsR7jnGVFrl9YddAzpQIpXuUVHZQwY/uRY=",
            "v1,***",
            "v1,c2hvcnQ=",
        ] {
            assert_eq!(
                check(&s, &headers("msg_1", "1764000000", bad), BODY, TS),
                Err(VerifyError::MalformedSignature),
                "{bad}"
            );
        }
        // Only an unknown version: well formed, but nothing to match.
        assert_eq!(
            check(&s, &headers("msg_1", "1764000000", "v1a,AAAA"), BODY, TS),
            Err(VerifyError::NoMatchingSignature)
        );
        // A good entry beside junk still verifies.
        let mixed = format!("junk v2,xyz {sig}");
        assert!(check(&s, &headers("msg_1", "1764000000", &mixed), BODY, TS).is_ok());
        assert_eq!(check(&[], &good, BODY, TS), Err(VerifyError::NoSecrets));
    }
}
