//! The writeback contract every part keeps (see docs/architecture.md).
//!
//! * [`Request`] — what a cloud source hands the pipeline, with the new password as a
//!   [`Password`] (no Debug, Display or Serialize; zeroized on drop).
//! * [`Outcome`] — exactly one per request, with a stable [`OutcomeCode`].
//! * The four connector traits: [`CloudSource`], [`DirectoryTarget`], [`Policy`],
//!   [`Notifier`], and the [`ConnectorFactory`] that builds each from its TOML table.
//!
//! This crate does no I/O: it is the boundary native and WASM plugins adapt to.
//!
//! Features: `config` (default) adds the TOML connector configs and the factories,
//! `connectors` (implied by `config`) the four traits, `deadline` the request's
//! deadline as a tokio task-local. With `default-features = false` what is left is the
//! model — [`OutcomeCode`], [`Outcome`], [`CloudIdentity`] and its accessors, the
//! request types, [`Password`] — which the WASM guest SDK links.

#[cfg(feature = "config")]
pub mod config;
#[cfg(feature = "deadline")]
pub mod deadline;
pub mod doctor;
pub mod event;
#[cfg(feature = "config")]
pub mod factory;
pub mod identity;
pub mod outcome;
pub mod redact;
pub mod reminder;
pub mod request;
pub mod secret;
#[cfg(feature = "connectors")]
pub mod traits;

#[cfg(feature = "config")]
pub use config::{
    BuildContext, ConfigError, ConnectorConfig, ConnectorKind, SecretError, SecretRef,
    SecretResolver,
};
pub use doctor::{DoctorOptions, Finding, Verdict};
pub use event::Event;
#[cfg(feature = "config")]
pub use factory::TypedFactory;
pub use identity::{Account, CloudIdentity, IdentityError, Initiator, InitiatorKind};
pub use outcome::{Outcome, OutcomeCode, RuleViolation};
pub use reminder::ExpiryReminder;
pub use request::{Operation, OperationKind, Request, RequestId, RequestIdError};
pub use secret::Password;
#[cfg(feature = "config")]
pub use traits::ConnectorFactory;
#[cfg(feature = "connectors")]
pub use traits::{
    BoxError, CloudSource, DirectoryTarget, HealthCheck, Notifier, NotifyError, Policy,
    PolicyContext, Preflight, Shutdown, Submit, TargetLookup,
};
