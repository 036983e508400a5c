//! The four connector traits and the factory that builds each from config.
//!
//! Connectors are async and run inside the host's tokio runtime. Native and WASM
//! plugins adapt to these same traits, so the pipeline never knows which it has.

use std::sync::Arc;

use async_trait::async_trait;

#[cfg(feature = "config")]
use crate::config::{BuildContext, ConfigError, ConnectorConfig};
use crate::event::Event;
use crate::identity::{Account, CloudIdentity};
use crate::outcome::{Outcome, RuleViolation};
use crate::reminder::ExpiryReminder;
use crate::request::{Operation, Request};
use crate::secret::Password;

/// Cancelled when the host shuts down: sources stop taking new work.
pub type Shutdown = tokio_util::sync::CancellationToken;

/// The pipeline as a source sees it.
#[async_trait]
pub trait Submit: Send + Sync {
    /// Runs the request and returns its one outcome (before the request's deadline).
    async fn submit(&self, request: Request) -> Outcome;

    /// A configured directory target by name, for sources that also read the
    /// directory (SCIM's `/Users`). Reads only: writes go through `submit`.
    fn target(&self, _name: &str) -> Option<Arc<dyn DirectoryTarget>> {
        None
    }

    /// Judges a candidate password for one person without writing anything (the
    /// pre-flight of a password page, `POST /v1/policy-check`): finds the person's
    /// accounts and runs every policy, as a submit would before its write. `Err` when
    /// the check itself cannot run (no pre-flight here, a policy's data unreadable).
    async fn preflight(
        &self,
        _identity: &CloudIdentity,
        _operation: crate::request::OperationKind,
        _password: &Password,
    ) -> Result<Preflight, Outcome> {
        Err(Outcome::new(
            crate::outcome::OutcomeCode::AdminActionRequired,
            "Checking a password in advance is not available here; the rules are checked \
             when the password is set.",
        )
        .with_admin_detail("this pipeline does not implement Submit::preflight"))
    }
}

/// What a pre-flight found: each target's lookup and each rule's verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Preflight {
    /// Every configured target, in config order, with whether the person's account
    /// was found there (and why not).
    pub targets: Vec<TargetLookup>,
    /// The rules the password passes (ids, from `Policy::rule_ids`).
    pub passed: Vec<String>,
    /// The rules it breaks, with what to do (message overrides applied).
    pub failed: Vec<RuleViolation>,
}

/// One target's answer to "which account is this person?" in a pre-flight.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetLookup {
    pub target: String,
    /// `None`: found. Otherwise why not (not found, ambiguous, unreachable).
    pub problem: Option<Outcome>,
}

/// Receives or fetches requests from the cloud side and hands each outcome back.
#[async_trait]
pub trait CloudSource: Send + Sync {
    /// Serves until `shutdown` is cancelled, then returns once its in-flight requests
    /// have their outcomes. An error means the source could not start or broke.
    async fn run(
        self: Arc<Self>,
        pipeline: Arc<dyn Submit>,
        shutdown: Shutdown,
    ) -> Result<(), BoxError>;

    /// Where it listens or what it polls, for `check-config` and logs.
    fn describe(&self) -> String {
        String::new()
    }
}

/// One line of a self-test: connectivity, TLS, bind, permissions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheck {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

impl HealthCheck {
    pub fn pass(check: impl Into<String>, detail: impl Into<String>) -> Self {
        HealthCheck {
            check: check.into(),
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn fail(check: impl Into<String>, detail: impl Into<String>) -> Self {
        HealthCheck {
            check: check.into(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Finds accounts and applies operations in one directory.
#[async_trait]
pub trait DirectoryTarget: Send + Sync {
    /// Resolves the identity to exactly one entry, or fails with `not_found` /
    /// `ambiguous_identity` (nothing may be written then).
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome>;

    /// Applies the operation to a resolved account, with the directory's own policy
    /// enforced. Directory errors come back as outcome codes.
    async fn apply(&self, account: &Account, operation: &Operation) -> Result<(), Outcome>;

    /// Connectivity, TLS, bind and permission checks for `check-config --connect` and
    /// the health endpoint. Read-only.
    async fn self_test(&self) -> Vec<HealthCheck> {
        Vec::new()
    }

    /// The deeper, read-only checks of `writeback doctor` (rights, policies, risky
    /// settings), each with its evidence and fix. The default is the self-test.
    async fn doctor(&self, _options: &crate::doctor::DoctorOptions) -> Vec<crate::doctor::Finding> {
        self.self_test().await.into_iter().map(Into::into).collect()
    }

    /// Looks accounts up by an attribute (for sources that list users, such as SCIM).
    /// `attribute` is a cloud identity attribute name; `None` lists every account in
    /// scope, up to `limit`.
    async fn search(
        &self,
        _query: Option<(&str, &str)>,
        _limit: usize,
    ) -> Result<Vec<Account>, Outcome> {
        Err(Outcome::new(
            crate::outcome::OutcomeCode::AdminActionRequired,
            "This directory target cannot list accounts.",
        ))
    }

    /// Accounts in scope whose password expires before `now + within` (already expired
    /// ones included), with the expiry time, for expiry reminders. Accounts whose
    /// password never expires are left out.
    async fn password_expiries(
        &self,
        _within: std::time::Duration,
    ) -> Result<Vec<(Account, std::time::SystemTime)>, Outcome> {
        Err(Outcome::new(
            crate::outcome::OutcomeCode::AdminActionRequired,
            "This directory target cannot report password expiry.",
        ))
    }
}

/// What a policy knows about the person besides the password.
pub struct PolicyContext<'a> {
    /// What the password is for: a change (the person's own, where minimum age
    /// applies) or a reset.
    pub operation: crate::request::OperationKind,
    pub identity: &'a CloudIdentity,
    /// Every target's resolved account, by target name.
    pub accounts: &'a [(String, Account)],
}

/// Judges a candidate password before anything is written.
#[async_trait]
pub trait Policy: Send + Sync {
    /// Every rule the password breaks (empty: it passes). An `Err` is a failure of the
    /// policy itself (its data cannot be read), not a verdict.
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome>;

    /// The ids of the rules this policy checks as configured, so `writeback policy
    /// check` can list the rules a password passes too. Empty when not known.
    fn rule_ids(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Why a notification was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyError {
    pub message: String,
    /// Worth trying again later (network trouble, 5xx), or not (bad config, 4xx).
    pub retryable: bool,
}

impl std::fmt::Display for NotifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NotifyError {}

/// Tells people and systems what happened. Never sees a password.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError>;

    /// Sends a password-expiry reminder. Notifiers that do not send them keep this
    /// default, and the expiry scan skips them.
    async fn remind(&self, _reminder: &ExpiryReminder) -> Result<(), NotifyError> {
        Err(NotifyError {
            message: "this notifier does not send expiry reminders".into(),
            retryable: false,
        })
    }

    /// Whether [`Notifier::remind`] is implemented.
    fn sends_reminders(&self) -> bool {
        false
    }

    /// `writeback doctor`'s read-only checks (the server answers, TLS, authentication),
    /// sending nothing to anyone. Empty when the notifier has none.
    async fn doctor(&self, _options: &crate::doctor::DoctorOptions) -> Vec<crate::doctor::Finding> {
        Vec::new()
    }
}

/// Builds connectors of one type from their TOML tables. `C` is the connector trait
/// object (`dyn DirectoryTarget`, …).
#[cfg(feature = "config")]
#[async_trait]
pub trait ConnectorFactory<C: ?Sized>: Send + Sync {
    /// The `type` name in the config file.
    fn type_name(&self) -> &'static str;

    /// One line for `writeback plugins list`.
    fn description(&self) -> &'static str;

    /// Checks the table without I/O: types, required keys, values that cannot work.
    fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError>;

    /// Every problem [`ConnectorFactory::validate`] can find, not only the first, so
    /// that `check-config` reports a whole file in one run. Factories written before
    /// this existed report their first error; a [`crate::TypedFactory`] reports all.
    fn validate_all(&self, config: &ConnectorConfig) -> Vec<ConfigError> {
        self.validate(config).err().into_iter().collect()
    }

    /// Builds the running connector (may resolve secrets, read files, connect).
    async fn build(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<C>, ConfigError>;
}

/// The error a source's `run` ends with, so this crate needs no error library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
