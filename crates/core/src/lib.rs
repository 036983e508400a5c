//! The writeback contract every part keeps (see docs/architecture.md).
//!
//! * [`Request`] — what a cloud source hands the pipeline, with the new password as a
//!   [`Password`] (no Debug, Display or Serialize; zeroized on drop).
//! * [`Outcome`] — exactly one per request, with a stable [`OutcomeCode`].
//! * The four connector traits: [`CloudSource`], [`DirectoryTarget`], [`Policy`],
//!   [`Notifier`], and the [`ConnectorFactory`] that builds each from its TOML table.
//!
//! This crate does no I/O: it is the boundary native and WASM plugins adapt to.

pub mod config;
#[cfg(feature = "deadline")]
pub mod deadline;
pub mod doctor;
pub mod event;
pub mod factory;
pub mod identity;
pub mod outcome;
pub mod redact;
pub mod reminder;
pub mod request;
pub mod secret;
pub mod traits;

pub use config::{
    BuildContext, ConfigError, ConnectorConfig, ConnectorKind, SecretRef, SecretResolver,
};
pub use doctor::{DoctorOptions, Finding, Verdict};
pub use event::Event;
pub use factory::TypedFactory;
pub use identity::{Account, CloudIdentity, Initiator, InitiatorKind};
pub use outcome::{Outcome, OutcomeCode, RuleViolation};
pub use reminder::ExpiryReminder;
pub use request::{Operation, OperationKind, Request, RequestId};
pub use secret::Password;
pub use traits::{
    BoxError, CloudSource, ConnectorFactory, DirectoryTarget, HealthCheck, Notifier, NotifyError,
    Policy, PolicyContext, Preflight, Shutdown, Submit, TargetLookup,
};
