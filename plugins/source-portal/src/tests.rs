//! Unit tests of the portal source (helper modules test their private parts inline).

/// The table's checks, as `check-config` reports them.
mod config_checks {
    use std::time::Duration;

    use writeback_core::{ConnectorConfig, ConnectorKind};

    use crate::config::*;

    fn connector(text: &str) -> ConnectorConfig {
        let table: toml::Table = toml::from_str(text).unwrap();
        ConnectorConfig::in_code(ConnectorKind::Source, "portal", "page", table)
    }

    fn err(extra: &str) -> String {
        let text = format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"https://pw.example.org\"\n{extra}\n\
             [oidc]\nissuer = \"https://idp.example.org\"\nclient_id = \"c\"\n\
             client_secret = {{ env = \"S\" }}\n"
        );
        check(&connector(&text))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_minimal_table_passes_and_defaults_are_safe() {
        assert_eq!(err(""), "");
        let text = "listen = \"127.0.0.1:0\"\npublic_url = \"https://pw.example.org/\"\n\
                    [oidc]\nissuer = \"https://idp.example.org\"\nclient_id = \"c\"\n\
                    client_secret = { env = \"S\" }\n";
        let c = check(&connector(text)).ok().unwrap();
        assert_eq!(c.public_url, "https://pw.example.org");
        assert_eq!(c.mode, Mode::Reset);
        assert!(!c.config.allow_unlock);
        assert_eq!(c.session, Duration::from_secs(600));
    }

    #[test]
    fn errors_name_the_key_and_say_what_to_write() {
        assert!(err("mode = \"swap\"").contains("`sources.page.mode`"));
        assert!(err("session_seconds = 86400").contains("session_seconds"));
        assert!(err("branding = { accent_colour = \"red\" }").contains("#rrggbb"));
        assert!(
            err("branding = { logo_url = \"javascript:alert(1)\" }").contains("branding.logo_url")
        );
        assert!(err("limits = { submits_per_account = 0 }").contains("at least 1"));
        assert!(err("nope = 1").contains("unknown field `nope`"));
        let http_issuer = "listen = \"127.0.0.1:0\"\npublic_url = \"https://pw.example.org\"\n\
                           [oidc]\nissuer = \"http://idp.example.org\"\nclient_id = \"c\"\n\
                           client_secret = { env = \"S\" }\n";
        assert!(check(&connector(http_issuer))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("https://"));
    }

    #[test]
    fn the_factory_reports_every_problem_at_once() {
        use writeback_core::ConnectorFactory;
        let text = "listen = \"127.0.0.1:0\"\npublic_url = \"https://pw.example.org\"\n\
                    mode = \"swap\"\nsession_seconds = 5\nbranding = { accent_colour = \"red\" }\n\
                    [oidc]\nissuer = \"https://idp.example.org\"\nclient_id = \"c\"\n\
                    client_secret = { env = \"S\" }\n";
        let factory = crate::PortalSourceFactory;
        let errors: Vec<String> = factory
            .validate_all(&connector(text))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        for key in ["mode", "session_seconds", "branding.accent_colour"] {
            assert!(errors.iter().any(|e| e.contains(key)), "{key}: {errors:?}");
        }
        assert_eq!(factory.type_name(), "portal");
    }

    #[test]
    fn plain_http_only_on_loopback_or_in_so_many_words() {
        let text = "listen = \"0.0.0.0:80\"\npublic_url = \"https://pw.example.org\"\n\
                    [oidc]\nissuer = \"https://idp.example.org\"\nclient_id = \"c\"\n\
                    client_secret = { env = \"S\" }\n";
        let e = check(&connector(text))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("must arrive over TLS"), "{e}");
    }
}
