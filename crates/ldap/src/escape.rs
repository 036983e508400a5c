//! Escaping of user input before it reaches a search filter (RFC 4515) or a DN
//! (RFC 4514). Every value that comes from a request goes through one of these.

use std::borrow::Cow;

/// Escapes a value for use inside a search filter assertion, e.g. the `x` of
/// `(uid=x)`: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`
/// (RFC 4515 §3), so `*)(uid=*` stays one literal value.
pub fn filter_value(value: &str) -> Cow<'_, str> {
    ldap3::ldap_escape(value)
}

/// Escapes a value for use as an attribute value in a DN, e.g. the `x` of
/// `uid=x,ou=people,...` (RFC 4514 §2.4): `" + , ; < > \` and `=` anywhere, a
/// leading space or `#`, a trailing space, and NUL and other control characters
/// (as `\XX` hex pairs).
pub fn dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let leading = i == 0 && (c == ' ' || c == '#');
        let trailing = i == last && c == ' ';
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02x}"));
                }
            }
            c if leading || trailing => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// One relative DN `attr=value` with the value escaped, e.g. `rdn("uid", "a,b")` is
/// `uid=a\,b`.
pub fn rdn(attribute: &str, value: &str) -> String {
    format!("{attribute}={}", dn_value(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_injection_stays_one_literal() {
        assert_eq!(filter_value("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
        assert_eq!(filter_value("a\\b\0"), "a\\5cb\\00");
        assert_eq!(
            filter_value("plain.user@example.org"),
            "plain.user@example.org"
        );
        assert_eq!(filter_value("Åsa"), "Åsa");
    }

    #[test]
    fn dn_specials_are_escaped() {
        assert_eq!(dn_value("Smith, John"), "Smith\\, John");
        assert_eq!(dn_value("a+b=c"), "a\\+b\\=c");
        assert_eq!(dn_value("#hash"), "\\#hash");
        assert_eq!(dn_value(" both "), "\\ both\\ ");
        assert_eq!(dn_value("in#side"), "in#side");
        assert_eq!(dn_value("q\"<>;\\"), "q\\\"\\<\\>\\;\\\\");
        assert_eq!(dn_value("nul\0"), "nul\\00");
        assert_eq!(dn_value("Ünïcode"), "Ünïcode");
        assert_eq!(dn_value(""), "");
        assert_eq!(rdn("uid", "a,b"), "uid=a\\,b");
    }
}
