//! The boundary itself: one trait object per connector kind, the plugin object that
//! builds them, and the library's root module.
//!
//! Every table of functions here is an abi_stable prefix type: methods are only ever
//! appended (after the one marked `last_prefix_field`, which never moves), and an
//! appended method has a default body, which the host runs when an older plugin lacks
//! it. That is what lets a plugin built against 1.0 load into a 1.3 host.
//!
//! Plugin authors do not implement these traits: they implement the plain Rust traits
//! in [`crate::sdk`], whose adapters catch panics before they reach an `extern fn`.

// The code sabi_trait generates trips a few pedantic lints.
#![allow(
    clippy::too_many_arguments,
    non_camel_case_types,
    non_local_definitions
)]

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RResult, RStr, RString, RVec};
use abi_stable::{declare_root_module_statics, package_version_strings, sabi_trait, StableAbi};

use crate::codes::ConnectorKind;
use crate::config::ConnectorConfig;
use crate::data::{
    Account, ConfigProblem, ConnectorInfo, Event, ExpiryReminder, HealthCheck, IncomingRequest,
    NotifyError, Outcome, RuleViolation,
};
use crate::secret::PasswordView;
use crate::views::{AccountView, IdentityView, OperationView, PolicyInput};

/// Judges a candidate password.
#[sabi_trait]
pub trait PolicyFfi: Send + Sync {
    /// Every rule broken (empty: it passes); `Err`: the policy itself failed.
    #[sabi(last_prefix_field)]
    fn evaluate(
        &self,
        password: PasswordView<'_>,
        input: &PolicyInput<'_>,
    ) -> RResult<RVec<RuleViolation>, Outcome>;
}

/// Tells people and systems what happened.
#[sabi_trait]
pub trait NotifierFfi: Send + Sync {
    fn notify(&self, event: &Event) -> RResult<(), NotifyError>;

    fn remind(&self, reminder: &ExpiryReminder) -> RResult<(), NotifyError>;

    #[sabi(last_prefix_field)]
    fn sends_reminders(&self) -> bool;
}

/// Finds accounts in a directory and applies operations.
#[sabi_trait]
pub trait TargetFfi: Send + Sync {
    fn resolve(&self, identity: &IdentityView<'_>) -> RResult<Account, Outcome>;

    fn apply(
        &self,
        account: &AccountView<'_>,
        operation: &OperationView<'_>,
    ) -> RResult<(), Outcome>;

    #[sabi(last_prefix_field)]
    fn self_test(&self) -> RVec<HealthCheck>;
}

/// Fetches requests from the cloud side. A dynamic library does not share the host's
/// async runtime, so a source is a blocking poll: the host calls `poll` in a loop on
/// its blocking pool, runs each request, and hands the outcome back with `complete`.
#[sabi_trait]
pub trait SourceFfi: Send + Sync {
    /// Where it polls, for logs and `check-config`.
    fn describe(&self) -> RString;

    /// Waits up to `max_wait_ms` for requests; returns those that arrived (maybe none).
    /// `Err`: the cloud side could not be reached (the host logs it and retries).
    fn poll(&self, max_wait_ms: u64) -> RResult<RVec<IncomingRequest>, RString>;

    /// The outcome of a request `poll` returned.
    #[sabi(last_prefix_field)]
    fn complete(&self, request_id: RStr<'_>, outcome: &Outcome);
}

pub type PolicyBox = PolicyFfi_TO<'static, RBox<()>>;
pub type NotifierBox = NotifierFfi_TO<'static, RBox<()>>;
pub type TargetBox = TargetFfi_TO<'static, RBox<()>>;
pub type SourceBox = SourceFfi_TO<'static, RBox<()>>;

/// What a library provides: its connector types, and builders for them.
#[sabi_trait]
pub trait PluginFfi: Send + Sync {
    /// The plugin's own name (for messages and `plugins list`).
    fn name(&self) -> RString;

    /// The plugin's own version (its crate version, not the interface version).
    fn version(&self) -> RString;

    fn connectors(&self) -> RVec<ConnectorInfo>;

    /// Checks a table without I/O.
    fn validate(
        &self,
        kind: ConnectorKind,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<(), ConfigProblem>;

    fn build_source(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<SourceBox, ConfigProblem>;

    fn build_target(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<TargetBox, ConfigProblem>;

    fn build_policy(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<PolicyBox, ConfigProblem>;

    #[sabi(last_prefix_field)]
    fn build_notifier(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<NotifierBox, ConfigProblem>;
}

pub type PluginBox = PluginFfi_TO<'static, RBox<()>>;

/// The root module every plugin library exports (with [`crate::export_plugin!`]).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModule_Ref)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// Makes the plugin object; `Err` (with the reason) if it could not, or panicked.
    #[sabi(last_prefix_field)]
    pub new_plugin: extern "C" fn() -> RResult<PluginBox, RString>,
}

impl RootModule for PluginModule_Ref {
    declare_root_module_statics! {PluginModule_Ref}
    const BASE_NAME: &'static str = "writeback_plugin";
    const NAME: &'static str = "writeback native plugin interface";
    /// The interface version is this crate's version: a host refuses a plugin built
    /// against another major version.
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
