//! Notifier `smtp`: tells people by email what happened to their password, and warns
//! them before it expires.
//!
//! lettre over tokio with rustls (ring): STARTTLS (required, never skipped) or
//! implicit TLS, authentication with a secret from the environment or a file, a CA file
//! for private servers. Recipients are the account's `mail`, fixed addresses, or both,
//! per outcome kind. Subjects and bodies come from minijinja templates with English
//! defaults, each replaceable by a file. A notification holds no password, so no mail
//! can contain one.

mod config;
mod notifier;
mod recipients;
mod templates;
mod transport;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Notifier, TypedFactory};

pub use config::{Recipients, SmtpConfig, TlsMode};
pub use notifier::SmtpNotifier;

/// Builds `type = "smtp"` notifiers.
pub struct SmtpNotifierFactory;

#[async_trait]
impl TypedFactory<dyn Notifier> for SmtpNotifierFactory {
    type Config = SmtpConfig;
    const TYPE_NAME: &'static str = "smtp";
    const DESCRIPTION: &'static str =
        "Email over SMTP (STARTTLS or TLS) from templates: to the person, the help desk, or both";

    /// Everything that can be checked without I/O, every problem with its key.
    fn check(&self, c: &SmtpConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if c.host.trim().is_empty() {
            errors.push(config.error("host", "give the SMTP server's host name"));
        }
        if c.tls == TlsMode::None && !c.allow_plaintext {
            errors.push(config.error(
                "tls",
                "`none` sends mail (and any SMTP password) unencrypted; use `starttls` or `tls`, \
                 or set `allow_plaintext = true` for a relay on the same host",
            ));
        }
        if c.tls == TlsMode::None && c.ca_file.is_some() {
            errors.push(config.error(
                "ca_file",
                "a CA file needs `tls = \"starttls\"` or `\"tls\"`",
            ));
        }
        if c.password.is_some() != c.username.is_some() {
            errors.push(config.error(
                "username",
                "give both `username` and `password`, or neither",
            ));
        }
        if c.timeout_ms == 0 || c.timeout_ms > 600_000 {
            errors.push(config.error("timeout_ms", "must be between 1 and 600000"));
        }
        if let Err(m) = recipients::parse_mailbox(&c.from) {
            errors.push(config.error("from", m));
        }
        if let Err((k, m)) = recipients::Routing::from_config(c) {
            errors.push(config.error(&k, m));
        }
        errors
    }

    async fn build_from(
        &self,
        c: SmtpConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Notifier>, ConfigError> {
        let from = recipients::parse_mailbox(&c.from).map_err(|m| config.error("from", m))?;
        let routing = recipients::Routing::from_config(&c).map_err(|(k, m)| config.error(&k, m))?;
        if let Some(warning) = plaintext_warning(&c) {
            tracing::warn!(notifier = %config.name, key = "allow_plaintext", "{warning}");
        }
        let password = match &c.password {
            Some(secret) => Some(ctx.secret(config, "password", secret)?),
            None => None,
        };
        let ca_pem = match &c.ca_file {
            Some(path) => {
                let path = ctx.path(path);
                Some(std::fs::read(&path).map_err(|e| {
                    config.error("ca_file", format!("cannot read {}: {e}", path.display()))
                })?)
            }
            None => None,
        };
        let dir = c.templates_dir.as_ref().map(|d| ctx.path(d));
        let templates = templates::Templates::load(dir.as_deref(), c.vars.clone())
            .map_err(|m| config.error("templates_dir", m))?;
        let transport =
            transport::build(&c, ca_pem.as_deref(), password.as_ref()).map_err(|m| {
                config.error(
                    if m.starts_with("ca_file") {
                        "ca_file"
                    } else {
                        "tls"
                    },
                    m,
                )
            })?;
        Ok(Arc::new(SmtpNotifier {
            name: config.name.clone(),
            from,
            routing,
            templates,
            transport,
        }))
    }
}

/// What to tell the operator when `allow_plaintext` sends mail unencrypted to a host
/// that is not this machine. A name is taken at its word (no DNS lookup at startup):
/// only `localhost` and loopback addresses count as the same host.
fn plaintext_warning(c: &SmtpConfig) -> Option<String> {
    if c.tls != TlsMode::None || is_loopback(&c.host) {
        return None;
    }
    Some(format!(
        "allow_plaintext = true with tls = \"none\" sends mail, and the SMTP password if one \
         is set, unencrypted to {}, which is not this machine: anyone on the network path can \
         read or change it. Use tls = \"starttls\" or \"tls\", or a relay on the same host",
        c.host.trim()
    ))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
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
            assert_eq!(plaintext_warning(&parse(local, "none")), None, "{local}");
        }
        for remote in [
            "mx.example.org",
            "10.0.0.25",
            "localhost.example.org",
            "::2",
        ] {
            let warning = plaintext_warning(&parse(remote, "none"));
            let text = warning.unwrap_or_else(|| panic!("no warning for {remote}"));
            assert!(
                text.contains("allow_plaintext") && text.contains(remote),
                "{text}"
            );
        }
        assert_eq!(
            plaintext_warning(&parse("mx.example.org", "starttls")),
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
}
