//! Cloud source: signed webhook requests over HTTPS (Standard Webhooks).
//!
//! `[[sources]] type = "webhook"` listens for `POST /v1/requests` with a JSON body
//! signed as the Standard Webhooks specification says, and answers within the same
//! HTTP request with the outcome. The wire format is in docs/webhook-protocol.md.
//!
//! ```toml
//! [[sources]]
//! type = "webhook"
//! listen = "0.0.0.0:8443"
//! tls = { cert_file = "server.pem", key_file = "server.key" }
//! secret = { env = "WRITEBACK_WEBHOOK_SECRET" }   # whsec_...; `secrets = [..]` to rotate
//! # tolerance_seconds = 300, max_body_bytes = 65536, replay_cache_size = 100000
//! # plain_http = "behind-tls-proxy"   # instead of `tls`, only with a TLS proxy in front
//! ```
//!
//! Public API: [`WebhookSourceFactory`] (register it with the host),
//! [`WebhookSource::local_addr`], the wire types [`Reply`], and the [`client`] module
//! that signs and sends requests.

pub mod client;
mod config;
mod handler;
mod replay;
mod source;
mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, CloudSource, ConfigError, ConnectorConfig, TypedFactory};

use crate::config::{checked, problems, WebhookSourceConfig};

pub use config::PLAIN_HTTP_BEHIND_PROXY;
pub use handler::{HEALTH_PATH, POLICY_CHECK_PATH, REQUESTS_PATH};
pub use source::WebhookSource;
pub use wire::Reply;

/// Builds `[[sources]] type = "webhook"`.
pub struct WebhookSourceFactory;

#[async_trait]
impl TypedFactory<dyn CloudSource> for WebhookSourceFactory {
    type Config = WebhookSourceConfig;
    const TYPE_NAME: &'static str = "webhook";
    const DESCRIPTION: &'static str =
        "HTTPS endpoint for signed password requests (Standard Webhooks, HMAC-SHA256)";

    fn check(&self, typed: &WebhookSourceConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        problems(typed, config)
    }

    async fn build_from(
        &self,
        typed: WebhookSourceConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn CloudSource>, ConfigError> {
        let checked = checked(typed, config).map_err(|errors| {
            errors
                .into_iter()
                .next()
                .unwrap_or_else(|| config.error("", "invalid configuration"))
        })?;
        Ok(Arc::new(WebhookSource::from_checked(checked, config, ctx)?))
    }
}

/// Entry points for the fuzz targets in `fuzz/` (not a stable API): the body parser
/// the HTTP handler calls once the signature has checked out.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::wire::{parse_request, InvalidRequest};
}

#[cfg(test)]
mod tests;
