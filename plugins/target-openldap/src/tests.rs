//! Unit tests of the `openldap` target (helper modules test their private parts inline).

/// The table's checks, as `check-config` reports them.
mod config_checks {
    use writeback_core::{ConfigError, ConnectorConfig};

    use crate::config::*;
    use writeback_core::ConnectorKind;

    fn table(extra: &str) -> toml::Table {
        let text = format!(
            "url = \"ldaps://127.0.0.1:1636\"\nca_file = \"ca.pem\"\nbind_dn = \"cn=pwmgr,dc=x\"\n\
             bind_password = {{ env = \"LDAP_PW\" }}\nbase_dn = \"ou=people,dc=x\"\n{extra}"
        );
        text.parse().unwrap_or_default()
    }

    fn load(extra: &str) -> Result<OpenLdapConfig, ConfigError> {
        OpenLdapConfig::from_connector(&ConnectorConfig::in_code(
            ConnectorKind::Target,
            "openldap",
            "ldap",
            table(extra),
        ))
    }

    #[test]
    fn defaults() {
        let c = load("").unwrap();
        assert_eq!(c.server.pool_size(&RULES), 16);
        assert_eq!(c.server.ca_file, Some("ca.pem".into()));
        assert_eq!(c.filter, "(&(objectClass=inetOrgPerson)(uid={username}))");
        assert!(c.use_password_modify_exop);
        assert!(c.verify_writes);
        assert_eq!(
            c.attribute_map().get("object_id").map(String::as_str),
            Some("entryUUID")
        );
    }

    #[test]
    fn refusals_name_the_key() {
        let e = load("allow_plaintext = false\nstarttls = false\nurl2 = 1").unwrap_err();
        assert!(e.to_string().contains("url2"), "{e}");
        let mut t = table("");
        t.insert(
            "url".into(),
            toml::Value::String("ldap://127.0.0.1:389".into()),
        );
        let e = OpenLdapConfig::from_connector(&ConnectorConfig::in_code(
            ConnectorKind::Target,
            "openldap",
            "ldap",
            t,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("allow_plaintext"), "{e}");
        assert_eq!(e.key.as_deref(), Some("targets.ldap.url"));
        let e = load("filter = \"(uid=x)\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ldap.filter"));
        let e = load("pool_size = 0").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ldap.pool_size"));
        let e = load("attribute_map = { upn = \"uid)(x\" }").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ldap.attribute_map.upn"));
    }
}
