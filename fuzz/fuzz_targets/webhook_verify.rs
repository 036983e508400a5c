//! Standard Webhooks verification (crates/signing verify.rs) on hostile headers and
//! bodies: anything must give `Verified` or a `VerifyError`, a message verifies only
//! with a tag the secret really made, and what the signer produces always verifies.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use writeback_signing::{
    sign, sign_headers, verify, Secret, DEFAULT_TOLERANCE, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};

const SECRET: &str = "whsec_d3JpdGViYWNrLXRlc3Qtc2lnbmluZy1rZXktMDAwMSE=";
const OTHER: &str = "whsec_b3RoZXItdGVuYW50LWtleS10aGF0LWlzLXdyb25nIQ==";
const NOW: u64 = 1_764_000_000;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Raw header values; `None` leaves the header out, a second value repeats it.
    id: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    signature: Option<&'a [u8]>,
    repeat_id: Option<&'a [u8]>,
    /// Put the real tag for these headers into the signature header.
    add_real_tag: bool,
    /// Seconds from NOW at which the receiver checks.
    skew: i16,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let Ok(secret) = Secret::parse(SECRET) else {
        panic!("the test secret does not parse")
    };
    let Ok(other) = Secret::parse(OTHER) else {
        panic!("the other test secret does not parse")
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW.saturating_add_signed(i64::from(input.skew)));

    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: Option<&[u8]>| {
        if let Some(Ok(v)) = value.map(HeaderValue::from_bytes) {
            headers.append(name, v);
        }
    };
    put(WEBHOOK_ID, input.id);
    put(WEBHOOK_ID, input.repeat_id);
    put(WEBHOOK_TIMESTAMP, input.timestamp);
    let mut signature = input.signature.map(<[u8]>::to_vec);
    if input.add_real_tag {
        let id = input
            .id
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("");
        let ts = input
            .timestamp
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.trim().parse::<i64>().ok())
            .unwrap_or(0);
        let tag = sign(&secret, id.trim(), ts, input.body);
        let mut s = signature.unwrap_or_default();
        s.extend_from_slice(b" ");
        s.extend_from_slice(tag.as_bytes());
        signature = Some(s);
    }
    put(WEBHOOK_SIGNATURE, signature.as_deref());

    if let Ok(verified) = verify(
        std::slice::from_ref(&secret),
        &headers,
        input.body,
        now,
        DEFAULT_TOLERANCE,
    ) {
        // It verified: the header must hold the tag the secret makes for exactly
        // this id, timestamp and body, and another key must not verify it.
        let real = sign(&secret, &verified.id, verified.timestamp, input.body);
        let header = headers
            .get(WEBHOOK_SIGNATURE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            header.split(' ').any(|e| e == real),
            "verified without the real tag"
        );
        assert!(verify(
            std::slice::from_ref(&other),
            &headers,
            input.body,
            now,
            DEFAULT_TOLERANCE
        )
        .is_err());
    }

    // What the signer makes, the verifier accepts (for ids the signer takes).
    if let Some(Ok(id)) = input.id.map(std::str::from_utf8) {
        let ts = i64::try_from(NOW).unwrap_or(0) + i64::from(input.skew % 300);
        if let Ok(signed) = sign_headers(&[&secret], id, ts, input.body) {
            let at = UNIX_EPOCH + Duration::from_secs(NOW);
            let result = verify(
                std::slice::from_ref(&secret),
                &signed,
                input.body,
                at,
                DEFAULT_TOLERANCE,
            );
            assert!(result.is_ok(), "a signed message was refused: {result:?}");
        }
    }
});
