//! Account state checked around a write. Before: an account an administrator locked
//! (`pwdAccountLockedTime: 000001010000Z`) is refused, because slapd's ppolicy removes
//! any lock, even that one, with a password change — a reset would re-enable a disabled
//! account. After (`verify_writes`): what keeps the person out although the write was
//! done — a password outside its validity window (`pwdStartTime`/`pwdEndTime`, read
//! with the account, no round trip) — and, for a must-change reset, `pwdReset` read
//! back; each becomes an `admin_action_required` outcome that says the password was
//! set and what was not. The password itself is never read.

use std::time::SystemTime;

use writeback_core::{Account, Operation, Outcome, OutcomeCode};
use writeback_ldap::ldap3::Scope;

use crate::target::OpenLdapTarget;

/// ppolicy's value for a lock no timeout lifts: an administrator's lock.
const PERMANENT_LOCK: &str = "000001010000Z";

/// The account's ppolicy state: read with the account, `pwd_reset` read back.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub pwd_reset: bool,
    pub locked_time: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

impl State {
    /// The state attributes the account was resolved with (lower-case keys).
    fn of(account: &Account) -> State {
        let first = |name: &str| {
            account
                .attributes
                .get(name)
                .and_then(|values| values.first().cloned())
        };
        State {
            pwd_reset: false,
            locked_time: first("pwdaccountlockedtime"),
            start_time: first("pwdstarttime"),
            end_time: first("pwdendtime"),
        }
    }
}

/// Refuses, before anything is written, an operation on an account an administrator
/// locked: slapd would lift that lock with the new password. An unlock lifts it only
/// where the operator allowed it (`unlock_administrators_lock`).
pub(crate) fn refuse_administrators_lock(
    account: &Account,
    operation: &Operation,
    unlock_allowed: bool,
) -> Result<(), Outcome> {
    if State::of(account).locked_time.as_deref() != Some(PERMANENT_LOCK)
        || (unlock_allowed && matches!(operation, Operation::Unlock))
    {
        return Ok(());
    }
    Err(Outcome::new(
        OutcomeCode::AdminActionRequired,
        "This account has been disabled by an administrator. Contact the help desk.",
    )
    .with_admin_detail(format!(
        "{} is locked by an administrator (pwdAccountLockedTime {PERMANENT_LOCK}); nothing \
         was written, because slapd removes any lock with a password change and the \
         write would re-enable the account. Remove the lock first if the account should \
         be enabled (or, for unlocks, set `unlock_administrators_lock = true`).",
        account.dn
    )))
}

/// What the operation asked for, as far as the read-back can tell.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub reset: bool,
    pub must_change: bool,
}

impl Asked {
    pub fn of(operation: &Operation) -> Option<Asked> {
        match operation {
            Operation::Reset { must_change, .. } => Some(Asked {
                reset: true,
                must_change: *must_change,
            }),
            Operation::Unlock => Some(Asked {
                reset: false,
                must_change: false,
            }),
            // A change is the person's own bind and Password Modify: slapd judged it.
            Operation::Change { .. } => None,
        }
    }
}

/// Each thing that is not in force, as a sentence for the administrator.
pub fn problems(
    asked: Asked,
    read: &State,
    now: SystemTime,
    dn: &str,
    service: &str,
) -> Vec<String> {
    let container = writeback_ldap::dn::parent(dn).unwrap_or(dn);
    let mut found = Vec::new();
    if asked.must_change && !read.pwd_reset {
        found.push(format!(
            "must-change did not stick: pwdReset is not TRUE after the write; check that \
             {service} has write on pwdReset under {container} and that no overlay removes it"
        ));
    }
    fn at(value: &Option<String>) -> Option<(&str, SystemTime)> {
        let value = value.as_deref()?;
        writeback_ldap::gentime::parse(value).map(|t| (value, t))
    }
    if let Some((value, end)) = at(&read.end_time) {
        if end <= now {
            found.push(format!(
                "the password is disabled since pwdEndTime {value}: the person cannot sign in \
                 until pwdEndTime is removed from {dn} or moved"
            ));
        }
    }
    if let Some((value, start)) = at(&read.start_time) {
        if start > now {
            found.push(format!(
                "the password is not valid before pwdStartTime {value}: the person cannot sign \
                 in until then, or until pwdStartTime is removed from {dn}"
            ));
        }
    }
    found
}

impl OpenLdapTarget {
    /// `pwdReset` as the entry has it now; `None` when it cannot be read (a read-back
    /// that fails does not turn a done write into a failure).
    async fn read_pwd_reset(&self, dn: &str) -> Option<bool> {
        let mut session = self.pool.get().await.ok()?;
        let found = session
            .search(dn, Scope::Base, "(objectClass=*)", &["pwdReset"], 1)
            .await
            .ok()?;
        let entry = found.entries.first()?;
        Some(entry.attrs.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("pwdReset") && v.iter().any(|v| v.eq_ignore_ascii_case("TRUE"))
        }))
    }

    /// Reports what is not in force after a successful write.
    pub(crate) async fn verify_write(
        &self,
        account: &Account,
        operation: &Operation,
    ) -> Result<(), Outcome> {
        if !self.verify_writes {
            return Ok(());
        }
        let Some(asked) = Asked::of(operation) else {
            return Ok(());
        };
        // What the write leaves alone (the validity window) is judged from the resolve;
        // the lock is gone (slapd removes it with a password, the unlock deleted it).
        let mut read = State::of(account);
        if asked.must_change {
            match self.read_pwd_reset(&account.dn).await {
                Some(set) => read.pwd_reset = set,
                None => return Ok(()),
            }
        }
        let found = problems(
            asked,
            &read,
            SystemTime::now(),
            &account.dn,
            self.pool.bind_dn(),
        );
        if found.is_empty() {
            return Ok(());
        }
        let (done, message) = if asked.reset {
            (
                "the password was set",
                "Your password was set, but your account needs attention from the help desk \
                 before it works as expected.",
            )
        } else {
            (
                "the unlock was written",
                "The unlock was sent, but your account needs attention from the help desk.",
            )
        };
        Err(
            Outcome::new(OutcomeCode::AdminActionRequired, message).with_admin_detail(format!(
                "{done} on {}, but {}",
                account.dn,
                found.join("; ")
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const DN: &str = "uid=ann\\,b,ou=people,dc=example,dc=org";

    fn reset(must_change: bool) -> Asked {
        Asked {
            reset: true,
            must_change,
        }
    }

    fn now() -> SystemTime {
        writeback_ldap::gentime::parse("20261204120000Z").unwrap_or(SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn a_clean_read_back_has_no_problems() {
        let read = State {
            pwd_reset: true,
            start_time: Some("20260101000000Z".into()),
            end_time: Some("20270101000000Z".into()),
            ..State::default()
        };
        assert!(problems(reset(true), &read, now(), DN, "svc").is_empty());
        assert!(problems(reset(false), &State::default(), now(), DN, "svc").is_empty());
    }

    #[test]
    fn must_change_not_in_force_names_the_right_and_the_container() {
        let found = problems(reset(true), &State::default(), now(), DN, "cn=svc");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("cn=svc has write on pwdReset under ou=people,dc=example,dc=org"),
            "{found:?}"
        );
    }

    #[test]
    fn the_validity_window_is_named() {
        let read = State {
            start_time: Some("20270101000000Z".into()),
            end_time: Some("20261204115959Z".into()),
            ..State::default()
        };
        let found = problems(reset(false), &read, now(), DN, "svc").join("\n");
        assert!(found.contains("disabled since pwdEndTime"), "{found}");
        assert!(found.contains("not valid before pwdStartTime"), "{found}");
        let later = now() + Duration::from_secs(1);
        let ends_later = State {
            end_time: Some(writeback_ldap::gentime::format(later)),
            ..State::default()
        };
        assert!(problems(reset(false), &ends_later, now(), DN, "svc").is_empty());
    }

    #[test]
    fn only_an_administrators_lock_refuses_the_write() {
        let account = |lock: Option<&str>| Account {
            dn: DN.into(),
            id: None,
            attributes: lock
                .map(|l| ("pwdaccountlockedtime".to_string(), vec![l.to_string()]))
                .into_iter()
                .collect(),
        };
        let reset = Operation::Reset {
            new_password: writeback_core::Password::new("x"),
            must_change: false,
        };
        assert!(refuse_administrators_lock(&account(None), &reset, false).is_ok());
        let timed = account(Some("20261204110000Z"));
        assert!(refuse_administrators_lock(&timed, &reset, false).is_ok());
        let locked = account(Some(PERMANENT_LOCK));
        assert!(refuse_administrators_lock(&locked, &Operation::Unlock, false).is_err());
        assert!(refuse_administrators_lock(&locked, &Operation::Unlock, true).is_ok());
        assert!(refuse_administrators_lock(&locked, &reset, true).is_err());
        let refused = refuse_administrators_lock(&locked, &reset, false);
        let Err(o) = refused else {
            panic!("an administrator's lock must be refused")
        };
        assert_eq!(o.code, OutcomeCode::AdminActionRequired);
        assert!(o
            .admin_detail
            .unwrap_or_default()
            .contains("nothing was written"));
    }
}
