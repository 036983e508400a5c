//! The writeback host: what integrators embed.
//!
//! ```no_run
//! # async fn demo(registry: writeback_host::Registry) -> Result<(), Box<dyn std::error::Error>> {
//! use writeback_host::{Config, Host};
//! let config = Config::load(std::path::Path::new("writeback.toml"))?;
//! let host = Host::build(config, &registry).await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! host.run(shutdown).await?;
//! # Ok(()) }
//! ```
//!
//! * [`Registry`]: the connector types the host can build (register your own).
//! * [`Config`]: the TOML file, checked at load.
//! * [`Host`]: builds every connector, runs the sources, drains on shutdown.
//! * [`Host::pipeline`]: where requests go in (dedupe, per-user order, deadline,
//!   policies, targets, audit), as a [`core::Submit`].
//!
//! The pipeline's parts (dedupe, per-user queues), the notification dispatchers, the
//! metrics, the status page and the admin listener are the host's own business and
//! not exported; what a program sees of them is [`Host`]'s methods.

mod admin;
pub mod audit;
pub mod audit_chain;
pub mod config;
mod error;
mod expiry;
mod host;
mod metrics;
mod notify;
mod pipeline;
pub mod registry;
pub mod secrets;
mod status;

pub use config::Config;
pub use error::{AuditError, PluginError, RunError};
pub use host::{
    build_connectors, validate, validate_all, Connectors, DispatcherFactory, Host, HostOptions,
};
pub use notify::{Dispatcher, NotifierEntry};
pub use pipeline::{PolicyEntry, TargetEntry};
pub use registry::{FactoryInfo, PluginLoader, PluginSpec, Registry};
pub use tokio_util::sync::CancellationToken;
pub use writeback_core as core;
