//! The password policy response control decoder (crates/ldap ppolicy.rs on ber.rs):
//! its value comes from the directory server, so any bytes must give a value or a
//! `BerError`, and what parses must say what the bytes say (checked by encoding the
//! result again and parsing that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use writeback_ldap::ber;
use writeback_ldap::ppolicy::{PpolicyError, PpolicyResponse, PpolicyWarning};

/// The DER of a non-negative integer's content octets.
fn int(n: u32) -> Vec<u8> {
    let mut bytes: Vec<u8> = n.to_be_bytes().to_vec();
    while bytes.len() > 1 && bytes[0] == 0 && bytes[1] & 0x80 == 0 {
        bytes.remove(0);
    }
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    bytes
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    assert!(value.len() < 128);
    let mut out = vec![tag, value.len() as u8];
    out.extend_from_slice(value);
    out
}

fn code(e: PpolicyError) -> u32 {
    use PpolicyError::*;
    match e {
        PasswordExpired => 0,
        AccountLocked => 1,
        ChangeAfterReset => 2,
        PasswordModNotAllowed => 3,
        MustSupplyOldPassword => 4,
        InsufficientPasswordQuality => 5,
        PasswordTooShort => 6,
        PasswordTooYoung => 7,
        PasswordInHistory => 8,
        PasswordTooLong => 9,
        Unknown(n) => n,
    }
}

fn encode(r: &PpolicyResponse) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(w) = r.warning {
        let inner = match w {
            PpolicyWarning::TimeBeforeExpiration(n) => tlv(0x80, &int(n)),
            PpolicyWarning::GraceAuthNsRemaining(n) => tlv(0x81, &int(n)),
        };
        body.extend(tlv(0xa0, &inner));
    }
    if let Some(e) = r.error {
        body.extend(tlv(0x81, &int(code(e))));
    }
    tlv(0x30, &body)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(elements) = ber::read_all(data) {
        let total: usize = elements.iter().map(|t| t.value.len() + 2).sum();
        assert!(total <= data.len(), "elements longer than their input");
    }
    if let Ok(response) = PpolicyResponse::parse(data) {
        let again = PpolicyResponse::parse(&encode(&response));
        assert_eq!(again, Ok(response));
        // Displaying any error code works (it reaches the admin detail).
        if let Some(e) = response.error {
            assert!(!e.to_string().is_empty());
        }
    }
});
