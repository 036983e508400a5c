//! What a plugin author writes: plain Rust traits, one per connector kind, and a
//! [`Plugin`] that lists the types a library provides. The adapters here turn them
//! into the boundary's trait objects and catch every panic inside the plugin.
//!
//! ```ignore
//! struct NoCompanyName { word: String }
//!
//! impl Connector for NoCompanyName {
//!     const TYPE_NAME: &'static str = "acme-no-company-name";
//!     const DESCRIPTION: &'static str = "Refuses passwords that contain the company name";
//!     fn from_config(config: &ConnectorConfig<'_>) -> Result<Self, ConfigProblem> { … }
//! }
//!
//! impl Policy for NoCompanyName {
//!     fn evaluate(&self, password: PasswordView<'_>, _input: &PolicyInput<'_>)
//!         -> Result<Vec<RuleViolation>, Outcome> { … }
//! }
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("acme", env!("CARGO_PKG_VERSION")).policy::<NoCompanyName>()
//! }
//! writeback_plugin_native_abi::export_plugin!(plugin);
//! ```

use std::time::Duration;

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RResult, RStr, RString, RVec};

use crate::codes::ConnectorKind;
use crate::config::ConnectorConfig;
use crate::data::{
    Account, ConfigProblem, ConnectorInfo, Event, ExpiryReminder, HealthCheck, IncomingRequest,
    NotifyError, Outcome, RuleViolation,
};
use crate::ffi::{
    NotifierBox, NotifierFfi, NotifierFfi_TO, PluginBox, PluginFfi, PluginFfi_TO, PluginModule,
    PluginModule_Ref, PolicyBox, PolicyFfi, PolicyFfi_TO, SourceBox, SourceFfi, SourceFfi_TO,
    TargetBox, TargetFfi, TargetFfi_TO,
};
use crate::guard::catch;
use crate::secret::PasswordView;
use crate::views::{AccountView, IdentityView, OperationView, PolicyInput};

/// What every connector type has: its `type` name and how it is built from its table.
pub trait Connector: Sized + Send + Sync + 'static {
    /// The `type = "..."` name in the config file. Choose a prefix of your own
    /// (`acme-…`): a name already registered (a built-in one) is refused at load.
    const TYPE_NAME: &'static str;
    /// One line for `writeback plugins list`.
    const DESCRIPTION: &'static str;

    /// Builds the connector from its table. Keep it quick; errors name the key.
    fn from_config(config: &ConnectorConfig<'_>) -> Result<Self, ConfigProblem>;

    /// Checks the table without I/O (`writeback check-config`). By default: builds
    /// the connector and drops it.
    fn validate(config: &ConnectorConfig<'_>) -> Result<(), ConfigProblem> {
        Self::from_config(config).map(drop)
    }
}

/// Judges a candidate password before anything is written.
pub trait Policy: Connector {
    /// Every rule the password breaks (empty: it passes). `Err` means the policy
    /// itself failed (its data cannot be read), not a verdict.
    fn evaluate(
        &self,
        password: PasswordView<'_>,
        input: &PolicyInput<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome>;
}

/// Tells people and systems what happened. Never sees a password.
pub trait Notifier: Connector {
    fn notify(&self, event: &Event) -> Result<(), NotifyError>;

    /// Sends a password-expiry reminder; override together with `sends_reminders`.
    fn remind(&self, _reminder: &ExpiryReminder) -> Result<(), NotifyError> {
        Err(NotifyError::new(
            "this notifier does not send expiry reminders",
            false,
        ))
    }

    fn sends_reminders(&self) -> bool {
        false
    }
}

/// Finds accounts in a directory and applies operations to them.
pub trait Target: Connector {
    /// Exactly one entry, or `not_found` / `ambiguous_identity`.
    fn resolve(&self, identity: &IdentityView<'_>) -> Result<Account, Outcome>;

    /// Applies the operation; directory errors come back as outcome codes.
    fn apply(
        &self,
        account: &AccountView<'_>,
        operation: &OperationView<'_>,
    ) -> Result<(), Outcome>;

    /// Read-only connectivity and permission checks.
    fn self_test(&self) -> Vec<HealthCheck> {
        Vec::new()
    }
}

/// Fetches requests from the cloud side by polling (blocking calls).
pub trait Source: Connector {
    fn describe(&self) -> String {
        String::new()
    }

    /// Waits up to `max_wait` for requests and returns those that arrived.
    fn poll(&self, max_wait: Duration) -> Result<Vec<IncomingRequest>, String>;

    /// Hands back the outcome of a request `poll` returned.
    fn complete(&self, request_id: &str, outcome: &Outcome);
}

/// Wraps an author's connector: every method catches panics.
struct Guarded<T>(T);

/// What an administrator reads when a connector panicked.
fn fault<T: Connector>(method: &str, panic: String) -> String {
    format!("`{}` panicked in {method}: {panic}", T::TYPE_NAME)
}

impl<P: Policy> PolicyFfi for Guarded<P> {
    fn evaluate(
        &self,
        password: PasswordView<'_>,
        input: &PolicyInput<'_>,
    ) -> RResult<RVec<RuleViolation>, Outcome> {
        match catch(|| self.0.evaluate(password, input)) {
            Ok(Ok(rules)) => ROk(rules.into()),
            Ok(Err(outcome)) => RErr(outcome),
            Err(panic) => RErr(Outcome::plugin_fault(&fault::<P>("evaluate", panic))),
        }
    }
}

impl<N: Notifier> NotifierFfi for Guarded<N> {
    fn notify(&self, event: &Event) -> RResult<(), NotifyError> {
        match catch(|| self.0.notify(event)) {
            Ok(result) => result.into(),
            Err(panic) => RErr(NotifyError::new(&fault::<N>("notify", panic), false)),
        }
    }

    fn remind(&self, reminder: &ExpiryReminder) -> RResult<(), NotifyError> {
        match catch(|| self.0.remind(reminder)) {
            Ok(result) => result.into(),
            Err(panic) => RErr(NotifyError::new(&fault::<N>("remind", panic), false)),
        }
    }

    fn sends_reminders(&self) -> bool {
        catch(|| self.0.sends_reminders()).unwrap_or(false)
    }
}

impl<T: Target> TargetFfi for Guarded<T> {
    fn resolve(&self, identity: &IdentityView<'_>) -> RResult<Account, Outcome> {
        match catch(|| self.0.resolve(identity)) {
            Ok(result) => result.into(),
            Err(panic) => RErr(Outcome::plugin_fault(&fault::<T>("resolve", panic))),
        }
    }

    fn apply(
        &self,
        account: &AccountView<'_>,
        operation: &OperationView<'_>,
    ) -> RResult<(), Outcome> {
        match catch(|| self.0.apply(account, operation)) {
            Ok(result) => result.into(),
            Err(panic) => RErr(Outcome::plugin_fault(&fault::<T>("apply", panic))),
        }
    }

    fn self_test(&self) -> RVec<HealthCheck> {
        match catch(|| self.0.self_test()) {
            Ok(checks) => checks.into(),
            Err(panic) => RVec::from(vec![HealthCheck {
                check: "plugin".into(),
                ok: false,
                detail: fault::<T>("self_test", panic).into(),
            }]),
        }
    }
}

impl<S: Source> SourceFfi for Guarded<S> {
    fn describe(&self) -> RString {
        catch(|| self.0.describe()).unwrap_or_default().into()
    }

    fn poll(&self, max_wait_ms: u64) -> RResult<RVec<IncomingRequest>, RString> {
        match catch(|| self.0.poll(Duration::from_millis(max_wait_ms))) {
            Ok(Ok(requests)) => ROk(requests.into()),
            Ok(Err(message)) => RErr(message.into()),
            Err(panic) => RErr(fault::<S>("poll", panic).into()),
        }
    }

    fn complete(&self, request_id: RStr<'_>, outcome: &Outcome) {
        // Nothing to hand back: a panic here only loses this acknowledgement.
        let _ = catch(|| self.0.complete(request_id.as_str(), outcome));
    }
}

type Builder<B> = fn(&ConnectorConfig<'_>) -> Result<B, ConfigProblem>;

enum Build {
    Source(Builder<SourceBox>),
    Target(Builder<TargetBox>),
    Policy(Builder<PolicyBox>),
    Notifier(Builder<NotifierBox>),
}

struct Entry {
    kind: ConnectorKind,
    type_name: &'static str,
    description: &'static str,
    validate: fn(&ConnectorConfig<'_>) -> Result<(), ConfigProblem>,
    build: Build,
}

/// The connector types one library provides.
pub struct Plugin {
    name: &'static str,
    version: &'static str,
    entries: Vec<Entry>,
}

impl Plugin {
    /// `version` is your plugin's own version: pass `env!("CARGO_PKG_VERSION")`.
    pub fn new(name: &'static str, version: &'static str) -> Self {
        Plugin {
            name,
            version,
            entries: Vec::new(),
        }
    }

    fn with<C: Connector>(mut self, kind: ConnectorKind, build: Build) -> Self {
        self.entries.push(Entry {
            kind,
            type_name: C::TYPE_NAME,
            description: C::DESCRIPTION,
            validate: C::validate,
            build,
        });
        self
    }

    pub fn policy<P: Policy>(self) -> Self {
        fn build<P: Policy>(c: &ConnectorConfig<'_>) -> Result<PolicyBox, ConfigProblem> {
            P::from_config(c).map(|p| PolicyFfi_TO::from_value(Guarded(p), TD_Opaque))
        }
        self.with::<P>(ConnectorKind::POLICY, Build::Policy(build::<P>))
    }

    pub fn notifier<N: Notifier>(self) -> Self {
        fn build<N: Notifier>(c: &ConnectorConfig<'_>) -> Result<NotifierBox, ConfigProblem> {
            N::from_config(c).map(|n| NotifierFfi_TO::from_value(Guarded(n), TD_Opaque))
        }
        self.with::<N>(ConnectorKind::NOTIFIER, Build::Notifier(build::<N>))
    }

    pub fn target<T: Target>(self) -> Self {
        fn build<T: Target>(c: &ConnectorConfig<'_>) -> Result<TargetBox, ConfigProblem> {
            T::from_config(c).map(|t| TargetFfi_TO::from_value(Guarded(t), TD_Opaque))
        }
        self.with::<T>(ConnectorKind::TARGET, Build::Target(build::<T>))
    }

    pub fn source<S: Source>(self) -> Self {
        fn build<S: Source>(c: &ConnectorConfig<'_>) -> Result<SourceBox, ConfigProblem> {
            S::from_config(c).map(|s| SourceFfi_TO::from_value(Guarded(s), TD_Opaque))
        }
        self.with::<S>(ConnectorKind::SOURCE, Build::Source(build::<S>))
    }

    fn entry(&self, kind: ConnectorKind, type_name: RStr<'_>) -> Result<&Entry, ConfigProblem> {
        self.entries
            .iter()
            .find(|e| e.kind == kind && e.type_name == type_name.as_str())
            .ok_or_else(|| {
                ConfigProblem::new(
                    "",
                    &format!("plugin `{}` has no {kind} type `{type_name}`", self.name),
                )
            })
    }

    /// Looks the entry up and builds, catching a panic in the author's code.
    fn build<B>(
        &self,
        kind: ConnectorKind,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
        pick: impl FnOnce(&Build) -> Option<Builder<B>>,
    ) -> RResult<B, ConfigProblem> {
        let built = catch(|| {
            let entry = self.entry(kind, type_name)?;
            let build = pick(&entry.build).ok_or_else(|| ConfigProblem::new("", "wrong kind"))?;
            build(config)
        });
        match built {
            Ok(result) => result.into(),
            Err(panic) => RErr(ConfigProblem::new(
                "",
                &format!("the plugin panicked while building {kind} `{type_name}`: {panic}"),
            )),
        }
    }
}

impl PluginFfi for Plugin {
    fn name(&self) -> RString {
        self.name.into()
    }

    fn version(&self) -> RString {
        self.version.into()
    }

    fn connectors(&self) -> RVec<ConnectorInfo> {
        self.entries
            .iter()
            .map(|e| ConnectorInfo {
                kind: e.kind,
                type_name: e.type_name.into(),
                description: e.description.into(),
            })
            .collect()
    }

    fn validate(
        &self,
        kind: ConnectorKind,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<(), ConfigProblem> {
        let checked = catch(|| {
            self.entry(kind, type_name)
                .and_then(|e| (e.validate)(config))
        });
        match checked {
            Ok(result) => result.into(),
            Err(panic) => RErr(ConfigProblem::new(
                "",
                &format!("the plugin panicked while checking {kind} `{type_name}`: {panic}"),
            )),
        }
    }

    fn build_source(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<SourceBox, ConfigProblem> {
        self.build(ConnectorKind::SOURCE, type_name, config, |b| match b {
            Build::Source(f) => Some(*f),
            _ => None,
        })
    }

    fn build_target(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<TargetBox, ConfigProblem> {
        self.build(ConnectorKind::TARGET, type_name, config, |b| match b {
            Build::Target(f) => Some(*f),
            _ => None,
        })
    }

    fn build_policy(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<PolicyBox, ConfigProblem> {
        self.build(ConnectorKind::POLICY, type_name, config, |b| match b {
            Build::Policy(f) => Some(*f),
            _ => None,
        })
    }

    fn build_notifier(
        &self,
        type_name: RStr<'_>,
        config: &ConnectorConfig<'_>,
    ) -> RResult<NotifierBox, ConfigProblem> {
        self.build(ConnectorKind::NOTIFIER, type_name, config, |b| match b {
            Build::Notifier(f) => Some(*f),
            _ => None,
        })
    }
}

/// Used by [`crate::export_plugin!`]: the root module around the author's `fn() -> Plugin`.
#[doc(hidden)]
pub fn root_module(new_plugin: extern "C" fn() -> RResult<PluginBox, RString>) -> PluginModule_Ref {
    PluginModule { new_plugin }.leak_into_prefix()
}

/// Used by [`crate::export_plugin!`]: runs the author's constructor, catching a panic.
#[doc(hidden)]
pub fn make_plugin(make: fn() -> Plugin) -> RResult<PluginBox, RString> {
    match catch(make) {
        Ok(plugin) => ROk(PluginFfi_TO::from_value(plugin, TD_Opaque)),
        Err(panic) => RErr(format!("the plugin's constructor panicked: {panic}").into()),
    }
}

/// Exports a library's root module. Give it a `fn() -> Plugin`. The library's
/// Cargo.toml needs `crate-type = ["cdylib"]` and `abi_stable = "0.11"` (the export
/// attribute refers to that crate by name).
#[macro_export]
macro_rules! export_plugin {
    ($make:path) => {
        #[::abi_stable::export_root_module]
        pub fn writeback_plugin_root_module() -> $crate::PluginModule_Ref {
            extern "C" fn new_plugin() -> $crate::abi_stable::std_types::RResult<
                $crate::PluginBox,
                $crate::abi_stable::std_types::RString,
            > {
                $crate::sdk::make_plugin($make)
            }
            $crate::sdk::root_module(new_plugin)
        }
    };
}
