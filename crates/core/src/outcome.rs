//! Outcomes: the contract with sources and with the people waiting on them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The stable outcome codes (README.md, "Outcome codes"). Sources map them to their own
/// wire format; their names never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeCode {
    Succeeded,
    RejectedPolicy,
    RejectedHistory,
    RejectedMinAge,
    WrongOldPassword,
    NotFound,
    AmbiguousIdentity,
    AdminActionRequired,
    DirectoryUnavailable,
    Timeout,
    PluginFault,
    InvalidRequest,
    Unauthorized,
}

impl OutcomeCode {
    pub const ALL: [OutcomeCode; 13] = [
        OutcomeCode::Succeeded,
        OutcomeCode::RejectedPolicy,
        OutcomeCode::RejectedHistory,
        OutcomeCode::RejectedMinAge,
        OutcomeCode::WrongOldPassword,
        OutcomeCode::NotFound,
        OutcomeCode::AmbiguousIdentity,
        OutcomeCode::AdminActionRequired,
        OutcomeCode::DirectoryUnavailable,
        OutcomeCode::Timeout,
        OutcomeCode::PluginFault,
        OutcomeCode::InvalidRequest,
        OutcomeCode::Unauthorized,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeCode::Succeeded => "succeeded",
            OutcomeCode::RejectedPolicy => "rejected_policy",
            OutcomeCode::RejectedHistory => "rejected_history",
            OutcomeCode::RejectedMinAge => "rejected_min_age",
            OutcomeCode::WrongOldPassword => "wrong_old_password",
            OutcomeCode::NotFound => "not_found",
            OutcomeCode::AmbiguousIdentity => "ambiguous_identity",
            OutcomeCode::AdminActionRequired => "admin_action_required",
            OutcomeCode::DirectoryUnavailable => "directory_unavailable",
            OutcomeCode::Timeout => "timeout",
            OutcomeCode::PluginFault => "plugin_fault",
            OutcomeCode::InvalidRequest => "invalid_request",
            OutcomeCode::Unauthorized => "unauthorized",
        }
    }

    /// Whether the same request may succeed if the cloud side tries again later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            OutcomeCode::DirectoryUnavailable | OutcomeCode::Timeout
        )
    }

    /// The HTTP status an HTTP-based source answers with.
    pub fn http_status(self) -> u16 {
        match self {
            OutcomeCode::Succeeded => 200,
            OutcomeCode::RejectedPolicy
            | OutcomeCode::RejectedHistory
            | OutcomeCode::RejectedMinAge
            | OutcomeCode::WrongOldPassword => 422,
            OutcomeCode::NotFound => 404,
            OutcomeCode::AmbiguousIdentity => 409,
            OutcomeCode::AdminActionRequired => 403,
            OutcomeCode::DirectoryUnavailable => 503,
            OutcomeCode::Timeout => 504,
            OutcomeCode::PluginFault => 500,
            OutcomeCode::InvalidRequest => 400,
            OutcomeCode::Unauthorized => 401,
        }
    }

    /// A default message a person can act on, used when a connector gives none.
    pub fn default_message(self) -> &'static str {
        match self {
            OutcomeCode::Succeeded => "Your password was updated.",
            OutcomeCode::RejectedPolicy => {
                "The new password does not meet the password rules. Choose another one."
            }
            OutcomeCode::RejectedHistory => {
                "The new password was used before. Choose one you have not used recently."
            }
            OutcomeCode::RejectedMinAge => {
                "The password was changed too recently to change it again. Try again later \
                 or ask the help desk for a reset."
            }
            OutcomeCode::WrongOldPassword => {
                "The current password is not correct. Check it and try again."
            }
            OutcomeCode::NotFound => {
                "No on-premises account matches this user. Ask the help desk to link the account."
            }
            OutcomeCode::AmbiguousIdentity => {
                "Several on-premises accounts match this user, so nothing was changed. Ask \
                 the help desk to fix the duplicate."
            }
            OutcomeCode::AdminActionRequired => {
                "The password could not be written because of a directory setting. Ask the \
                 help desk; they will see the detail."
            }
            OutcomeCode::DirectoryUnavailable => {
                "The on-premises directory cannot be reached right now. Try again in a few minutes."
            }
            OutcomeCode::Timeout => {
                "The request took too long. Try again in a few minutes."
            }
            OutcomeCode::PluginFault => {
                "An internal error stopped the request. Try again; if it keeps failing, tell the help desk."
            }
            OutcomeCode::InvalidRequest => "The request was malformed and was not processed.",
            OutcomeCode::Unauthorized => "The request was not authenticated and was refused.",
        }
    }
}

impl fmt::Display for OutcomeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule a password broke. `rule` is a stable id such as `length.min`; the message
/// says what to do and never repeats the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleViolation {
    pub rule: String,
    pub message: String,
}

impl RuleViolation {
    pub fn new(rule: impl Into<String>, message: impl Into<String>) -> Self {
        RuleViolation {
            rule: rule.into(),
            message: message.into(),
        }
    }
}

/// The one result of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub code: OutcomeCode,
    /// For the person: what happened and what to do.
    pub message: String,
    /// Every violated rule, for `rejected_policy` (and the directory's own reasons).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleViolation>,
    /// For the administrator: the directory's diagnostic, the missing right, the DN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_detail: Option<String>,
}

impl Outcome {
    pub fn new(code: OutcomeCode, message: impl Into<String>) -> Self {
        Outcome {
            code,
            message: message.into(),
            rules: Vec::new(),
            admin_detail: None,
        }
    }

    /// An outcome with the code's default message.
    pub fn of(code: OutcomeCode) -> Self {
        Outcome::new(code, code.default_message())
    }

    pub fn succeeded() -> Self {
        Outcome::of(OutcomeCode::Succeeded)
    }

    pub fn rejected(rules: Vec<RuleViolation>) -> Self {
        Outcome::of(OutcomeCode::RejectedPolicy).with_rules(rules)
    }

    pub fn with_rules(mut self, rules: Vec<RuleViolation>) -> Self {
        self.rules = rules;
        self
    }

    pub fn with_admin_detail(mut self, detail: impl Into<String>) -> Self {
        self.admin_detail = Some(detail.into());
        self
    }

    pub fn is_success(&self) -> bool {
        self.code == OutcomeCode::Succeeded
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_design_names() {
        for code in OutcomeCode::ALL {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
