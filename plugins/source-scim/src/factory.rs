//! Builds the SCIM source from its `[[sources]]` table.

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, CloudSource, ConfigError, ConnectorConfig, TypedFactory};

use crate::auth::BearerToken;
use crate::config::ScimConfig;
use crate::server::ScimSource;

/// Builds `[[sources]] type = "scim"`.
pub struct ScimSourceFactory;

/// The earlier name of [`ScimSourceFactory`].
pub type ScimFactory = ScimSourceFactory;

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
                .map_err(|m| config.error("tls", m))?,
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
