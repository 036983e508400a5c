//! One connector type of a plugin library as an ordinary [`ConnectorFactory`]: config
//! checks and builds go to the plugin, its errors come back with the file, line and
//! key of the host's config and the plugin's name.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{
    BuildContext, CloudSource, ConfigError, ConnectorConfig, ConnectorFactory, DirectoryTarget,
    Notifier, Policy,
};
use writeback_plugin_native_abi as abi;

use crate::calls::Calls;
use crate::library::NativeLibrary;
use crate::notifier::NativeNotifier;
use crate::policy::NativePolicy;
use crate::settings::CallSettings;
use crate::source::NativeSource;
use crate::target::NativeTarget;

pub struct NativeFactory {
    library: Arc<NativeLibrary>,
    kind: abi::ConnectorKind,
    /// Leaked once per loaded type: the factory trait hands out `&'static str`.
    type_name: &'static str,
    description: &'static str,
    settings: CallSettings,
}

impl NativeFactory {
    pub fn new(
        library: Arc<NativeLibrary>,
        info: &abi::ConnectorInfo,
        settings: CallSettings,
    ) -> Self {
        let description = format!(
            "{} [{} {}, interface {}]",
            info.description, library.name, library.version, library.interface_version
        );
        NativeFactory {
            type_name: Box::leak(info.type_name.to_string().into_boxed_str()),
            description: Box::leak(description.into_boxed_str()),
            kind: info.kind,
            library,
            settings,
        }
    }

    /// The table as the plugin receives it: TOML text.
    fn table_text(&self, config: &ConnectorConfig) -> Result<String, ConfigError> {
        toml::to_string(&config.table)
            .map_err(|e| config.error("", format!("cannot pass the table to the plugin: {e}")))
    }

    fn problem(&self, config: &ConnectorConfig, problem: &abi::ConfigProblem) -> ConfigError {
        config.error(
            problem.key.as_str(),
            format!("{} (from {})", problem.message, self.library.label()),
        )
    }

    fn calls(&self, config: &ConnectorConfig) -> Calls {
        let label = format!(
            "{} `{}` ({})",
            config.kind,
            config.name,
            self.library.label()
        );
        Calls::new(label, &self.settings)
    }

    fn check(&self, config: &ConnectorConfig, base_dir: &Path) -> Result<(), ConfigError> {
        let text = self.table_text(config)?;
        let base = base_dir.to_string_lossy();
        let abi_config = abi::ConnectorConfig::new(&config.name, &text, &base);
        self.library
            .plugin
            .validate(self.kind, self.type_name.into(), &abi_config)
            .into_result()
            .map_err(|p| self.problem(config, &p))
    }

    /// Runs one of the plugin's `build_*` functions with this table.
    fn build_with<B>(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
        build: impl FnOnce(
            &abi::PluginBox,
            &abi::ConnectorConfig<'_>,
        ) -> abi_stable::std_types::RResult<B, abi::ConfigProblem>,
    ) -> Result<B, ConfigError> {
        let text = self.table_text(config)?;
        let base = ctx.base_dir.to_string_lossy();
        let abi_config = abi::ConnectorConfig::new(&config.name, &text, &base);
        build(&self.library.plugin, &abi_config)
            .into_result()
            .map_err(|p| self.problem(config, &p))
    }
}

/// Where relative paths in a table point when no build context is at hand.
fn config_dir(config: &ConnectorConfig) -> &Path {
    config
        .source
        .as_ref()
        .and_then(|s| s.path.parent())
        .unwrap_or(Path::new("."))
}

macro_rules! factory_for {
    ($trait_obj:ty, $build:ident, $adapter:expr) => {
        #[async_trait]
        impl ConnectorFactory<$trait_obj> for NativeFactory {
            fn type_name(&self) -> &'static str {
                self.type_name
            }

            fn description(&self) -> &'static str {
                self.description
            }

            fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
                self.check(config, config_dir(config))
            }

            async fn build(
                &self,
                config: &ConnectorConfig,
                ctx: &BuildContext<'_>,
            ) -> Result<Arc<$trait_obj>, ConfigError> {
                let type_name = self.type_name;
                let built = self.build_with(config, ctx, |p, c| p.$build(type_name.into(), c))?;
                let adapt = $adapter;
                Ok(adapt(self, config, built))
            }
        }
    };
}

factory_for!(
    dyn Policy,
    build_policy,
    |f: &NativeFactory, c: &ConnectorConfig, b| {
        Arc::new(NativePolicy::new(b, f.calls(c))) as Arc<dyn Policy>
    }
);
factory_for!(
    dyn Notifier,
    build_notifier,
    |f: &NativeFactory, c: &ConnectorConfig, b| {
        Arc::new(NativeNotifier::new(b, f.calls(c))) as Arc<dyn Notifier>
    }
);
factory_for!(
    dyn DirectoryTarget,
    build_target,
    |f: &NativeFactory, c: &ConnectorConfig, b| {
        Arc::new(NativeTarget::new(b, f.calls(c))) as Arc<dyn DirectoryTarget>
    }
);
factory_for!(
    dyn CloudSource,
    build_source,
    |f: &NativeFactory, c: &ConnectorConfig, b| {
        let timeout = f.settings.call_timeout();
        Arc::new(NativeSource::new(b, f.calls(c), c.name.clone(), timeout)) as Arc<dyn CloudSource>
    }
);
