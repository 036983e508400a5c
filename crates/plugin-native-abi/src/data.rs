//! Owned data that crosses the boundary: results a plugin returns, and the facts the
//! host hands notifiers. Plain `repr(C)` data with abi_stable's `RString`/`RVec`; an
//! empty string means "absent" wherever writeback's own model has an `Option`.

use abi_stable::std_types::{RString, RVec};
use abi_stable::StableAbi;

use crate::codes::{ConnectorKind, InitiatorKind, OperationKind, OutcomeCode};
use crate::secret::Secret;

/// One rule a password broke. `rule` is a stable id (`acme.words`); the message says
/// what to do and never repeats the password.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    pub rule: RString,
    pub message: RString,
}

impl RuleViolation {
    pub fn new(rule: &str, message: &str) -> Self {
        RuleViolation {
            rule: rule.into(),
            message: message.into(),
        }
    }
}

/// A result for the person waiting, with the detail an administrator needs.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub code: OutcomeCode,
    /// For the person; empty: writeback's default message for the code.
    pub message: RString,
    pub rules: RVec<RuleViolation>,
    /// For the administrator (the cause, the missing right); empty: none.
    pub admin_detail: RString,
}

impl Outcome {
    pub fn new(code: OutcomeCode, message: &str) -> Self {
        Outcome {
            code,
            message: message.into(),
            rules: RVec::new(),
            admin_detail: RString::new(),
        }
    }

    pub fn with_admin_detail(mut self, detail: &str) -> Self {
        self.admin_detail = detail.into();
        self
    }

    pub fn with_rules(mut self, rules: Vec<RuleViolation>) -> Self {
        self.rules = rules.into();
        self
    }

    /// The plugin itself failed (a bug, a panic, data it cannot read).
    pub fn plugin_fault(admin_detail: &str) -> Self {
        Outcome::new(OutcomeCode::PLUGIN_FAULT, "").with_admin_detail(admin_detail)
    }
}

/// One value of a directory attribute (a multi-valued attribute repeats `name`).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct AccountValue {
    pub name: RString,
    pub value: RString,
}

/// The directory entry a target resolved an identity to.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub dn: RString,
    /// A stable id (entryUUID, objectGUID); empty: unknown.
    pub id: RString,
    /// Attributes read (account name, mail …); names in lower case.
    pub values: RVec<AccountValue>,
}

impl Account {
    pub fn new(dn: &str) -> Self {
        Account {
            dn: dn.into(),
            ..Account::default()
        }
    }

    pub fn with_value(mut self, name: &str, value: &str) -> Self {
        self.values.push(AccountValue {
            name: name.to_ascii_lowercase().as_str().into(),
            value: value.into(),
        });
        self
    }
}

/// One line of a target's self-test.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    pub check: RString,
    pub ok: bool,
    pub detail: RString,
}

/// Why a notification was not delivered.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct NotifyError {
    pub message: RString,
    /// Worth trying again later (network trouble), or not (bad config).
    pub retryable: bool,
}

impl NotifyError {
    pub fn new(message: &str, retryable: bool) -> Self {
        NotifyError {
            message: message.into(),
            retryable,
        }
    }
}

/// A problem in a connector's config table. The host shows it with the file, line,
/// connector name and plugin name.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key inside the connector's table (`words`, `tls.ca_file`); empty: the table.
    pub key: RString,
    pub message: RString,
}

impl ConfigProblem {
    pub fn new(key: &str, message: &str) -> Self {
        ConfigProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One connector type a plugin provides, for `writeback plugins list`.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ConnectorInfo {
    pub kind: ConnectorKind,
    /// The `type = "..."` name in the config file.
    pub type_name: RString,
    pub description: RString,
}

/// An identity attribute outside the named fields (employee id …).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ExtraAttribute {
    pub name: RString,
    pub value: RString,
}

/// The person as the cloud side knows them (owned). Empty fields are absent.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub upn: RString,
    pub object_id: RString,
    pub immutable_id: RString,
    pub mail: RString,
    pub username: RString,
    pub display_name: RString,
    pub given_name: RString,
    pub surname: RString,
    pub extra: RVec<ExtraAttribute>,
}

/// Who started a request.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Initiator {
    pub kind: InitiatorKind,
    /// The initiator's cloud id or name; empty: unknown.
    pub id: RString,
}

impl Default for Initiator {
    fn default() -> Self {
        Initiator {
            kind: InitiatorKind::USER,
            id: RString::new(),
        }
    }
}

/// One target's part in a finished request.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct TargetResult {
    pub target: RString,
    pub dn: RString,
    pub mail: RString,
}

/// A finished request, as notifiers see it. It holds no password.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Unique per event: the key receivers deduplicate by.
    pub event_id: RString,
    /// RFC 3339 UTC.
    pub time: RString,
    pub request_id: RString,
    pub source: RString,
    pub operation: OperationKind,
    pub identity: Identity,
    pub initiator: Initiator,
    pub targets: RVec<TargetResult>,
    pub outcome: Outcome,
}

/// A warning that a directory password expires soon. It holds no password.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ExpiryReminder {
    pub reminder_id: RString,
    pub time: RString,
    pub target: RString,
    pub dn: RString,
    pub username: RString,
    pub display_name: RString,
    pub mail: RString,
    /// RFC 3339 UTC.
    pub expires_at: RString,
    pub days_left: u64,
    pub threshold_days: u64,
}

/// What a request asks for, with its passwords (owned: made by a source plugin).
#[repr(C)]
#[derive(StableAbi)]
pub struct IncomingOperation {
    pub kind: OperationKind,
    /// Empty for an unlock.
    pub new_password: Secret,
    /// Only for a change.
    pub old_password: Secret,
    /// Reset only: the person must change the password at next logon.
    pub must_change: bool,
}

/// A request a source plugin fetched from the cloud side. No `Debug`: it holds passwords.
#[repr(C)]
#[derive(StableAbi)]
pub struct IncomingRequest {
    /// The cloud side's id (1–128 printable ASCII characters): writeback applies an id once.
    pub id: RString,
    pub operation: IncomingOperation,
    pub identity: Identity,
    pub initiator: Initiator,
}
