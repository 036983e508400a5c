//! Unit tests of the `389ds` target (helper modules test their private parts inline).

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

    fn load(extra: &str) -> Result<Ds389Config, ConfigError> {
        Ds389Config::from_connector(&ConnectorConfig::in_code(
            ConnectorKind::Target,
            "389ds",
            "ds",
            table(extra),
        ))
    }

    /// `check-config` shows every mistake of the table in one run.
    #[test]
    fn every_mistake_is_reported_in_one_run() {
        use writeback_core::ConnectorFactory;
        let config = ConnectorConfig::in_code(
            ConnectorKind::Target,
            "389ds",
            "ds",
            table("filter = \"uid={username}\"\nattribute_map = { upn = \"bad attr\" }"),
        );
        let errors: Vec<String> = crate::Ds389TargetFactory
            .validate_all(&config)
            .iter()
            .map(|e| e.to_string())
            .collect();
        for key in ["filter", "attribute_map.upn"] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains(&format!("`targets.ds.{key}`"))),
                "no error names `{key}`: {errors:?}"
            );
        }
    }

    #[test]
    fn defaults() {
        let c = load("").unwrap();
        assert_eq!(c.server.pool_size(&RULES), 16);
        assert_eq!(c.server.ca_file, Some("ca.pem".into()));
        assert_eq!(c.filter, "(&(objectClass=inetOrgPerson)(uid={username}))");
        assert_eq!(
            c.attribute_map().get("object_id").map(String::as_str),
            Some("nsUniqueId")
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
        let e = Ds389Config::from_connector(&ConnectorConfig::in_code(
            ConnectorKind::Target,
            "389ds",
            "ds",
            t,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("allow_plaintext"), "{e}");
        assert_eq!(e.key.as_deref(), Some("targets.ds.url"));
        let e = load("filter = \"(uid=x)\"").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ds.filter"));
        let e = load("pool_size = 0").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ds.pool_size"));
        let e = load("attribute_map = { upn = \"uid)(x\" }").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("targets.ds.attribute_map.upn"));
    }
}
