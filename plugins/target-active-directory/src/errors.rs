//! AD's answers → outcome codes. AD puts an 8-hex "extended error" at the start of the
//! diagnostic (`0000052D: Constraint violation - …`, `00000056: …`, `00000005: …`)
//! and bind failures carry `data 52e`-style codes; Samba adds the reason of a
//! constraint violation in words (too short, complexity, history, too young), Windows
//! does not. Messages to the person never repeat the directory's text; admin details do.

use writeback_core::{Outcome, OutcomeCode, RuleViolation};
use writeback_ldap::{LdapFailure, Reply};

/// A right the service account needs on an account, as AD's delegation wizard and
/// `dsacl` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    ResetPassword,
    ChangePassword,
    WriteLockoutTime,
    WritePwdLastSet,
}

impl Right {
    pub fn name(self) -> &'static str {
        match self {
            Right::ResetPassword => "Reset Password",
            Right::ChangePassword => "Change Password",
            Right::WriteLockoutTime => "write lockoutTime",
            Right::WritePwdLastSet => "write pwdLastSet",
        }
    }

    /// The schema GUID of the extended right or attribute.
    pub fn guid(self) -> &'static str {
        match self {
            Right::ResetPassword => "00299570-246d-11d0-a768-00aa006e0529",
            Right::ChangePassword => "ab721a53-1e2f-11d0-9819-00aa0040529b",
            Right::WriteLockoutTime => "28630ebf-41d5-11d1-a9c1-0000f80367c1",
            Right::WritePwdLastSet => "bf967a0a-0de6-11d0-a285-00aa003049e2",
        }
    }
}

/// The extended error at the start of AD's diagnostic text, e.g. 0x52D.
pub fn extended_error(text: &str) -> Option<u32> {
    let head = text.trim_start().get(..8)?;
    if !head.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(head, 16).ok()
}

/// The `data xxx` code of a bind failure (`52e`, `773`, `775` …), lower case.
pub fn data_code(text: &str) -> Option<String> {
    let at = text.find("data ")? + 5;
    let code: String = text[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (!code.is_empty()).then(|| code.to_ascii_lowercase())
}

const ERROR_ACCESS_DENIED: u32 = 0x5;
const ERROR_INVALID_PASSWORD: u32 = 0x56;
const ERROR_PASSWORD_RESTRICTION: u32 = 0x52D;
const ERROR_DS_INSUFF_ACCESS_RIGHTS: u32 = 0x2098;

/// A failed write (reset, change, unlock, must-change) on `dn`. `rights` are the rights
/// the write needed; a refusal for lack of access names them.
pub fn write_outcome(failure: &LdapFailure, dn: &str, rights: &[Right], service: &str) -> Outcome {
    let Some(reply) = failure.reply() else {
        return failure.to_outcome();
    };
    let detail = format!("{}: {} on {dn}", failure.server(), reply.describe());
    let ext = extended_error(&reply.text);
    if ext == Some(ERROR_INVALID_PASSWORD) {
        return Outcome::of(OutcomeCode::WrongOldPassword).with_admin_detail(detail);
    }
    if ext == Some(ERROR_PASSWORD_RESTRICTION) || (reply.rc == 19 && ext.is_none()) {
        return constraint_outcome(reply).with_admin_detail(detail);
    }
    if reply.rc == 50
        || matches!(
            ext,
            Some(ERROR_ACCESS_DENIED | ERROR_DS_INSUFF_ACCESS_RIGHTS)
        )
    {
        return missing_rights(rights, dn, service, &detail);
    }
    if let Some(outcome) = account_state(reply) {
        return outcome.with_admin_detail(detail);
    }
    match reply.rc {
        32 => Outcome::of(OutcomeCode::NotFound)
            .with_admin_detail(format!("{detail} (the account was deleted or moved)")),
        53 => Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
            "{detail} — the domain controller is unwilling to write the password: it requires a \
             TLS connection (ldaps:// or StartTLS) with 128-bit encryption and the value \
             encoded as quoted UTF-16LE; check the DC's logs"
        )),
        _ => failure.to_outcome(),
    }
}

/// The outcome naming the rights the service account lacks on `dn`.
pub fn missing_rights(rights: &[Right], dn: &str, service: &str, detail: &str) -> Outcome {
    let names: Vec<&str> = rights.iter().map(|r| r.name()).collect();
    Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
        "the service account `{service}` lacks {} on {dn}: delegate it on the account's OU \
         (docs/active-directory.md, \"Delegating the minimum rights\"). Directory said: {detail}",
        names.join(" and ")
    ))
}

/// A constraint violation: Samba says why in words; Windows says only 0000052D.
fn constraint_outcome(reply: &Reply) -> Outcome {
    let text = reply.text.to_ascii_lowercase();
    if text.contains("in history") || text.contains("already used") {
        return Outcome::of(OutcomeCode::RejectedHistory);
    }
    if text.contains("too young") {
        return Outcome::of(OutcomeCode::RejectedMinAge);
    }
    if text.contains("too short") {
        let message = match number_after(&text, "longer than ") {
            Some(n) => format!("The new password is too short: use at least {n} characters."),
            None => "The new password is too short for the domain's password rules.".to_string(),
        };
        return Outcome::rejected(vec![RuleViolation::new("directory.min_length", message)]);
    }
    if text.contains("too long") {
        return Outcome::rejected(vec![RuleViolation::new(
            "directory.max_length",
            "The new password is too long for the domain's password rules.",
        )]);
    }
    if text.contains("complexity") {
        return Outcome::rejected(vec![RuleViolation::new(
            "directory.complexity",
            COMPLEXITY_MESSAGE,
        )]);
    }
    Outcome::rejected(vec![RuleViolation::new(
        "directory.constraint",
        "The domain refused the new password: it breaks the password rules (length, \
         complexity, not one of your recent passwords, or changed too recently).",
    )])
}

pub const COMPLEXITY_MESSAGE: &str =
    "The new password is not complex enough: use characters from at least \
     three of capital letters, small letters, digits and symbols, and do not include your \
     account name or parts of your full name.";

fn number_after(text: &str, marker: &str) -> Option<u32> {
    let at = text.find(marker)? + marker.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Account states AD reports with `data` codes.
fn account_state(reply: &Reply) -> Option<Outcome> {
    let message = match data_code(&reply.text)?.as_str() {
        "533" => "This account is disabled in the directory. Ask the help desk.",
        "701" => "This account has expired in the directory. Ask the help desk.",
        "775" => "This account is locked out. Ask the help desk to unlock it.",
        _ => return None,
    };
    Some(Outcome::new(OutcomeCode::AdminActionRequired, message))
}

/// The service account's bind failed (the pool could not log on).
pub fn service_bind_outcome(failure: &LdapFailure, service: &str) -> Outcome {
    let Some(reply) = failure.reply() else {
        return failure.to_outcome();
    };
    let why = match data_code(&reply.text).as_deref() {
        Some("52e") => "wrong password (check bind_password)",
        Some("525") => "no such user (check bind_dn)",
        Some("530") | Some("531") => "not allowed to log on at this time or from this host",
        Some("532") => "its password has expired: set a new one and mark it never to expire",
        Some("533") => "the account is disabled",
        Some("701") => "the account has expired",
        Some("773") => "it must change its password at next logon: set one and clear that flag",
        Some("775") => "the account is locked out: unlock it (too many wrong passwords)",
        _ if reply.rc == 8 || reply.rc == 13 => "the DC wants an encrypted connection",
        _ if reply.rc == 49 => "invalid credentials",
        _ => return failure.to_outcome(),
    };
    Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
        "the service account `{service}` cannot log on to {}: {why} ({})",
        failure.server(),
        reply.describe()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(rc: u32, text: &str) -> LdapFailure {
        LdapFailure::Directory {
            server: "ldaps://dc:636".into(),
            reply: Reply {
                rc,
                text: text.into(),
                matched: String::new(),
                ppolicy: None,
                controls: Vec::new(),
            },
        }
    }

    fn code(rc: u32, text: &str) -> Outcome {
        write_outcome(
            &failure(rc, text),
            "CN=x,DC=ex",
            &[Right::ResetPassword],
            "svc",
        )
    }

    #[test]
    fn samba_constraint_reasons() {
        let o = code(19, "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!");
        assert_eq!(o.code, OutcomeCode::RejectedPolicy);
        assert_eq!(o.rules[0].rule, "directory.min_length");
        assert!(o.rules[0].message.contains("at least 7"));
        let o = code(19, "0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria!");
        assert_eq!(o.rules[0].rule, "directory.complexity");
        assert_eq!(code(19, "0000052D: Constraint violation - check_password_restrictions: the password was already used (in history)!").code, OutcomeCode::RejectedHistory);
        assert_eq!(code(19, "0000052D: Constraint violation - check_password_restrictions: password is too young to change!").code, OutcomeCode::RejectedMinAge);
    }

    #[test]
    fn windows_texts() {
        let o = code(
            19,
            "0000052D: SvcErr: DSID-031A1254, problem 5003 (WILL_NOT_PERFORM), data 0",
        );
        assert_eq!(o.rules[0].rule, "directory.constraint");
        let o = code(19, "00000056: AtrErr: DSID-03190F80, #1: 0: 00000056: DSID-03190F80, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)");
        assert_eq!(o.code, OutcomeCode::WrongOldPassword);
        let o = code(
            50,
            "00000005: SecErr: DSID-031A11E5, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0",
        );
        assert_eq!(o.code, OutcomeCode::AdminActionRequired);
        let detail = o.admin_detail.unwrap_or_default();
        assert!(detail.contains("Reset Password on CN=x,DC=ex"), "{detail}");
        // Samba's reset outside the delegation: result 50 without an extended error.
        assert_eq!(
            code(50, "error in module acl: insufficient access rights").code,
            OutcomeCode::AdminActionRequired
        );
    }

    #[test]
    fn service_bind_reasons() {
        let f = failure(49, "80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 533, v3839");
        let detail = service_bind_outcome(&f, "svc")
            .admin_detail
            .unwrap_or_default();
        assert!(detail.contains("disabled"), "{detail}");
        assert_eq!(data_code("… data 775, v2580").as_deref(), Some("775"));
        assert_eq!(extended_error("0000052D: x"), Some(0x52d));
        assert_eq!(extended_error("error in module"), None);
    }
}
