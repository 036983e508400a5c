//! What can go wrong talking to a directory, and how it maps to the outcome codes of
//! the contract. Connection trouble and a read that timed out are
//! `directory_unavailable` with the server named in `admin_detail`; a write that was
//! sent but not answered in time is `timeout` (the directory may have applied it: the
//! result is unknown, not "unreachable"); a directory's refusal keeps its result code
//! and diagnostic text for the administrator.

use std::fmt;
use std::time::Duration;

use ldap3::controls::Control;
use ldap3::LdapResult;
use writeback_core::{Outcome, OutcomeCode, RuleViolation};

use crate::ppolicy::PpolicyResponse;

/// A directory's answer to one operation.
#[derive(Clone, Debug)]
pub struct Reply {
    /// LDAP result code (RFC 4511 appendix A); 0 is success.
    pub rc: u32,
    /// The server's diagnostic message (may be empty).
    pub text: String,
    pub matched: String,
    /// The password policy response control, when the server sent one.
    pub ppolicy: Option<PpolicyResponse>,
    /// Every response control, for callers that look for others.
    pub controls: Vec<Control>,
}

impl Reply {
    pub fn from_result(result: LdapResult) -> Self {
        let ppolicy = PpolicyResponse::from_controls(&result.ctrls);
        Reply {
            rc: result.rc,
            text: result.text,
            matched: result.matched,
            ppolicy,
            controls: result.ctrls,
        }
    }

    pub fn is_success(&self) -> bool {
        self.rc == 0
    }

    /// `49 invalidCredentials: <text>` — for admin details and logs.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.rc, result_code_name(self.rc));
        if !self.text.is_empty() {
            s.push_str(": ");
            s.push_str(&self.text);
        }
        if let Some(err) = self.ppolicy.and_then(|p| p.error) {
            s.push_str(&format!(" (ppolicy: {err})"));
        }
        s
    }
}

/// A failed directory operation, with the server it was sent to.
#[derive(Clone, Debug)]
pub enum LdapFailure {
    /// The TCP connection could not be made (refused, unreachable, name unknown).
    Connect { server: String, detail: String },
    /// TLS failed: handshake, certificate verification, or StartTLS refused.
    Tls { server: String, detail: String },
    /// No answer within the configured time, to something that changes nothing
    /// (connect, TLS, bind, search, waiting for a pooled connection).
    Timeout {
        server: String,
        what: &'static str,
        after: Duration,
    },
    /// A write was sent and not answered within the configured time: the directory
    /// may or may not have applied it.
    Unanswered {
        server: String,
        what: &'static str,
        after: Duration,
    },
    /// The connection broke during an operation.
    Transport { server: String, detail: String },
    /// The directory answered with a result code other than success.
    Directory { server: String, reply: Reply },
}

impl LdapFailure {
    pub fn server(&self) -> &str {
        match self {
            LdapFailure::Connect { server, .. }
            | LdapFailure::Tls { server, .. }
            | LdapFailure::Timeout { server, .. }
            | LdapFailure::Unanswered { server, .. }
            | LdapFailure::Transport { server, .. }
            | LdapFailure::Directory { server, .. } => server,
        }
    }

    /// The directory's reply, when it answered.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            LdapFailure::Directory { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// The LDAP result code, when the directory answered.
    pub fn result_code(&self) -> Option<u32> {
        self.reply().map(|r| r.rc)
    }

    /// Whether the connection it happened on must be thrown away.
    pub fn breaks_connection(&self) -> bool {
        !matches!(self, LdapFailure::Directory { .. })
    }

    /// The generic outcome: unreachable/read timeouts → `directory_unavailable`, an
    /// unanswered write → `timeout` (result unknown), TLS
    /// verification → `admin_action_required`, a directory result → [`result_outcome`].
    /// Targets look at [`LdapFailure::reply`] first for the cases they know better
    /// (a user's bind failing in a change is `wrong_old_password`, …).
    pub fn to_outcome(&self) -> Outcome {
        match self {
            LdapFailure::Directory { server, reply } => result_outcome(reply, server),
            LdapFailure::Tls { server, detail } => Outcome::new(
                OutcomeCode::AdminActionRequired,
                OutcomeCode::AdminActionRequired.default_message(),
            )
            .with_admin_detail(format!(
                "{server}: TLS failed: {detail}. Check ca_file names the CA that signed the \
                 server's certificate and that the URL's host is in the certificate."
            )),
            LdapFailure::Unanswered { .. } => {
                Outcome::of(OutcomeCode::Timeout).with_admin_detail(format!(
                    "{self}; the directory may have applied it: check the entry before \
                     changing it by hand"
                ))
            }
            other => {
                Outcome::of(OutcomeCode::DirectoryUnavailable).with_admin_detail(other.to_string())
            }
        }
    }
}

impl fmt::Display for LdapFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LdapFailure::Connect { server, detail } => {
                write!(f, "{server}: cannot connect: {detail} (is the directory running and the url right?)")
            }
            LdapFailure::Tls { server, detail } => write!(f, "{server}: TLS failed: {detail}"),
            LdapFailure::Timeout {
                server,
                what,
                after,
            } => {
                write!(
                    f,
                    "{server}: no answer to {what} within {} ms",
                    after.as_millis()
                )
            }
            LdapFailure::Unanswered {
                server,
                what,
                after,
            } => {
                write!(
                    f,
                    "{server}: {what} was sent but not answered within {} ms",
                    after.as_millis()
                )
            }
            LdapFailure::Transport { server, detail } => {
                write!(f, "{server}: connection lost: {detail}")
            }
            LdapFailure::Directory { server, reply } => write!(f, "{server}: {}", reply.describe()),
        }
    }
}

impl std::error::Error for LdapFailure {}

/// The generic outcome for a directory result code and its diagnostic text. Targets
/// handle password-policy results first (see [`crate::ppolicy::password_outcome`]);
/// this is what is left.
pub fn result_outcome(reply: &Reply, server: &str) -> Outcome {
    let detail = format!("{server}: {}", reply.describe());
    let code = match reply.rc {
        0 => OutcomeCode::Succeeded,
        19 => {
            let rule = RuleViolation::new(
                "directory.constraint",
                format!("The directory refused the password: {}", reason_text(reply)),
            );
            return Outcome::rejected(vec![rule]).with_admin_detail(detail);
        }
        32 => OutcomeCode::NotFound,
        3 => OutcomeCode::Timeout,
        51 | 52 => OutcomeCode::DirectoryUnavailable,
        _ => OutcomeCode::AdminActionRequired,
    };
    let hint = match reply.rc {
        8 | 13 => " — the directory wants a stronger (TLS) connection",
        49 => " — the service account's bind_dn/bind_password were refused",
        50 => " — the service account lacks an access right (see the target's ACL documentation)",
        53 => " — the directory is unwilling to perform this operation",
        _ => "",
    };
    Outcome::of(code).with_admin_detail(format!("{detail}{hint}"))
}

/// The directory's own words, or a fallback when it gave none.
pub(crate) fn reason_text(reply: &Reply) -> String {
    if reply.text.trim().is_empty() {
        format!("{} ({})", result_code_name(reply.rc), reply.rc)
    } else {
        reply.text.trim().to_string()
    }
}

/// The RFC 4511 name of a result code.
pub fn result_code_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        68 => "entryAlreadyExists",
        80 => "other",
        87 => "filterError",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(rc: u32, text: &str) -> Reply {
        Reply {
            rc,
            text: text.into(),
            matched: String::new(),
            ppolicy: None,
            controls: Vec::new(),
        }
    }

    #[test]
    fn unreachable_names_the_server() {
        let f = LdapFailure::Connect {
            server: "ldaps://ldap.example:636".into(),
            detail: "Connection refused".into(),
        };
        let o = f.to_outcome();
        assert_eq!(o.code, OutcomeCode::DirectoryUnavailable);
        assert!(o
            .admin_detail
            .unwrap_or_default()
            .contains("ldaps://ldap.example:636"));
        let t = LdapFailure::Timeout {
            server: "s".into(),
            what: "bind",
            after: Duration::from_millis(300),
        };
        assert_eq!(t.to_outcome().code, OutcomeCode::DirectoryUnavailable);
        assert!(t.breaks_connection());
    }

    #[test]
    fn a_sent_write_without_an_answer_is_timeout_with_result_unknown() {
        let f = LdapFailure::Unanswered {
            server: "ldap://ldap.example:389".into(),
            what: "modify",
            after: Duration::from_millis(300),
        };
        let o = f.to_outcome();
        assert_eq!(o.code, OutcomeCode::Timeout);
        let detail = o.admin_detail.unwrap_or_default();
        assert!(detail.contains("ldap://ldap.example:389"), "{detail}");
        assert!(detail.contains("may have applied"), "{detail}");
        assert!(f.breaks_connection());
    }

    #[test]
    fn result_codes() {
        let o = result_outcome(&reply(50, "no write access to parent"), "s");
        assert_eq!(o.code, OutcomeCode::AdminActionRequired);
        assert!(o
            .admin_detail
            .as_deref()
            .unwrap_or("")
            .contains("no write access to parent"));
        let o = result_outcome(&reply(19, "Password fails quality checking policy"), "s");
        assert_eq!(o.code, OutcomeCode::RejectedPolicy);
        assert!(o.rules[0].message.contains("quality"));
        assert_eq!(
            result_outcome(&reply(52, ""), "s").code,
            OutcomeCode::DirectoryUnavailable
        );
        assert_eq!(
            result_outcome(&reply(32, ""), "s").code,
            OutcomeCode::NotFound
        );
        assert_eq!(reply(49, "").describe(), "49 invalidCredentials");
    }
}
