//! Unit tests of the `active-directory` target's own helpers (the modules test theirs).

use super::*;

#[test]
fn unicode_pwd_is_quoted_utf16le_with_surrogates() {
    assert_eq!(*unicode_pwd("ab"), vec![b'"', 0, b'a', 0, b'b', 0, b'"', 0]);
    // U+1F600 → D83D DE00
    assert_eq!(
        *unicode_pwd("😀"),
        vec![b'"', 0, 0x3d, 0xd8, 0x00, 0xde, b'"', 0]
    );
    assert_eq!(*unicode_pwd("é"), vec![b'"', 0, 0xe9, 0, b'"', 0]);
}

/// The table's checks, as `check-config` reports them.
mod config_checks {
    use writeback_core::ConnectorConfig;

    use crate::matching::MatchRule;

    use crate::config::*;
    use writeback_core::ConnectorKind;

    fn config(extra: &str) -> ConnectorConfig {
        let text = format!(
            "url = \"ldaps://dc.example.org\"\nca_file = \"ca.pem\"\nbind_dn = \"svc@example.org\"\n\
             bind_password = {{ env = \"AD_BIND\" }}\nbase_dn = \"DC=example,DC=org\"\n{extra}"
        );
        let table: toml::Table = toml::from_str(&text).unwrap();
        ConnectorConfig::in_code(ConnectorKind::Target, "active-directory", "ad", table)
    }

    fn error(extra: &str) -> String {
        AdConfig::from_connector(&config(extra))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults() {
        let c = AdConfig::from_connector(&config("")).unwrap();
        assert_eq!(c.match_rules, vec![MatchRule::upn()]);
        assert_eq!(c.protected_accounts, Protected::Refuse);
        assert_eq!(c.policy_hints, PolicyHints::Auto);
        assert!(!c.unlock_on_reset);
        assert_eq!(c.server.pool_size(&RULES), 16);
        assert_eq!(c.server.timeout(&RULES).as_millis(), 10_000);
    }

    #[test]
    fn refusals_name_the_key() {
        let mut plain = config("");
        plain
            .table
            .insert("url".into(), "ldap://dc.example.org".into());
        let e = AdConfig::from_connector(&plain).unwrap_err().to_string();
        assert!(
            e.contains("targets.ad.url") && e.contains("starttls = true"),
            "{e}"
        );
        assert!(error("allow_plaintext = true").contains("only over TLS"));
        assert!(error("starttls = true").contains("starttls"));
        assert!(error("match = [{ attribute = \"cn\" }]").contains("match"));
        assert!(error("match = [{ attribute = \"mail\", from = \"a b\" }]").contains("match[0]"));
        assert!(error("user_filter = \"objectClass=user\"").contains("user_filter"));
        assert!(error("pool_size = 0").contains("pool_size"));
        assert!(error("protected_accounts = \"maybe\"").contains("protected_accounts"));
    }
}
