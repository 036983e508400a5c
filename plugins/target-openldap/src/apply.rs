//! Reset, change and unlock, written so that slapd's ppolicy judges them:
//!
//! * reset — as the service account, which has `write` (not `manage`) on userPassword,
//!   so quality and history are checked. Must-change needs `pwdReset: TRUE`, which only
//!   a `manage` identity gets from ppolicy itself; so the password and pwdReset go in
//!   ONE modify (both or neither).
//! * change — bound AS THE USER with the old password on a fresh connection, then the
//!   Password Modify exop with old and new: history and minimum age apply.
//! * unlock — delete pwdAccountLockedTime (slapd then also forgets the failures).

use std::collections::HashSet;

use writeback_core::{Outcome, OutcomeCode, Password};
use writeback_ldap::ldap3::Mod;
use writeback_ldap::{password_outcome, LdapFailure, PpolicyError, WipedBytes};

use crate::target::OpenLdapTarget;

impl OpenLdapTarget {
    pub(crate) async fn reset(
        &self,
        dn: &str,
        new_password: &Password,
        must_change: bool,
    ) -> Result<(), Outcome> {
        let mut session = self.pool.get().await.map_err(|f| f.to_outcome())?;
        let written = if must_change || !self.use_password_modify_exop {
            // WipedBytes: the session consumes the mods and the value is wiped when dropped.
            let bytes = WipedBytes::copy_of;
            let mut mods = vec![Mod::Replace(
                bytes(b"userPassword"),
                HashSet::from([bytes(new_password.expose().as_bytes())]),
            )];
            if must_change {
                mods.push(Mod::Replace(
                    bytes(b"pwdReset"),
                    HashSet::from([bytes(b"TRUE")]),
                ));
            }
            session.modify(dn, mods, Vec::new()).await
        } else {
            session.password_modify(Some(dn), None, new_password).await
        };
        written.map(|_| ()).map_err(|f| write_failure(&f, dn))
    }

    pub(crate) async fn change(
        &self,
        dn: &str,
        old_password: &Password,
        new_password: &Password,
    ) -> Result<(), Outcome> {
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
            // slapd: "unwilling to verify old password"
            Some(53) if f.reply().is_some_and(|r| r.text.contains("old password")) => {
                wrong_old_password(&f)
            }
            _ => write_failure(&f, dn),
        })
    }

    pub(crate) async fn unlock(&self, dn: &str) -> Result<(), Outcome> {
        let mut session = self.pool.get().await.map_err(|f| f.to_outcome())?;
        let mods = vec![Mod::Delete(
            b"pwdAccountLockedTime".to_vec(),
            HashSet::new(),
        )];
        match session.modify(dn, mods, Vec::new()).await {
            Ok(_) => Ok(()),
            // noSuchAttribute: the account was not locked; unlocking is then a no-op.
            Err(f) if f.result_code() == Some(16) => Ok(()),
            Err(f) => Err(acl_hint(
                f.to_outcome(),
                &f,
                "write access to pwdAccountLockedTime",
                dn,
            )),
        }
    }
}

/// A refused password write: ppolicy reasons first, then the ACL hint for 50.
fn write_failure(f: &LdapFailure, dn: &str) -> Outcome {
    acl_hint(
        password_outcome(f),
        f,
        "write access to userPassword and pwdReset",
        dn,
    )
}

fn acl_hint(outcome: Outcome, f: &LdapFailure, right: &str, dn: &str) -> Outcome {
    if f.result_code() == Some(50) {
        let detail = format!(
            "{f} — the service account needs {right} on {dn} (see docs/openldap.md for the ACL)"
        );
        return outcome.with_admin_detail(detail);
    }
    outcome
}

/// The user's own bind with the old password failed.
fn user_bind_failure(f: &LdapFailure) -> Outcome {
    let ppolicy = f.reply().and_then(|r| r.ppolicy).and_then(|p| p.error);
    match (f.result_code(), ppolicy) {
        (Some(49), Some(PpolicyError::AccountLocked)) => password_outcome(f),
        (Some(49), _) => wrong_old_password(f),
        _ => f.to_outcome(),
    }
}

fn wrong_old_password(f: &LdapFailure) -> Outcome {
    Outcome::of(OutcomeCode::WrongOldPassword).with_admin_detail(f.to_string())
}
