//! Distinguished names compared the way a directory would, for confining an
//! operation to a subtree: attribute types and values case-insensitively, spaces
//! around separators ignored, escapes (`\,`, `\2C`) decoded.

/// Why a string is not a DN. The messages quote the DN: they are shown to the
/// administrator who wrote it (a `base_dn`, a `bind_dn`) or to a plugin author.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnError {
    #[error("`{dn}` is not a DN (bad attribute type `{attr}`)")]
    BadAttributeType { dn: String, attr: String },
    #[error("`{dn}` ends inside an escape")]
    EndsInsideEscape { dn: String },
    #[error("`{dn}` has a bad hex escape")]
    BadHexEscape { dn: String },
    #[error("`{dn}`: quoted DN values are not accepted")]
    QuotedValue { dn: String },
    #[error("`{dn}` has a value that is not UTF-8")]
    NotUtf8 { dn: String },
    #[error("`{dn}` has an empty value for `{attr}`")]
    EmptyValue { dn: String, attr: String },
}

/// One RDN: its `type=value` parts, normalized and sorted (multi-valued RDNs).
type Rdn = Vec<(String, String)>;

/// The RDNs of `dn`, leaf first, normalized. The empty DN (the root) has none.
pub fn parse(dn: &str) -> Result<Vec<Rdn>, DnError> {
    let owned = || dn.to_string();
    if dn.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut rdns = Vec::new();
    let mut rdn: Rdn = Vec::new();
    let mut chars = dn.chars().peekable();
    loop {
        let mut attr = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            attr.push(c);
        }
        let attr = attr.trim().to_ascii_lowercase();
        let attr_ok = !attr.is_empty()
            && attr
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !attr_ok {
            return Err(DnError::BadAttributeType { dn: owned(), attr });
        }
        // The value up to an unescaped `,`, `;` or `+`.
        let mut value = Vec::<u8>::new();
        let mut trailing_unescaped_spaces = 0usize;
        let mut end = None;
        while let Some(c) = chars.next() {
            match c {
                ',' | ';' | '+' => {
                    end = Some(c);
                    break;
                }
                '\\' => {
                    trailing_unescaped_spaces = 0;
                    let Some(next) = chars.next() else {
                        return Err(DnError::EndsInsideEscape { dn: owned() });
                    };
                    if next.is_ascii_hexdigit() {
                        let Some(low) = chars.next().filter(char::is_ascii_hexdigit) else {
                            return Err(DnError::BadHexEscape { dn: owned() });
                        };
                        let byte = u8::from_str_radix(&format!("{next}{low}"), 16)
                            .map_err(|_| DnError::BadHexEscape { dn: owned() })?;
                        value.push(byte);
                    } else {
                        let mut buf = [0u8; 4];
                        value.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                    }
                }
                ' ' => {
                    if !value.is_empty() {
                        value.push(b' ');
                        trailing_unescaped_spaces += 1;
                    }
                }
                '"' => return Err(DnError::QuotedValue { dn: owned() }),
                other => {
                    trailing_unescaped_spaces = 0;
                    let mut buf = [0u8; 4];
                    value.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        value.truncate(value.len() - trailing_unescaped_spaces);
        let value = String::from_utf8(value).map_err(|_| DnError::NotUtf8 { dn: owned() })?;
        if value.is_empty() {
            return Err(DnError::EmptyValue { dn: owned(), attr });
        }
        rdn.push((attr, value.to_lowercase()));
        match end {
            Some('+') => continue,
            Some(_) => {
                rdn.sort();
                rdns.push(std::mem::take(&mut rdn));
            }
            None => {
                rdn.sort();
                rdns.push(rdn);
                return Ok(rdns);
            }
        }
    }
}

/// The DN of the entry's container (escaped commas in the first RDN respected), or
/// `None` for a DN of one RDN.
pub fn parent(dn: &str) -> Option<&str> {
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b',' => return dn.get(i + 1..).map(str::trim_start),
            _ => i += 1,
        }
    }
    None
}

/// Whether `dn` is `base` or below it. Errors say which DN does not parse.
pub fn is_within(dn: &str, base: &str) -> Result<bool, DnError> {
    let dn = parse(dn)?;
    let base = parse(base)?;
    Ok(dn.len() >= base.len() && dn[dn.len() - base.len()..] == base[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "ou=people,dc=example,dc=org";

    #[test]
    fn entries_below_the_base_are_within() {
        assert!(is_within("uid=alice,ou=people,dc=example,dc=org", BASE).unwrap());
        assert!(is_within(BASE, BASE).unwrap());
        assert!(is_within("UID=Alice, OU=People , DC=Example,DC=ORG", BASE).unwrap());
        assert!(is_within("cn=a\\2Cb,ou=people,dc=example,dc=org", BASE).unwrap());
        assert!(is_within("cn=x+uid=y,ou=people,dc=example,dc=org", BASE).unwrap());
    }

    #[test]
    fn parent_skips_escaped_commas() {
        assert_eq!(parent("CN=a\\,b,OU=X,DC=e"), Some("OU=X,DC=e"));
        assert_eq!(parent("uid=a, ou=people"), Some("ou=people"));
        assert_eq!(parent("dc=org"), None);
        assert_eq!(parent("cn=trailing\\"), None);
    }

    #[test]
    fn entries_elsewhere_are_not() {
        assert!(!is_within("cn=admin,dc=example,dc=org", BASE).unwrap());
        assert!(!is_within("dc=example,dc=org", BASE).unwrap());
        assert!(!is_within("", BASE).unwrap());
        // An escaped comma is part of a value, not a separator.
        assert!(!is_within("uid=a\\,ou=people,dc=example,dc=org", BASE).unwrap());
        assert_eq!(
            parse("uid=a\\,ou=people,dc=example,dc=org").unwrap().len(),
            3
        );
        assert!(!is_within("uid=alice,ou=people\\,dc=example,dc=org", BASE).unwrap());
        assert!(!is_within("uid=alice,ou=peoplex,dc=example,dc=org", BASE).unwrap());
    }

    #[test]
    fn malformed_dns_are_errors() {
        assert!(parse("no equals sign").is_err());
        assert!(parse("uid=,dc=x").is_err());
        assert!(parse("uid=a\\").is_err());
        assert!(parse("uid=a\\4").is_err());
        assert!(parse("uid=\"quoted\",dc=x").is_err());
    }

    #[test]
    fn errors_name_the_dn_and_the_fault() {
        let cases = [
            (
                "no equals sign",
                "`no equals sign` is not a DN (bad attribute type `no equals sign`)",
            ),
            ("uid=,dc=x", "`uid=,dc=x` has an empty value for `uid`"),
            ("uid=a\\", "`uid=a\\` ends inside an escape"),
            ("uid=a\\4", "`uid=a\\4` has a bad hex escape"),
            (
                "uid=\"q\",dc=x",
                "`uid=\"q\",dc=x`: quoted DN values are not accepted",
            ),
        ];
        for (dn, message) in cases {
            assert_eq!(
                parse(dn).map(|_| ()).map_err(|e| e.to_string()),
                Err(message.to_string()),
                "{dn}"
            );
        }
        assert_eq!(
            is_within("uid=a", "bad").map_err(|e| e.to_string()),
            Err("`bad` has an empty value for `bad`".to_string())
        );
    }

    #[test]
    fn the_root_has_no_rdns() {
        assert!(parse("").unwrap().is_empty());
        assert!(is_within(BASE, "").unwrap());
    }
}
