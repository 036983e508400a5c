//! Cloud source: a SCIM 2.0 service provider (RFC 7643, RFC 7644).
//!
//! Identity providers that provision over SCIM can push a person's new password to an
//! application (Okta's "Sync password"). This source presents the on-premises directory
//! as such an application: `/Users` lists the accounts of one configured directory target
//! (read-only, with filters and pages, so the provider can link its users), and a `PUT` or
//! `PATCH` carrying `password` becomes a reset request through the pipeline. The HTTP
//! response waits for the outcome, and a refusal comes back as a SCIM error with the
//! reasons. Users are neither created nor deleted here: writeback does not provision.
//!
//! Modules, in the order a request meets them: [`config`] (the TOML table), `auth`
//! (bearer token), `routes` (endpoints), [`filter`] (the filter subset), `users`
//! (reads), [`update`] (what a PUT/PATCH asks for), `push` (the pipeline round trip),
//! `idempotency` (retry-safe request ids), [`error`] (SCIM errors, outcome mapping).

mod auth;
pub mod config;
mod directory;
pub mod discovery;
pub mod error;
pub mod filter;
mod idempotency;
mod push;
pub mod resource;
mod routes;
mod source;
pub mod update;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, CloudSource, ConfigError, ConnectorConfig, TypedFactory};

use crate::auth::BearerToken;
use crate::config::ScimConfig;

pub use source::ScimSource;

/// Builds `[[sources]] type = "scim"`.
pub struct ScimSourceFactory;

/// The earlier name of [`ScimSourceFactory`].
pub use ScimSourceFactory as ScimFactory;

#[async_trait]
impl TypedFactory<dyn CloudSource> for ScimSourceFactory {
    type Config = ScimConfig;
    const TYPE_NAME: &'static str = "scim";
    const DESCRIPTION: &'static str = "SCIM 2.0 service provider: identity providers (Okta password sync, …) push passwords with PUT/PATCH /Users/{id}";

    /// Every bad key of the table, then the checks of the parsed value.
    fn parse(&self, config: &ConnectorConfig) -> Result<ScimConfig, Vec<ConfigError>> {
        let mut parsed: ScimConfig = config.parse_all()?;
        parsed.attributes.normalize();
        parsed.check(config).map_err(|e| vec![e])?;
        Ok(parsed)
    }

    async fn build_from(
        &self,
        parsed: ScimConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn CloudSource>, ConfigError> {
        let token = ctx.secret(config, "token", &parsed.token)?;
        let token = BearerToken::new(&token).map_err(|m| config.error("token", m))?;
        let tls = match &parsed.tls {
            Some(files) => Some(
                writeback_listener::tls::acceptor(
                    &ctx.path(&files.cert_file),
                    &ctx.path(&files.key_file),
                )
                .map_err(|e| config.error("tls", e.to_string()))?,
            ),
            None => None,
        };
        Ok(Arc::new(ScimSource {
            name: config.name.clone(),
            config: parsed,
            token,
            tls,
        }))
    }
}

#[cfg(test)]
mod tests;
