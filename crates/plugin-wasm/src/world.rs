//! The worlds of writeback:plugin@0.1.0, and the glue each generated binding needs so
//! the sandbox code is written once.

use std::fmt;
use std::future::Future;

use wasmtime::component::InstancePre;
use wasmtime::Store;

use crate::bindings::notifier::writeback::plugin::types::Metadata;
use crate::bindings::{notifier, policy, source, target};
use crate::options::InstanceMode;
use crate::state::HostState;

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";

/// A plugin kind, as told by the interface a component exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    Policy,
    Notifier,
    Target,
    Source,
}

impl World {
    /// The exported interface that marks the world, without package or version.
    pub fn interface(self) -> &'static str {
        match self {
            World::Policy => "policy",
            World::Notifier => "notifier",
            World::Target => "target",
            World::Source => "source",
        }
    }

    /// The WIT world name.
    pub fn world_name(self) -> &'static str {
        match self {
            World::Policy => "policy-plugin",
            World::Notifier => "notifier-plugin",
            World::Target => "target-plugin",
            World::Source => "source-plugin",
        }
    }

    pub fn from_interface(name: &str) -> Option<World> {
        [World::Policy, World::Notifier, World::Target, World::Source]
            .into_iter()
            .find(|w| w.interface() == name)
    }

    /// Imports a component of this world may have besides WASI (`types` holds only
    /// type definitions).
    pub fn granted_imports(self) -> &'static [&'static str] {
        match self {
            World::Policy => &["types", "log"],
            World::Notifier => &["types", "log", "http"],
            World::Target => &["types", "log", "directory"],
            World::Source => &["types", "log", "http"],
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "writeback:plugin/{}@{WIT_VERSION}", self.world_name())
    }
}

/// What the sandbox needs from one world's generated bindings.
pub(crate) trait Bindings: Sized + Send + Sync + 'static {
    type Pre: Send + Sync + 'static;
    const WORLD: World;
    /// Instances per call when the plugin's entry does not say: fresh for every world
    /// that lends the guest a password or an account, reused for notifiers (which
    /// never see one).
    const INSTANCES: InstanceMode;
    fn new_pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;
    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Self>> + Send;
    fn describe(
        &self,
        store: &mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Metadata>> + Send;
    fn configure(
        &self,
        store: &mut Store<HostState>,
        json: &str,
    ) -> impl Future<Output = wasmtime::Result<Result<(), String>>> + Send;
}

/// The same glue for every world: the generated types differ only in name.
macro_rules! world_bindings {
    ($module:ident :: $bindings:ident, $pre:ident, $world:expr, $instances:expr) => {
        impl Bindings for $module::$bindings {
            type Pre = $module::$pre<HostState>;
            const WORLD: World = $world;
            const INSTANCES: InstanceMode = $instances;

            fn new_pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
                $module::$pre::new(pre)
            }

            async fn instantiate(
                pre: &Self::Pre,
                store: &mut Store<HostState>,
            ) -> wasmtime::Result<Self> {
                pre.instantiate_async(store).await
            }

            async fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<Metadata> {
                self.writeback_plugin_meta().call_describe(store).await
            }

            async fn configure(
                &self,
                store: &mut Store<HostState>,
                json: &str,
            ) -> wasmtime::Result<Result<(), String>> {
                self.writeback_plugin_meta()
                    .call_configure(store, json)
                    .await
            }
        }
    };
}

world_bindings!(
    policy::PolicyPlugin,
    PolicyPluginPre,
    World::Policy,
    InstanceMode::Fresh
);
world_bindings!(
    notifier::NotifierPlugin,
    NotifierPluginPre,
    World::Notifier,
    InstanceMode::Reused
);
world_bindings!(
    target::TargetPlugin,
    TargetPluginPre,
    World::Target,
    InstanceMode::Fresh
);
world_bindings!(
    source::SourcePlugin,
    SourcePluginPre,
    World::Source,
    InstanceMode::Fresh
);
