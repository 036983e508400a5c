//! Reading the Have I Been Pwned "Pwned Passwords" download: one `SHA1HEX:COUNT` line
//! per password (upper- or lower-case hex, CRLF or LF), as the official downloader
//! writes it. A line with a hash and no count counts as seen once.

/// One parsed line: the first 8 bytes of the SHA-1 (what the filter stores) and the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub key: u64,
    pub count: u64,
}

/// Why a line is not in the expected format. Says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError(pub String);

/// The filter's key for a SHA-1 digest: its first 8 bytes, big-endian. SHA-1 output is
/// uniform, so these bits are as good as any hash of it.
pub fn key_of_digest(digest: &[u8; 20]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses one line (without or with its line ending). `Ok(None)` for a blank line.
pub fn parse_line(line: &[u8]) -> Result<Option<Entry>, LineError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let (hash, count) = match line.iter().position(|&b| b == b':') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    if hash.len() != 40 {
        let hint = if hash.len() == 32 {
            " (32 digits is the NTLM download: download the SHA-1 one instead)"
        } else {
            ""
        };
        return Err(LineError(format!(
            "expected a SHA-1 hash of 40 hex digits before `:`, found {} characters{hint}",
            hash.len()
        )));
    }
    let mut key = 0u64;
    for (i, &b) in hash.iter().enumerate() {
        let v = hex_value(b)
            .ok_or_else(|| LineError("the hash has a character that is not a hex digit".into()))?;
        if i < 16 {
            key = (key << 4) | u64::from(v);
        }
    }
    let count = match count {
        None => 1,
        Some(c) => std::str::from_utf8(c)
            .ok()
            .map(str::trim)
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or_else(|| LineError("the count after `:` is not a whole number".into()))?,
    };
    Ok(Some(Entry { key, count }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_download_format() {
        let e = parse_line(b"000000005AD76BD555C1D6D771DE417A4B87E4B4:10\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(e.key, 0x0000_0000_5AD7_6BD5);
        assert_eq!(e.count, 10);
        let lower = parse_line(b"000000005ad76bd555c1d6d771de417a4b87e4b4:10")
            .unwrap()
            .unwrap();
        assert_eq!(lower, e);
        let bare = parse_line(b"000000005AD76BD555C1D6D771DE417A4B87E4B4")
            .unwrap()
            .unwrap();
        assert_eq!(bare.count, 1);
        assert_eq!(parse_line(b"\r\n").unwrap(), None);
    }

    #[test]
    fn refuses_what_is_not_sha1_with_a_hint() {
        let ntlm = parse_line(b"00000011059407D743D40689940F858C:3").unwrap_err();
        assert!(ntlm.0.contains("NTLM"), "{}", ntlm.0);
        assert!(parse_line(b"G00000005AD76BD555C1D6D771DE417A4B87E4B4:1").is_err());
        assert!(parse_line(b"000000005AD76BD555C1D6D771DE417A4B87E4B4:x").is_err());
    }

    #[test]
    fn key_is_the_first_eight_bytes() {
        let mut d = [0u8; 20];
        d[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(key_of_digest(&d), 0x0102_0304_0506_0708);
    }
}
