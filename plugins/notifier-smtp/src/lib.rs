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

    fn check(&self, c: &SmtpConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        c.check(config)
    }

    async fn build_from(
        &self,
        c: SmtpConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Notifier>, ConfigError> {
        let from = recipients::parse_mailbox(&c.from).map_err(|m| config.error("from", m))?;
        let routing = recipients::Routing::from_config(&c).map_err(|(k, m)| config.error(&k, m))?;
        if let Some(warning) = c.plaintext_warning() {
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

#[cfg(test)]
mod tests;
