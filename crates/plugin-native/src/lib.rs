//! The host side of native plugins: loads a dynamic library built with
//! `writeback-plugin-native-abi`, checks its interface version, and registers each
//! connector type it provides as an ordinary factory, so the pipeline cannot tell a
//! plugin from a built-in connector.
//!
//! * [`NativeLoader`] — the [`PluginLoader`](writeback_host::PluginLoader) for
//!   `[[plugins]] path = "….so"` entries.
//! * [`library`] — opening a file, with errors that say what is wrong and what to do.
//! * [`calls`] — every plugin call runs on tokio's blocking pool, with a time limit and
//!   a cap on concurrent calls, so a slow plugin cannot stall other requests.
//! * [`policy`], [`target`], [`notifier`], [`source`] — the adapters to core's traits.

pub mod calls;
mod convert;
mod factory;
pub mod library;
mod loader;
pub mod notifier;
pub mod policy;
pub mod settings;
pub mod source;
pub mod target;

pub use library::NativeLibrary;
pub use loader::NativeLoader;
pub use writeback_plugin_native_abi::INTERFACE_VERSION;
