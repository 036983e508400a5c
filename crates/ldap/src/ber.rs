//! A minimal BER reader (definite lengths, low tag numbers): enough to read response
//! control values such as ppolicy's without trusting their lengths. And the one value
//! writeback encodes itself: the Password Modify request, so the passwords in it are
//! copied once, into a buffer of the exact size, and nowhere else.

use std::fmt;

/// The value could not be read as BER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BerError(pub &'static str);

impl fmt::Display for BerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed BER: {}", self.0)
    }
}

impl std::error::Error for BerError {}

/// One tag-length-value element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet (class, constructed bit and tag number).
    pub tag: u8,
    pub value: &'a [u8],
}

/// Reads one element from the front of `input`; returns it and what follows.
pub fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), BerError> {
    let (&tag, rest) = input.split_first().ok_or(BerError("empty input"))?;
    if tag & 0x1f == 0x1f {
        return Err(BerError("multi-byte tag numbers are not supported"));
    }
    let (&first, mut rest) = rest.split_first().ok_or(BerError("missing length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(BerError("indefinite length"));
        }
        if n > 4 || rest.len() < n {
            return Err(BerError("bad long-form length"));
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return Err(BerError("length runs past the end of the value"));
    }
    let (value, rest) = rest.split_at(len);
    Ok((Tlv { tag, value }, rest))
}

/// Reads every element of a constructed value's contents.
pub fn read_all(mut input: &[u8]) -> Result<Vec<Tlv<'_>>, BerError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read_tlv(input)?;
        out.push(tlv);
        input = rest;
    }
    Ok(out)
}

/// A non-negative INTEGER or ENUMERATED content that fits in a u32.
pub fn read_u32(content: &[u8]) -> Result<u32, BerError> {
    match content {
        [] => Err(BerError("empty integer")),
        [first, ..] if first & 0x80 != 0 => Err(BerError("negative integer")),
        [0, rest @ ..] if rest.len() > 4 => Err(BerError("integer too large")),
        [first, ..] if *first != 0 && content.len() > 4 => Err(BerError("integer too large")),
        _ => Ok(content
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
        .and_then(|v| u32::try_from(v).map_err(|_| BerError("integer too large"))),
    }
}

/// RFC 3062 Password Modify extended operation.
pub const PASSWORD_MODIFY_OID: &str = "1.3.6.1.4.1.4203.1.11.1";

/// The request value of Password Modify (RFC 3062):
/// `SEQUENCE { userIdentity [0] OPTIONAL, oldPasswd [1] OPTIONAL, newPasswd [2] OPTIONAL }`.
/// Sized before it is written, so it never reallocates (a reallocation would leave a
/// copy of the passwords behind in freed memory).
pub fn password_modify_value(user: Option<&str>, old: Option<&str>, new: Option<&str>) -> Vec<u8> {
    let fields = [(0x80u8, user), (0x81, old), (0x82, new)];
    let inner: usize = fields
        .iter()
        .filter_map(|(_, v)| v.map(|v| 1 + length_size(v.len()) + v.len()))
        .sum();
    let mut out = Vec::with_capacity(1 + length_size(inner) + inner);
    out.push(0x30);
    write_length(&mut out, inner);
    for (tag, value) in fields {
        if let Some(value) = value {
            out.push(tag);
            write_length(&mut out, value.len());
            out.extend_from_slice(value.as_bytes());
        }
    }
    out
}

/// A universal OCTET STRING holding `value`.
pub fn octet_string(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + length_size(value.len()) + value.len());
    out.push(0x04);
    write_length(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

/// Octets a definite length takes.
fn length_size(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        1 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8)
    }
}

fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = len.leading_zeros() as usize / 8;
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_modify_value_is_what_ldap3_encodes() {
        let long = "p".repeat(300);
        let cases = [
            (Some("uid=a,dc=x"), Some("old"), Some("new")),
            (None, Some("old-Pass-1"), Some(long.as_str())),
            (Some("uid=a,dc=x"), None, Some("new")),
            (None, None, None),
        ];
        for (user, old, new) in cases {
            let ours = password_modify_value(user, old, new);
            let theirs = ldap3::exop::Exop::from(ldap3::exop::PasswordModify {
                user_id: user,
                old_pass: old,
                new_pass: new,
            });
            let expected = theirs.val.unwrap_or_else(|| vec![0x30, 0x00]);
            assert_eq!(
                ours,
                expected,
                "{user:?} {old:?} {}",
                new.map_or(0, str::len)
            );
            assert_eq!(ours.len(), ours.capacity(), "sized exactly");
            let (seq, rest) = read_tlv(&ours).unwrap();
            assert_eq!((seq.tag, rest.len()), (0x30, 0));
        }
    }

    #[test]
    fn short_and_long_lengths() {
        let (t, rest) = read_tlv(&[0x04, 0x02, b'h', b'i', 0xff]).unwrap();
        assert_eq!((t.tag, t.value, rest), (0x04, &b"hi"[..], &[0xff][..]));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let (t, rest) = read_tlv(&long).unwrap();
        assert_eq!((t.value.len(), rest.len()), (0x80, 0));
    }

    #[test]
    fn refuses_lies_and_oddities() {
        assert!(read_tlv(&[]).is_err());
        assert!(read_tlv(&[0x04]).is_err());
        assert!(read_tlv(&[0x04, 0x05, 1, 2]).is_err());
        assert!(read_tlv(&[0x30, 0x80, 0, 0]).is_err());
        assert!(read_tlv(&[0x1f, 0x01, 0x00]).is_err());
        assert!(read_tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]).is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(read_u32(&[0x06]), Ok(6));
        assert_eq!(read_u32(&[0x00, 0xff]), Ok(255));
        assert_eq!(read_u32(&[0x00, 0xff, 0xff, 0xff, 0xff]), Ok(u32::MAX));
        assert!(read_u32(&[0x80]).is_err());
        assert!(read_u32(&[]).is_err());
        assert!(read_u32(&[1, 0, 0, 0, 0]).is_err());
    }
}
