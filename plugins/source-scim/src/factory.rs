//! Builds the SCIM source from its `[[sources]]` table.

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, CloudSource, ConfigError, ConnectorConfig, ConnectorFactory};

use crate::auth::BearerToken;
use crate::config::ScimConfig;
use crate::server::ScimSource;

pub struct ScimFactory;

#[async_trait]
impl ConnectorFactory<dyn CloudSource> for ScimFactory {
    fn type_name(&self) -> &'static str {
        "scim"
    }

    fn description(&self) -> &'static str {
        "SCIM 2.0 service provider: identity providers (Okta password sync, …) push passwords with PUT/PATCH /Users/{id}"
    }

    fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        ScimConfig::from_connector(config).map(|_| ())
    }

    async fn build(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn CloudSource>, ConfigError> {
        let parsed = ScimConfig::from_connector(config)?;
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
