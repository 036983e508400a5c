//! The typed way to write a connector factory: say what the TOML table deserializes
//! into, check that value, build from it. The table is parsed once per step and every
//! bad key is reported, not only the first. A blanket adapter makes every
//! [`TypedFactory`] a [`ConnectorFactory`], the erased trait the host registers, so a
//! factory written the old way still compiles and registers the same way.

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::config::{BuildContext, ConfigError, ConnectorConfig};
use crate::traits::ConnectorFactory;

/// Builds connectors of one type from a typed config. `C` is the connector trait
/// object (`dyn DirectoryTarget`, …).
#[async_trait]
pub trait TypedFactory<C: ?Sized>: Send + Sync {
    /// What the connector's table deserializes into (`deny_unknown_fields`, so that a
    /// misspelt key is named).
    type Config: DeserializeOwned + Send + Sync + 'static;

    /// The `type` name in the config file.
    const TYPE_NAME: &'static str;

    /// One line for `writeback plugins list`.
    const DESCRIPTION: &'static str;

    /// Turns the table into [`TypedFactory::Config`], with every bad key reported. The
    /// default is serde; a connector whose keys come in groups (the LDAP server keys
    /// beside its own) parses each group and joins the errors.
    fn parse(&self, config: &ConnectorConfig) -> Result<Self::Config, Vec<ConfigError>> {
        config.parse_all()
    }

    /// Checks the parsed value without I/O; every problem found, each with its key.
    fn check(&self, _typed: &Self::Config, _config: &ConnectorConfig) -> Vec<ConfigError> {
        Vec::new()
    }

    /// Builds the running connector from a value that passed [`TypedFactory::check`]
    /// (may resolve secrets, read files, connect). `config` is there for error locations.
    async fn build_from(
        &self,
        typed: Self::Config,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<C>, ConfigError>;
}

/// Parse, then check the parsed value: every error of the table.
fn parse_and_check<C: ?Sized, F: TypedFactory<C> + ?Sized>(
    factory: &F,
    config: &ConnectorConfig,
) -> Result<F::Config, Vec<ConfigError>> {
    let typed = factory.parse(config)?;
    let errors = factory.check(&typed, config);
    if errors.is_empty() {
        Ok(typed)
    } else {
        Err(errors)
    }
}

/// The first error of a list that is never empty when it is returned; a generic
/// message if it were.
fn first(errors: Vec<ConfigError>, config: &ConnectorConfig) -> ConfigError {
    errors
        .into_iter()
        .next()
        .unwrap_or_else(|| config.error("", "invalid configuration"))
}

#[async_trait]
impl<C, F> ConnectorFactory<C> for F
where
    C: ?Sized + 'static,
    F: TypedFactory<C>,
{
    fn type_name(&self) -> &'static str {
        F::TYPE_NAME
    }

    fn description(&self) -> &'static str {
        F::DESCRIPTION
    }

    fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        parse_and_check(self, config)
            .map(|_| ())
            .map_err(|e| first(e, config))
    }

    fn validate_all(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        parse_and_check(self, config).err().unwrap_or_default()
    }

    async fn build(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<C>, ConfigError> {
        let typed = parse_and_check(self, config).map_err(|e| first(e, config))?;
        self.build_from(typed, config, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::config::{ConnectorKind, SecretRef, SecretResolver};
    use crate::Password;

    /// A connector of no kind in particular: the adapter does not care.
    trait Thing: Send + Sync {
        fn size(&self) -> u32;
    }

    struct Sized(u32);
    impl Thing for Sized {
        fn size(&self) -> u32 {
            self.0
        }
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ThingConfig {
        size: u32,
        name: String,
    }

    struct ThingFactory;

    #[async_trait]
    impl TypedFactory<dyn Thing> for ThingFactory {
        type Config = ThingConfig;
        const TYPE_NAME: &'static str = "thing";
        const DESCRIPTION: &'static str = "a thing of a size";

        fn check(&self, typed: &ThingConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
            let mut errors = Vec::new();
            if typed.size == 0 {
                errors.push(config.error("size", "must be at least 1"));
            }
            if typed.name.is_empty() {
                errors.push(config.error("name", "must not be empty"));
            }
            errors
        }

        async fn build_from(
            &self,
            typed: ThingConfig,
            _config: &ConnectorConfig,
            _ctx: &BuildContext<'_>,
        ) -> Result<Arc<dyn Thing>, ConfigError> {
            Ok(Arc::new(Sized(typed.size)))
        }
    }

    fn config(text: &str) -> ConnectorConfig {
        let table: toml::Table = toml::from_str(text).unwrap_or_default();
        ConnectorConfig::in_code(ConnectorKind::Policy, "thing", "t", table)
    }

    fn keys(errors: &[ConfigError]) -> Vec<String> {
        errors.iter().filter_map(|e| e.key.clone()).collect()
    }

    #[test]
    fn the_erased_factory_reports_every_parse_and_check_error() {
        let erased: Arc<dyn ConnectorFactory<dyn Thing>> = Arc::new(ThingFactory);
        assert_eq!(erased.type_name(), "thing");
        assert_eq!(
            keys(&erased.validate_all(&config("size = \"big\"\nsizee = 1\n"))),
            ["policies.t.size", "policies.t.sizee", "policies.t.name"]
        );
        assert_eq!(
            keys(&erased.validate_all(&config("size = 0\nname = \"\"\n"))),
            ["policies.t.size", "policies.t.name"]
        );
        assert!(erased
            .validate_all(&config("size = 2\nname = \"n\"\n"))
            .is_empty());
        let first = erased.validate(&config("size = 0\nname = \"\"\n")).err();
        assert_eq!(
            first.and_then(|e| e.key),
            Some("policies.t.size".to_string())
        );
    }

    #[tokio::test]
    async fn the_erased_factory_builds_from_the_typed_value() {
        struct NoSecrets;
        impl SecretResolver for NoSecrets {
            fn resolve(&self, _: &SecretRef) -> Result<Password, crate::config::SecretError> {
                Err(crate::config::SecretError::Unsupported("none".into()))
            }
        }
        let ctx = BuildContext {
            secrets: &NoSecrets,
            base_dir: std::path::Path::new("."),
        };
        let erased: Arc<dyn ConnectorFactory<dyn Thing>> = Arc::new(ThingFactory);
        let built = erased
            .build(&config("size = 7\nname = \"n\"\n"), &ctx)
            .await;
        assert_eq!(built.map(|t| t.size()).ok(), Some(7));
        let refused = erased
            .build(&config("size = 0\nname = \"n\"\n"), &ctx)
            .await;
        assert!(refused.is_err());
    }
}
