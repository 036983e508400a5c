//! The password policy response control (draft-behera-ldap-password-policy,
//! OID 1.3.6.1.4.1.42.2.27.8.5.1): request it, read its value, and map a refused
//! password write to the outcome codes with the directory's reason.
//!
//! ```text
//! PasswordPolicyResponseValue ::= SEQUENCE {
//!    warning [0] CHOICE { timeBeforeExpiration [0] INTEGER, graceAuthNsRemaining [1] INTEGER } OPTIONAL,
//!    error   [1] ENUMERATED { passwordExpired(0) … passwordTooLong(9) } OPTIONAL }
//! ```

use std::fmt;

use ldap3::controls::{Control, RawControl};
use writeback_core::{Outcome, OutcomeCode, RuleViolation};

use crate::ber::{read_all, read_tlv, read_u32, BerError};
use crate::error::{reason_text, LdapFailure};

pub const PPOLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// The request control, non-critical: a server without ppolicy just ignores it.
pub fn request_control() -> RawControl {
    RawControl {
        ctype: PPOLICY_OID.to_string(),
        crit: false,
        val: None,
    }
}

/// The `error` of the response control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PpolicyError {
    PasswordExpired,
    AccountLocked,
    ChangeAfterReset,
    PasswordModNotAllowed,
    MustSupplyOldPassword,
    InsufficientPasswordQuality,
    PasswordTooShort,
    PasswordTooYoung,
    PasswordInHistory,
    PasswordTooLong,
    Unknown(u32),
}

impl PpolicyError {
    pub fn from_code(code: u32) -> Self {
        use PpolicyError::*;
        match code {
            0 => PasswordExpired,
            1 => AccountLocked,
            2 => ChangeAfterReset,
            3 => PasswordModNotAllowed,
            4 => MustSupplyOldPassword,
            5 => InsufficientPasswordQuality,
            6 => PasswordTooShort,
            7 => PasswordTooYoung,
            8 => PasswordInHistory,
            9 => PasswordTooLong,
            other => Unknown(other),
        }
    }
}

impl fmt::Display for PpolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PpolicyError::*;
        let name = match self {
            PasswordExpired => "passwordExpired",
            AccountLocked => "accountLocked",
            ChangeAfterReset => "changeAfterReset",
            PasswordModNotAllowed => "passwordModNotAllowed",
            MustSupplyOldPassword => "mustSupplyOldPassword",
            InsufficientPasswordQuality => "insufficientPasswordQuality",
            PasswordTooShort => "passwordTooShort",
            PasswordTooYoung => "passwordTooYoung",
            PasswordInHistory => "passwordInHistory",
            PasswordTooLong => "passwordTooLong",
            Unknown(code) => return write!(f, "error {code}"),
        };
        f.write_str(name)
    }
}

/// The `warning` of the response control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PpolicyWarning {
    /// Seconds until the password expires.
    TimeBeforeExpiration(u32),
    /// Binds left after expiry.
    GraceAuthNsRemaining(u32),
}

/// A parsed response control value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PpolicyResponse {
    pub warning: Option<PpolicyWarning>,
    pub error: Option<PpolicyError>,
}

impl PpolicyResponse {
    /// Reads the control's value (the BER of `PasswordPolicyResponseValue`).
    pub fn parse(value: &[u8]) -> Result<Self, BerError> {
        let (outer, rest) = read_tlv(value)?;
        if outer.tag != 0x30 || !rest.is_empty() {
            return Err(BerError("expected one SEQUENCE"));
        }
        let mut response = PpolicyResponse::default();
        for element in read_all(outer.value)? {
            match element.tag {
                0xa0 => {
                    let (choice, rest) = read_tlv(element.value)?;
                    if !rest.is_empty() {
                        return Err(BerError("extra data in warning"));
                    }
                    let n = read_u32(choice.value)?;
                    response.warning = Some(match choice.tag {
                        0x80 => PpolicyWarning::TimeBeforeExpiration(n),
                        0x81 => PpolicyWarning::GraceAuthNsRemaining(n),
                        _ => return Err(BerError("unknown warning choice")),
                    });
                }
                0x81 => response.error = Some(PpolicyError::from_code(read_u32(element.value)?)),
                _ => return Err(BerError("unknown element")),
            }
        }
        Ok(response)
    }

    /// Finds and reads the control among response controls. A malformed value is
    /// logged and treated as absent (the result code still tells what happened).
    pub fn from_controls(controls: &[Control]) -> Option<Self> {
        let raw = &controls.iter().find(|c| c.1.ctype == PPOLICY_OID)?.1;
        match PpolicyResponse::parse(raw.val.as_deref().unwrap_or_default()) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed password policy response control");
                None
            }
        }
    }
}

/// The outcome of a refused password write (reset or change), with the directory's
/// reason: quality and length → `rejected_policy` (rules `directory.quality`,
/// `directory.length`), history or an unchanged password → `rejected_history`, too
/// young → `rejected_min_age`. Uses the response control when present and the
/// diagnostic text otherwise; anything else falls back to [`LdapFailure::to_outcome`].
pub fn password_outcome(failure: &LdapFailure) -> Outcome {
    let Some(reply) = failure.reply() else {
        return failure.to_outcome();
    };
    let detail = format!("{}: {}", failure.server(), reply.describe());
    let reason = reason_text(reply);
    let text = reply.text.to_ascii_lowercase();
    let kind = match reply.ppolicy.and_then(|p| p.error) {
        Some(e) => Some(e),
        None if reply.rc == 19 && text.contains("history") => Some(PpolicyError::PasswordInHistory),
        None if reply.rc == 19 && text.contains("not being changed") => {
            Some(PpolicyError::PasswordInHistory)
        }
        None if reply.rc == 19 && text.contains("too young") => {
            Some(PpolicyError::PasswordTooYoung)
        }
        None if reply.rc == 19 && text.contains("quality") => {
            Some(PpolicyError::InsufficientPasswordQuality)
        }
        None => None,
    };
    let policy = |rule: &str, what: &str| {
        Outcome::rejected(vec![RuleViolation::new(
            rule,
            format!("{what} (the directory said: {reason})"),
        )])
        .with_admin_detail(detail.clone())
    };
    match kind {
        Some(PpolicyError::PasswordTooShort) => policy(
            "directory.length",
            "The password is shorter than the directory's policy allows. Choose a longer one.",
        ),
        Some(PpolicyError::PasswordTooLong) => policy(
            "directory.length",
            "The password is longer than the directory's policy allows. Choose a shorter one.",
        ),
        Some(PpolicyError::InsufficientPasswordQuality) => policy(
            "directory.quality",
            "The password does not meet the directory's quality rules. Choose another one.",
        ),
        Some(PpolicyError::PasswordInHistory) => Outcome::new(
            OutcomeCode::RejectedHistory,
            format!(
                "{} (the directory said: {reason})",
                OutcomeCode::RejectedHistory.default_message()
            ),
        )
        .with_admin_detail(detail),
        Some(PpolicyError::PasswordTooYoung) => Outcome::new(
            OutcomeCode::RejectedMinAge,
            format!(
                "{} (the directory said: {reason})",
                OutcomeCode::RejectedMinAge.default_message()
            ),
        )
        .with_admin_detail(detail),
        Some(PpolicyError::AccountLocked) => Outcome::new(
            OutcomeCode::AdminActionRequired,
            "The account is locked. Ask the help desk to unlock it or to reset the password.",
        )
        .with_admin_detail(detail),
        Some(
            PpolicyError::PasswordModNotAllowed
            | PpolicyError::MustSupplyOldPassword
            | PpolicyError::ChangeAfterReset
            | PpolicyError::PasswordExpired,
        ) => Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
            "{detail} — the password policy does not let this identity change the password \
             this way (check pwdAllowUserChange/pwdSafeModify and the service account's state)"
        )),
        Some(PpolicyError::Unknown(_)) | None => failure.to_outcome(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reply;

    #[test]
    fn parses_error_and_warning() {
        // SEQUENCE { error [1] 6 }  (passwordTooShort, as slapd sends it)
        let r = PpolicyResponse::parse(&[0x30, 0x03, 0x81, 0x01, 0x06]).unwrap();
        assert_eq!(r.error, Some(PpolicyError::PasswordTooShort));
        assert_eq!(r.warning, None);
        // SEQUENCE { warning [0] { timeBeforeExpiration [0] 3600 } }
        let r = PpolicyResponse::parse(&[0x30, 0x06, 0xa0, 0x04, 0x80, 0x02, 0x0e, 0x10]).unwrap();
        assert_eq!(r.warning, Some(PpolicyWarning::TimeBeforeExpiration(3600)));
        // both, grace logins
        let r =
            PpolicyResponse::parse(&[0x30, 0x08, 0xa0, 0x03, 0x81, 0x01, 0x02, 0x81, 0x01, 0x00])
                .unwrap();
        assert_eq!(r.warning, Some(PpolicyWarning::GraceAuthNsRemaining(2)));
        assert_eq!(r.error, Some(PpolicyError::PasswordExpired));
        // empty SEQUENCE
        assert_eq!(
            PpolicyResponse::parse(&[0x30, 0x00]).unwrap(),
            PpolicyResponse::default()
        );
        assert_eq!(
            PpolicyResponse::parse(&[0x30, 0x03, 0x81, 0x01, 0x2a])
                .unwrap()
                .error,
            Some(PpolicyError::Unknown(42))
        );
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            &[][..],
            &[0x31, 0x00],
            &[0x30, 0x03, 0x81, 0x01],
            &[0x30, 0x03, 0x82, 0x01, 0x00],
            &[0x30, 0x00, 0x00],
            &[0x30, 0x05, 0xa0, 0x03, 0x82, 0x01, 0x01],
        ] {
            assert!(PpolicyResponse::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn failure(rc: u32, text: &str, error: Option<PpolicyError>) -> LdapFailure {
        LdapFailure::Directory {
            server: "ldaps://127.0.0.1:636".into(),
            reply: Reply {
                rc,
                text: text.into(),
                matched: String::new(),
                ppolicy: error.map(|e| PpolicyResponse {
                    warning: None,
                    error: Some(e),
                }),
                controls: Vec::new(),
            },
        }
    }

    #[test]
    fn maps_policy_refusals() {
        let o = password_outcome(&failure(
            19,
            "Password fails quality checking policy",
            Some(PpolicyError::PasswordTooShort),
        ));
        assert_eq!(o.code, OutcomeCode::RejectedPolicy);
        assert_eq!(o.rules[0].rule, "directory.length");
        assert!(o.rules[0]
            .message
            .contains("Password fails quality checking policy"));
        let o = password_outcome(&failure(
            19,
            "Password is in history of old passwords",
            None,
        ));
        assert_eq!(o.code, OutcomeCode::RejectedHistory);
        assert!(o.message.contains("history of old passwords"));
        let o = password_outcome(&failure(19, "Password is too young to change", None));
        assert_eq!(o.code, OutcomeCode::RejectedMinAge);
        let o = password_outcome(&failure(50, "no write access", None));
        assert_eq!(o.code, OutcomeCode::AdminActionRequired);
        assert!(o
            .admin_detail
            .unwrap_or_default()
            .contains("no write access"));
    }
}
