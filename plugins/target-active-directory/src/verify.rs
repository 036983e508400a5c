//! Writes verified after the fact: after a reset or unlock the account is read back
//! (never its password) and what was asked but did not take effect — must-change,
//! lockout cleared — or what keeps the person out anyway — disabled, expired — becomes
//! an `admin_action_required` outcome that says the password was set and what was not.

use writeback_core::{Account, Operation, Outcome, OutcomeCode};
use writeback_ldap::ldap3::{Scope, SearchEntry};

use crate::target::ActiveDirectoryTarget;

/// userAccountControl bits.
const ACCOUNTDISABLE: u64 = 0x2;
const DONT_EXPIRE_PASSWORD: u64 = 0x1_0000;
/// msDS-User-Account-Control-Computed: locked out now (lockoutTime within the window).
const UF_LOCKOUT: u64 = 0x10;

/// What the read-back reads: flags and times, never a password attribute.
const READ_BACK: &[&str] = &[
    "pwdLastSet",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "lockoutTime",
    "accountExpires",
];

/// The account as read back after the write.
#[derive(Debug, Default, Clone)]
pub struct ReadBack {
    pub pwd_last_set: Option<String>,
    pub user_account_control: u64,
    pub computed: Option<u64>,
    pub lockout_time: Option<String>,
    pub account_expires: Option<i64>,
}

impl ReadBack {
    fn from_entry(entry: &SearchEntry) -> ReadBack {
        let first = |name: &str| {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first().cloned())
        };
        ReadBack {
            pwd_last_set: first("pwdLastSet"),
            user_account_control: first("userAccountControl")
                .and_then(|v| v.parse::<i64>().ok())
                .map(|v| v as u32 as u64)
                .unwrap_or(0),
            computed: first("msDS-User-Account-Control-Computed")
                .and_then(|v| v.parse::<i64>().ok())
                .map(|v| v as u32 as u64),
            lockout_time: first("lockoutTime"),
            account_expires: first("accountExpires").and_then(|v| v.parse().ok()),
        }
    }
}

/// What the operation asked for, as far as the read-back can tell.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub reset: bool,
    pub must_change: bool,
    pub unlock: bool,
}

impl Asked {
    pub fn of(operation: &Operation, unlock_on_reset: bool) -> Option<Asked> {
        match operation {
            Operation::Reset { must_change, .. } => Some(Asked {
                reset: true,
                must_change: *must_change,
                unlock: unlock_on_reset,
            }),
            Operation::Unlock => Some(Asked {
                reset: false,
                must_change: false,
                unlock: true,
            }),
            // A change is checked by the DC itself against the old password.
            Operation::Change { .. } => None,
        }
    }
}

/// Now as a Windows FILETIME (100 ns since 1601).
fn filetime_now() -> i64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (unix + 11_644_473_600) * 10_000_000
}

/// The container an entry is in (what an administrator delegates rights on).
fn parent(dn: &str) -> &str {
    writeback_ldap::dn::parent(dn).unwrap_or(dn)
}

/// Each thing that did not take effect, as a sentence for the administrator.
pub fn problems(asked: Asked, read: &ReadBack, dn: &str, service: &str) -> Vec<String> {
    let mut found = Vec::new();
    if asked.must_change {
        match read.pwd_last_set.as_deref() {
            Some("0") => {
                if read.user_account_control & DONT_EXPIRE_PASSWORD != 0 {
                    found.push(format!(
                        "must-change did not stick: pwdLastSet is 0 but the account's \"password \
                         never expires\" flag (userAccountControl DONT_EXPIRE_PASSWORD) \
                         overrides it, so the person will not be asked to change the password; \
                         clear \"Password never expires\" on {dn}, or reset without must-change"
                    ));
                }
            }
            other => found.push(format!(
                "must-change did not stick: pwdLastSet is {} instead of 0; check that {service} \
                 has write pwdLastSet on {} (inherited to user objects)",
                other.unwrap_or("not readable"),
                parent(dn)
            )),
        }
    }
    let locked = match read.computed {
        Some(computed) => computed & UF_LOCKOUT != 0,
        None => asked.unlock && read.lockout_time.as_deref().is_some_and(|t| t != "0"),
    };
    if locked {
        found.push(if asked.unlock {
            format!(
                "the lockout was not cleared: the account is still locked out (lockoutTime {}); \
                 check that {service} has write lockoutTime on {}",
                read.lockout_time.as_deref().unwrap_or("?"),
                parent(dn)
            )
        } else {
            "the account is locked out, and this target does not clear lockouts on reset \
             (set `unlock_on_reset = true`, or unlock it)"
                .to_string()
        });
    }
    if read.user_account_control & ACCOUNTDISABLE != 0 {
        found.push(format!(
            "the account is disabled (userAccountControl ACCOUNTDISABLE): the person cannot \
             sign in until {dn} is enabled"
        ));
    }
    if let Some(expires) = read.account_expires {
        if expires != 0 && expires != i64::MAX && expires < filetime_now() {
            found.push(format!(
                "the account has expired (accountExpires {expires}): the person cannot sign in \
                 until its expiry date on {dn} is moved"
            ));
        }
    }
    found
}

impl ActiveDirectoryTarget {
    /// Reads the account back after a successful write and reports what did not take
    /// effect. A read-back that fails does not turn a done write into a failure.
    pub(crate) async fn verify_write(
        &self,
        account: &Account,
        operation: &Operation,
    ) -> Result<(), Outcome> {
        if !self.config().verify_writes {
            return Ok(());
        }
        let Some(asked) = Asked::of(operation, self.config().unlock_on_reset) else {
            return Ok(());
        };
        let Ok(mut session) = self.pool().get().await else {
            return Ok(());
        };
        let read = match session
            .search(&account.dn, Scope::Base, "(objectClass=*)", READ_BACK, 1)
            .await
        {
            Ok(found) => match found.entries.first() {
                Some(entry) => ReadBack::from_entry(entry),
                None => return Ok(()),
            },
            Err(_) => return Ok(()),
        };
        let found = problems(asked, &read, &account.dn, &self.config().server.bind_dn);
        if found.is_empty() {
            return Ok(());
        }
        let done = if asked.reset {
            "the password was set"
        } else {
            "the unlock was written"
        };
        let message = if asked.reset {
            "Your password was set, but your account needs attention from the help desk \
             before it works as expected."
        } else {
            "The unlock was sent, but your account needs attention from the help desk."
        };
        Err(
            Outcome::new(OutcomeCode::AdminActionRequired, message).with_admin_detail(format!(
                "target `{}`: {done} on {}, but {}",
                self.name(),
                account.dn,
                found.join("; ")
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DN: &str = "CN=Ann\\, B,OU=Staff,DC=example,DC=org";

    fn asked(must_change: bool, unlock: bool) -> Asked {
        Asked {
            reset: true,
            must_change,
            unlock,
        }
    }

    #[test]
    fn a_clean_read_back_has_no_problems() {
        let read = ReadBack {
            pwd_last_set: Some("0".into()),
            user_account_control: 512,
            computed: Some(0x80_0000),
            lockout_time: Some("0".into()),
            account_expires: Some(i64::MAX),
        };
        assert!(problems(asked(true, true), &read, DN, "svc").is_empty());
    }

    #[test]
    fn must_change_not_written_names_the_right_and_the_ou() {
        let read = ReadBack {
            pwd_last_set: Some("133000000000000000".into()),
            user_account_control: 512,
            ..ReadBack::default()
        };
        let found = problems(asked(true, false), &read, DN, "svc");
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("write pwdLastSet on OU=Staff,DC=example,DC=org"));
    }

    #[test]
    fn lockout_disabled_and_expired_are_each_named() {
        let read = ReadBack {
            pwd_last_set: Some("1".into()),
            user_account_control: 514,
            computed: Some(UF_LOCKOUT),
            lockout_time: Some("133".into()),
            account_expires: Some(1),
        };
        let found = problems(asked(false, true), &read, DN, "svc").join("\n");
        assert!(found.contains("lockout was not cleared"), "{found}");
        assert!(found.contains("disabled"), "{found}");
        assert!(found.contains("expired"), "{found}");
    }
}
