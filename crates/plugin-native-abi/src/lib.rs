//! The stable interface between writeback and native plugins: dynamic libraries that
//! provide connectors (cloud sources, directory targets, policies, notifiers) to the
//! stock `writeback` binary. Both sides depend on this crate; the host side is
//! `writeback-plugin-native`. See docs/native-plugins.md.
//!
//! * [`sdk`] — what a plugin author implements: [`Policy`], [`Notifier`], [`Target`],
//!   [`Source`] (all plain, blocking Rust), listed in a [`Plugin`] and exported with
//!   [`export_plugin!`].
//! * Data at the boundary is small and `repr(C)` ([`data`], [`views`], [`codes`]);
//!   passwords are a [`PasswordView`] (borrowed) or a [`Secret`] (owned, zeroized).
//! * [`ffi`] — the trait objects and the root module, built on abi_stable prefix types.
//!
//! **Versioning.** The interface version is this crate's version ([`INTERFACE_VERSION`]).
//! A host refuses a library built against another major version, naming both. Minor
//! versions only append (methods with defaults, fields at the end of prefix types,
//! new code values), so a plugin built against 1.0 loads into any 1.x host.
// The stable ABI: abi_stable's derives and export macros generate unsafe impls and
// extern fns (the reason this crate exists); the rest of the workspace has none.
#![allow(unsafe_code)]

pub mod codes;
pub mod config;
pub mod data;
pub mod ffi;
mod guard;
pub mod sdk;
pub mod secret;
pub mod views;

pub use abi_stable;

pub use codes::{ConnectorKind, InitiatorKind, OperationKind, OutcomeCode};
pub use config::ConnectorConfig;
pub use data::{
    Account, AccountValue, ConfigProblem, ConnectorInfo, Event, ExpiryReminder, ExtraAttribute,
    HealthCheck, Identity, IncomingOperation, IncomingRequest, Initiator, NotifyError, Outcome,
    RuleViolation, TargetResult,
};
pub use ffi::{
    NotifierBox, PluginBox, PluginModule, PluginModule_Ref, PolicyBox, SourceBox, TargetBox,
};
pub use sdk::{Connector, Notifier, Plugin, Policy, Source, Target};
pub use secret::{PasswordView, Secret};
pub use views::{AccountView, AttributeView, IdentityView, OperationView, PolicyInput};

/// The version of this interface, as a plugin records it when it is built.
pub const INTERFACE_VERSION: &str = env!("CARGO_PKG_VERSION");
