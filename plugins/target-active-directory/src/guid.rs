//! GUIDs as AD stores them (16 bytes, the first three fields little-endian) and as
//! people and clouds write them: `xxxxxxxx-xxxx-…` text, or base64 of the stored bytes
//! (Entra ID's immutableId / sourceAnchor).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// The stored bytes as GUID text, e.g. `3f2504e0-4f89-11d3-9a0c-0305e82c3301`.
pub fn to_text(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

/// The stored bytes as base64 (the cloud's immutable id form).
pub fn to_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Parses GUID text or base64 of the 16 stored bytes.
pub fn parse(value: &str) -> Result<[u8; 16], String> {
    let value = value.trim();
    if let Some(bytes) = parse_text(value) {
        return Ok(bytes);
    }
    let decoded = STANDARD
        .decode(value)
        .or_else(|_| URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')))
        .map_err(|_| {
            "is neither a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) nor base64".to_string()
        })?;
    decoded
        .as_slice()
        .try_into()
        .map_err(|_| format!("decodes to {} bytes; a GUID has 16", decoded.len()))
}

fn parse_text(value: &str) -> Option<[u8; 16]> {
    let v = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(value);
    let groups: Vec<&str> = v.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lengths != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex: String = groups.concat();
    let mut raw = [0u8; 16];
    for (i, byte) in raw.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    // Text order → stored order: the first three fields are little-endian.
    Some([
        raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6], raw[8], raw[9], raw[10],
        raw[11], raw[12], raw[13], raw[14], raw[15],
    ])
}

/// Binary filter value: every byte as `\xx` (RFC 4515), so no byte can end the filter.
pub fn filter_escape(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: [u8; 16] = [
        0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33,
        0x01,
    ];

    #[test]
    fn text_and_base64_round_trip() {
        let text = to_text(&STORED).unwrap();
        assert_eq!(text, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert_eq!(parse(&text).unwrap(), STORED);
        assert_eq!(
            parse(&format!("{{{}}}", text.to_uppercase())).unwrap(),
            STORED
        );
        assert_eq!(parse(&to_base64(&STORED)).unwrap(), STORED);
        assert!(parse("AAAA").unwrap_err().contains("3 bytes"));
        assert!(parse("not a guid!").is_err());
    }

    #[test]
    fn filter_escape_covers_every_byte() {
        assert_eq!(filter_escape(&[0x00, 0x2a, 0x28, 0xff]), "\\00\\2a\\28\\ff");
    }
}
