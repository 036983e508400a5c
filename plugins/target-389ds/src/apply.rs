//! Reset, change and unlock with 389 Directory Server's semantics:
//!
//! * reset — Password Modify as the service account, which an ACI lets write
//!   userPassword (it is not a password administrator, so syntax, history and age are
//!   checked). 389 DS sets must-change itself on an administrator's reset when the
//!   policy's `passwordMustChange` is on, and offers no way to set it otherwise; so a
//!   reset asking for must-change reads the policy first and, where it is off (or
//!   cannot be read), writes nothing and says what to change.
//! * change — bound AS THE USER with the old password on a fresh connection, then
//!   Password Modify with old and new. A new password equal to the old one is refused
//!   here: 389 DS refuses it too, but without a reason.
//! * unlock — `passwordRetryCount: 0` and `accountUnlockTime` deleted, in one modify.

use writeback_core::{Outcome, OutcomeCode, Password};
use writeback_ldap::ds389::{self, PolicyReadError};
use writeback_ldap::ldap3::Mod;
use writeback_ldap::{password_outcome, LdapFailure, PpolicyError};

use crate::target::Ds389Target;

impl Ds389Target {
    pub(crate) async fn reset(
        &self,
        dn: &str,
        new_password: &Password,
        must_change: bool,
    ) -> Result<(), Outcome> {
        let mut session = self.pool.get().await.map_err(|f| f.to_outcome())?;
        if must_change {
            match ds389::effective_policy(&mut session, dn).await {
                Ok(policy) if policy.must_change => {}
                Ok(policy) => {
                    return Err(Outcome::new(
                        OutcomeCode::AdminActionRequired,
                        "The directory cannot make this account change its password at next \
                         sign-in. Nothing was changed; ask the help desk.",
                    )
                    .with_admin_detail(format!(
                        "{dn}: {} has passwordMustChange off, and 389 DS can only mark a \
                         password as must-change through that setting on a reset. Turn \
                         passwordMustChange on in that policy, or send the reset without \
                         must-change. Nothing was written.",
                        policy.source
                    )))
                }
                Err(PolicyReadError::Directory(f)) => return Err(f.to_outcome()),
                Err(e @ PolicyReadError::Unreadable { .. }) => {
                    return Err(
                        Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
                            "{dn}: a must-change reset needs to know whether the policy has \
                             passwordMustChange on, and {e}. Nothing was written."
                        )),
                    )
                }
            }
        }
        session
            .password_modify(Some(dn), None, new_password)
            .await
            .map(|_| ())
            .map_err(|f| write_failure(&f, dn))
    }

    pub(crate) async fn change(
        &self,
        dn: &str,
        old_password: &Password,
        new_password: &Password,
    ) -> Result<(), Outcome> {
        if old_password.expose() == new_password.expose() {
            return Err(Outcome::new(
                OutcomeCode::RejectedHistory,
                "The new password is the same as the current one. Choose a different one.",
            ));
        }
        // A fresh connection: a user's bind must never land in the service pool.
        let mut session = self.connector.connect().await.map_err(|f| f.to_outcome())?;
        if let Err(f) = session.bind(dn, old_password).await {
            session.unbind().await;
            return Err(user_bind_failure(&f));
        }
        let result = session
            .password_modify(None, Some(old_password), new_password)
            .await;
        session.unbind().await;
        result.map(|_| ()).map_err(|f| match f.result_code() {
            // "Invalid oldPasswd value."
            Some(49) => wrong_old_password(&f),
            _ => write_failure(&f, dn),
        })
    }

    pub(crate) async fn unlock(&self, dn: &str) -> Result<(), Outcome> {
        let mut session = self.pool.get().await.map_err(|f| f.to_outcome())?;
        let retry_count = || {
            Mod::Replace(
                b"passwordRetryCount".to_vec(),
                std::collections::HashSet::from([b"0".to_vec()]),
            )
        };
        let mods = vec![
            retry_count(),
            Mod::Delete(b"accountUnlockTime".to_vec(), Default::default()),
        ];
        let result = match session.modify(dn, mods, Vec::new()).await {
            // noSuchAttribute: no accountUnlockTime (not locked, or locked for good
            // with no duration): clearing the count is all there is to do.
            Err(f) if f.result_code() == Some(16) => {
                session.modify(dn, vec![retry_count()], Vec::new()).await
            }
            other => other,
        };
        result.map(|_| ()).map_err(|f| {
            acl_hint(
                f.to_outcome(),
                &f,
                "write access to passwordRetryCount and accountUnlockTime",
                dn,
            )
        })
    }
}

/// A refused password write. 389 DS's text is always "Failed to update password": the
/// response control says why. A constraint violation WITHOUT the control is how it
/// refuses a password equal to the current one.
pub(crate) fn write_failure(f: &LdapFailure, dn: &str) -> Outcome {
    let reply = f.reply();
    let unexplained =
        reply.is_some_and(|r| r.rc == 19 && r.ppolicy.and_then(|p| p.error).is_none());
    let outcome = if unexplained {
        Outcome::new(
            OutcomeCode::RejectedHistory,
            format!(
                "{} (the directory refused it without a reason, which 389 Directory Server \
                 does for the current password)",
                OutcomeCode::RejectedHistory.default_message()
            ),
        )
        .with_admin_detail(f.to_string())
    } else {
        password_outcome(f)
    };
    acl_hint(outcome, f, "write access to userPassword (an ACI)", dn)
}

fn acl_hint(outcome: Outcome, f: &LdapFailure, right: &str, dn: &str) -> Outcome {
    if f.result_code() == Some(50) {
        let detail = format!(
            "{f} — the service account needs {right} on {dn} (see docs/389ds.md for the ACI)"
        );
        return outcome.with_admin_detail(detail);
    }
    outcome
}

/// The user's own bind with the old password failed: 49 is a wrong password; 19 with
/// "Exceed password retry limit" (and the control's accountLocked) is a locked account.
fn user_bind_failure(f: &LdapFailure) -> Outcome {
    let reply = f.reply();
    let locked = reply.is_some_and(|r| {
        r.ppolicy.and_then(|p| p.error) == Some(PpolicyError::AccountLocked)
            || (r.rc == 19 && r.text.to_ascii_lowercase().contains("retry limit"))
    });
    match f.result_code() {
        _ if locked => Outcome::new(
            OutcomeCode::AdminActionRequired,
            "The account is locked after too many failed sign-ins. Ask the help desk to \
             unlock it, or wait until the lockout ends.",
        )
        .with_admin_detail(format!("{f} — an unlock request clears it")),
        Some(49) => wrong_old_password(f),
        _ => f.to_outcome(),
    }
}

fn wrong_old_password(f: &LdapFailure) -> Outcome {
    Outcome::of(OutcomeCode::WrongOldPassword).with_admin_detail(f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_ldap::{PpolicyResponse, Reply};

    fn failure(rc: u32, text: &str, error: Option<u32>) -> LdapFailure {
        LdapFailure::Directory {
            server: "ldaps://127.0.0.1:636".into(),
            reply: Reply {
                rc,
                text: text.into(),
                matched: String::new(),
                ppolicy: error.map(|e| PpolicyResponse {
                    warning: None,
                    error: Some(PpolicyError::from_code(e)),
                }),
                controls: Vec::new(),
            },
        }
    }

    const FAILED: &str = "Failed to update password";

    #[test]
    fn the_control_says_why_and_its_absence_means_the_current_password() {
        let dn = "uid=a,dc=x";
        assert_eq!(
            write_failure(&failure(19, FAILED, Some(5)), dn).code,
            OutcomeCode::RejectedPolicy
        );
        assert_eq!(
            write_failure(&failure(19, FAILED, Some(8)), dn).code,
            OutcomeCode::RejectedHistory
        );
        assert_eq!(
            write_failure(&failure(19, FAILED, Some(7)), dn).code,
            OutcomeCode::RejectedMinAge
        );
        assert_eq!(
            write_failure(&failure(19, FAILED, None), dn).code,
            OutcomeCode::RejectedHistory
        );
        let o = write_failure(&failure(50, "Insufficient access", None), dn);
        assert_eq!(o.code, OutcomeCode::AdminActionRequired);
        assert!(o.admin_detail.unwrap_or_default().contains("ACI"));
    }

    #[test]
    fn a_locked_bind_is_not_a_wrong_password() {
        let locked = failure(
            19,
            "Exceed password retry limit. Please try later.",
            Some(1),
        );
        let o = user_bind_failure(&locked);
        assert_eq!(o.code, OutcomeCode::AdminActionRequired);
        assert!(o.message.contains("locked"));
        let o = user_bind_failure(&failure(
            19,
            "Exceed password retry limit. Please try later.",
            None,
        ));
        assert_eq!(o.code, OutcomeCode::AdminActionRequired);
        assert_eq!(
            user_bind_failure(&failure(49, "", None)).code,
            OutcomeCode::WrongOldPassword
        );
    }
}
