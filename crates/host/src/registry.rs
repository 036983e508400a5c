//! Connector factories by kind and type name, and the loaders that add more from
//! plugin files. Built-in connectors are registered by the program that embeds the host
//! (the `writeback` binary registers every built-in one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::PluginError;

use writeback_core::{
    CloudSource, ConfigError, ConnectorFactory, ConnectorKind, DirectoryTarget, Notifier, Policy,
};

pub type SourceFactory = Arc<dyn ConnectorFactory<dyn CloudSource>>;
pub type TargetFactory = Arc<dyn ConnectorFactory<dyn DirectoryTarget>>;
pub type PolicyFactory = Arc<dyn ConnectorFactory<dyn Policy>>;
pub type NotifierFactory = Arc<dyn ConnectorFactory<dyn Notifier>>;

/// A `[[plugins]]` entry: a file a loader turns into factories.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    /// Absolute path of the library or component.
    pub path: PathBuf,
    /// The other keys of the entry (loader-specific settings).
    pub table: toml::Table,
    /// `plugins[N]`, for error messages.
    pub key_path: String,
}

/// Turns a plugin file into connector factories (native libraries, WASM components).
pub trait PluginLoader: Send + Sync {
    /// `native`, `wasm`, …
    fn name(&self) -> &'static str;
    /// Whether this loader handles the file (usually by extension).
    fn accepts(&self, path: &Path) -> bool;
    /// Loads the file and registers what it provides. Errors name the file.
    fn load(&self, spec: &PluginSpec, registry: &mut Registry) -> Result<(), ConfigError>;
}

/// Where a factory came from, for `writeback plugins list`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FactoryInfo {
    pub kind: ConnectorKind,
    pub type_name: String,
    pub description: String,
    /// `built-in`, or the plugin file it was loaded from.
    pub origin: String,
}

#[derive(Clone)]
struct Entry<F> {
    factory: F,
    origin: String,
}

/// Every connector type the host can build.
#[derive(Clone, Default)]
pub struct Registry {
    sources: BTreeMap<String, Entry<SourceFactory>>,
    targets: BTreeMap<String, Entry<TargetFactory>>,
    policies: BTreeMap<String, Entry<PolicyFactory>>,
    notifiers: BTreeMap<String, Entry<NotifierFactory>>,
    loaders: Vec<Arc<dyn PluginLoader>>,
    origin: Option<String>,
    conflicts: Vec<PluginError>,
}

macro_rules! kind_accessors {
    ($register:ident, $get:ident, $field:ident, $factory:ty) => {
        /// Registers a factory under its type name. In code a later one replaces an earlier
        /// one; a plugin file may not replace a type that is already registered.
        pub fn $register(&mut self, factory: $factory) {
            let name = factory.type_name().to_string();
            if let Some(file) = &self.origin {
                // A plugin may add types, never replace one silently.
                if let Some(existing) = self.$field.get(&name) {
                    self.conflicts.push(PluginError::TypeConflict {
                        file: file.clone(),
                        type_name: name,
                        existing: existing.origin.clone(),
                    });
                    return;
                }
            }
            let origin = self
                .origin
                .clone()
                .unwrap_or_else(|| "built-in".to_string());
            self.$field.insert(name, Entry { factory, origin });
        }

        pub fn $get(&self, type_name: &str) -> Option<&$factory> {
            self.$field.get(type_name).map(|e| &e.factory)
        }
    };
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    kind_accessors!(register_source, source, sources, SourceFactory);
    kind_accessors!(register_target, target, targets, TargetFactory);
    kind_accessors!(register_policy, policy, policies, PolicyFactory);
    kind_accessors!(register_notifier, notifier, notifiers, NotifierFactory);

    pub fn register_loader(&mut self, loader: Arc<dyn PluginLoader>) {
        self.loaders.push(loader);
    }

    /// Loads one plugin file with the first loader that accepts it.
    pub fn load_plugin(&mut self, spec: &PluginSpec) -> Result<(), PluginError> {
        let loader = self
            .loaders
            .iter()
            .find(|l| l.accepts(&spec.path))
            .cloned()
            .ok_or_else(|| {
                let names: Vec<_> = self.loaders.iter().map(|l| l.name()).collect();
                PluginError::NoLoader {
                    path: spec.path.clone(),
                    loaders: if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    },
                }
            })?;
        self.origin = Some(spec.path.display().to_string());
        let result = loader.load(spec, self);
        self.origin = None;
        result?;
        match self.conflicts.drain(..).next() {
            Some(conflict) => Err(conflict),
            None => Ok(()),
        }
    }

    /// The type names known for a kind, for "unknown type" errors.
    pub fn type_names(&self, kind: ConnectorKind) -> Vec<String> {
        self.list()
            .into_iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.type_name)
            .collect()
    }

    /// Every factory, by kind then type name.
    pub fn list(&self) -> Vec<FactoryInfo> {
        fn infos<C: ?Sized>(
            kind: ConnectorKind,
            map: &BTreeMap<String, Entry<Arc<dyn ConnectorFactory<C>>>>,
        ) -> Vec<FactoryInfo> {
            map.iter()
                .map(|(name, e)| FactoryInfo {
                    kind,
                    type_name: name.clone(),
                    description: e.factory.description().to_string(),
                    origin: e.origin.clone(),
                })
                .collect()
        }
        let mut all = infos(ConnectorKind::Source, &self.sources);
        all.extend(infos(ConnectorKind::Target, &self.targets));
        all.extend(infos(ConnectorKind::Policy, &self.policies));
        all.extend(infos(ConnectorKind::Notifier, &self.notifiers));
        all
    }

    pub fn loader_names(&self) -> Vec<&'static str> {
        self.loaders.iter().map(|l| l.name()).collect()
    }
}
