//! Cloud source: the password page. People sign in with their cloud identity (OpenID
//! Connect, authorization code flow with PKCE, against any standard provider), choose
//! a new password while the page shows each on-premises rule's verdict (a pre-flight
//! that writes nothing), and have it written to every directory.
//!
//! ```toml
//! [[sources]]
//! type = "portal"
//! listen = "0.0.0.0:8443"
//! public_url = "https://password.example.org"
//! tls = { cert_file = "server.pem", key_file = "server.key" }
//! [sources.oidc]
//! issuer = "https://login.microsoftonline.com/<tenant>/v2.0"
//! client_id = "…"
//! client_secret = { env = "PORTAL_CLIENT_SECRET" }
//! ```
//!
//! The full table, the safety rules and screenshots are in docs/portal.md.

mod config;
mod details;
mod i18n;
mod oidc;
mod page;
mod routes;
mod session;
mod source;
mod wire;

#[doc(hidden)]
pub mod fuzzing;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, CloudSource, ConfigError, ConnectorConfig, TypedFactory};

use crate::config::{validate, PortalConfig};

pub use oidc::SignInError;
pub use source::PortalSource;
pub use writeback_listener::PLAIN_HTTP_BEHIND_PROXY;

/// Builds `[[sources]] type = "portal"`.
pub struct PortalSourceFactory;

#[async_trait]
impl TypedFactory<dyn CloudSource> for PortalSourceFactory {
    type Config = PortalConfig;
    const TYPE_NAME: &'static str = "portal";
    const DESCRIPTION: &'static str = "HTTPS password page: people sign in with OpenID Connect and set their on-premises password, with live rule verdicts";

    fn check(&self, typed: &PortalConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        validate(typed, config).err().unwrap_or_default()
    }

    async fn build_from(
        &self,
        typed: PortalConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn CloudSource>, ConfigError> {
        Ok(Arc::new(PortalSource::from_config(typed, config, ctx)?))
    }
}

#[cfg(test)]
mod tests;
