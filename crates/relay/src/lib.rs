//! The relay: `writeback edge` (sources, sealing, publishing to NATS JetStream, waiting
//! for the outcome) and `writeback agent` (outbound-only: pulls, opens, runs the
//! pipeline, records the outcome in the ledger, replies). See docs/relay.md.

pub mod config;
pub mod seal;
pub mod wire;

pub use config::{RelayConfig, Role};
pub mod agent;
pub mod agents;
pub mod bus;
pub mod check;
pub mod edge;
pub mod health;
pub use async_nats;
