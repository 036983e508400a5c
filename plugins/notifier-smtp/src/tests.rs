//! Unit tests of the `smtp` notifier: its config checks and warnings.

use super::*;
use writeback_core::{ConnectorFactory, ConnectorKind};

/// `check-config` shows every mistake of the table in one run.
#[test]
fn every_mistake_is_reported_in_one_run() {
    let errors: Vec<String> = SmtpNotifierFactory
        .validate_all(&cfg(
            "host = \" \"\nfrom = \"nope\"\ntls = \"none\"\ntimeout_ms = 0",
        ))
        .iter()
        .map(|e| e.to_string())
        .collect();
    for key in ["host", "from", "tls", "timeout_ms"] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("`notifiers.mail.{key}`"))),
            "no error names `{key}`: {errors:?}"
        );
    }
}

#[test]
fn plaintext_to_another_host_is_warned_about() {
    let parse = |host: &str, tls: &str| -> SmtpConfig {
        cfg(&format!(
            "host = \"{host}\"\ntls = \"{tls}\"\nallow_plaintext = true\nfrom = \"w@example.org\""
        ))
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
    };
    for local in [
        "localhost",
        "LOCALHOST.",
        "127.0.0.1",
        "127.0.0.53",
        "::1",
        "[::1]",
    ] {
        assert_eq!(parse(local, "none").plaintext_warning(), None, "{local}");
    }
    for remote in [
        "mx.example.org",
        "10.0.0.25",
        "localhost.example.org",
        "::2",
    ] {
        let warning = parse(remote, "none").plaintext_warning();
        let text = warning.unwrap_or_else(|| panic!("no warning for {remote}"));
        assert!(
            text.contains("allow_plaintext") && text.contains(remote),
            "{text}"
        );
    }
    assert_eq!(
        parse("mx.example.org", "starttls").plaintext_warning(),
        None
    );
}

fn cfg(text: &str) -> ConnectorConfig {
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    ConnectorConfig::in_code(ConnectorKind::Notifier, "smtp", "mail", table)
}

#[test]
fn validation_refuses_what_cannot_work() {
    let f = SmtpNotifierFactory;
    assert!(f
        .validate(&cfg("host = \"mx\"\nfrom = \"w@example.org\""))
        .is_ok());
    let plain = f
        .validate(&cfg(
            "host = \"mx\"\nfrom = \"w@example.org\"\ntls = \"none\"",
        ))
        .err();
    assert!(plain
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("notifiers.mail.tls"));
    assert!(f
        .validate(&cfg(
            "host = \"mx\"\nfrom = \"w@example.org\"\nusername = \"u\""
        ))
        .is_err());
    assert!(f.validate(&cfg("host = \"mx\"\nfrom = \"nope\"")).is_err());
    assert!(f
        .validate(&cfg(
            "host = \"mx\"\nfrom = \"w@example.org\"\nport = \"x\""
        ))
        .is_err());
}
