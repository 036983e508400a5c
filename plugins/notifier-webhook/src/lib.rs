//! Notifier: signed webhook POST of each outcome (never a password).
//!
//! `[[notifiers]] type = "webhook"` POSTs each finished request's [`Event`] as JSON,
//! signed like the webhook source's requests (Standard Webhooks, HMAC-SHA256), with
//! `webhook-id` = the event's `event_id` so receivers can deduplicate retries.
//!
//! ```toml
//! [[notifiers]]
//! type = "webhook"
//! url = "https://hooks.example.test/writeback"
//! secret = { env = "WRITEBACK_NOTIFY_SECRET" }   # whsec_...; `secrets = [..]` signs with each
//! # ca_file = "private-ca.pem"    # trust a private CA (default: the system bundle)
//! # timeout_seconds = 10, retries = 2
//! # allow_plain_http = true      # http:// to a non-loopback host
//! ```
//!
//! [`Event`]: writeback_core::Event

mod config;
mod notifier;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, Notifier, TypedFactory};
use writeback_signing::Secret;

use crate::config::WebhookNotifierConfig;
use crate::notifier::http_client;

pub use notifier::WebhookNotifier;

/// Builds `[[notifiers]] type = "webhook"`.
pub struct WebhookNotifierFactory;

#[async_trait]
impl TypedFactory<dyn Notifier> for WebhookNotifierFactory {
    type Config = WebhookNotifierConfig;
    const TYPE_NAME: &'static str = "webhook";
    const DESCRIPTION: &'static str =
        "signed HTTPS POST of each outcome as JSON (Standard Webhooks; never a password)";

    fn check(&self, typed: &WebhookNotifierConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
    }

    async fn build_from(
        &self,
        typed: WebhookNotifierConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Notifier>, ConfigError> {
        let url = typed.url(config)?;
        let mut secrets = Vec::new();
        for (key, reference) in &typed.secret_refs() {
            let text = ctx.secret(config, key, reference)?;
            secrets
                .push(Secret::parse(text.expose()).map_err(|e| config.error(key, e.to_string()))?);
        }
        let ca_file = typed.ca_file.as_deref().map(|p| ctx.path(p));
        let timeout = Duration::from_secs(typed.timeout_seconds);
        let http =
            http_client(ca_file.as_deref(), timeout).map_err(|m| config.error("ca_file", m))?;
        Ok(Arc::new(WebhookNotifier {
            name: config.name.clone(),
            url,
            secrets,
            retries: typed.retries,
            http,
        }))
    }
}

#[cfg(test)]
mod tests;
