//! `check-config --connect` for 389 DS: after the connection checks every LDAP
//! connector runs, whether the server is 389 DS with the password policy control,
//! whether the service account has the rights the writes need on a sample account
//! (read with the Get Effective Rights control: the ACIs are evaluated by the server,
//! not guessed here), and which password policy applies to that account.

use writeback_core::HealthCheck;
use writeback_ldap::ds389::{self, PolicyReadError};
use writeback_ldap::ppolicy::PPOLICY_OID;
use writeback_ldap::{RootDse, Session};

use crate::target::Ds389Target;

pub const SERVER: &str = "389 DS";
pub const ACI: &str = "service account rights (ACI)";
pub const POLICY: &str = "password policy";

pub(crate) async fn run(target: &Ds389Target) -> Vec<HealthCheck> {
    let mut checks = Vec::new();
    let Some(mut session) = target
        .pool
        .connection_checks(&target.base_dn, &mut checks)
        .await
    else {
        return checks;
    };
    checks.push(server_check(&mut session).await);
    match sample_account(target, &mut session).await {
        Ok(Some(dn)) => {
            checks.push(rights_check(&mut session, &dn, target.pool.bind_dn()).await);
            checks.push(policy_check(&mut session, &dn).await);
        }
        Ok(None) => checks.push(HealthCheck::pass(
            ACI,
            format!(
                "unknown: no account under {} matches the filter's object classes, so there \
                 is nothing to check the rights on",
                target.base_dn
            ),
        )),
        Err(e) => checks.push(HealthCheck::fail(ACI, e)),
    }
    session.unbind().await;
    checks
}

async fn server_check(session: &mut Session) -> HealthCheck {
    match RootDse::read(session).await {
        Ok(root) => {
            let vendor = root.vendor_name.clone().unwrap_or_default();
            if !root.supports_control(PPOLICY_OID) {
                HealthCheck::fail(
                    SERVER,
                    "the server does not advertise the password policy control; without it \
                     389 DS's refusals cannot be told apart",
                )
            } else if !vendor.contains("389") {
                HealthCheck::fail(
                    SERVER,
                    format!(
                        "the server says it is `{vendor}`, not 389 Directory Server: use the \
                         target type that matches it"
                    ),
                )
            } else {
                HealthCheck::pass(
                    SERVER,
                    format!("{vendor}, password policy control supported"),
                )
            }
        }
        Err(f) => HealthCheck::fail(SERVER, f.to_string()),
    }
}

/// One account the target would write to.
async fn sample_account(
    target: &Ds389Target,
    session: &mut Session,
) -> Result<Option<String>, String> {
    let filter = target.template.object_class_filter();
    match session
        .search(&target.base_dn, target.scope(), &filter, &["1.1"], 1)
        .await
    {
        Ok(found) => Ok(found.entries.into_iter().next().map(|e| e.dn)),
        Err(f) => Err(format!("looking for a sample account: {f}")),
    }
}

async fn rights_check(session: &mut Session, dn: &str, bind_dn: &str) -> HealthCheck {
    let wanted = ["userPassword", "passwordRetryCount", "accountUnlockTime"];
    match ds389::effective_rights(session, dn, bind_dn, &wanted).await {
        Ok(rights) => {
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|a| {
                    !rights
                        .get(&a.to_ascii_lowercase())
                        .is_some_and(|r| r.contains('w'))
                })
                .collect();
            if missing.is_empty() {
                HealthCheck::pass(
                    ACI,
                    format!("{bind_dn} may write userPassword, passwordRetryCount and accountUnlockTime on {dn}"),
                )
            } else {
                HealthCheck::fail(
                    ACI,
                    format!(
                        "{bind_dn} may not write {} on {dn} (resets need userPassword, unlocks the \
                         other two): add an ACI such as (targetattr=\"userPassword || \
                         passwordRetryCount || accountUnlockTime\")(version 3.0; acl \"writeback\"; \
                         allow (write) userdn=\"ldap:///{bind_dn}\";) on the base DN (docs/389ds.md)",
                        missing.join(", ")
                    ),
                )
            }
        }
        Err(f) => HealthCheck::fail(ACI, format!("reading the effective rights on {dn}: {f}")),
    }
}

async fn policy_check(session: &mut Session, dn: &str) -> HealthCheck {
    match ds389::effective_policy(session, dn).await {
        Ok(policy) => HealthCheck::pass(POLICY, format!("{dn} is under {}", policy.describe())),
        Err(e @ PolicyReadError::Unreadable { .. }) => HealthCheck::pass(
            POLICY,
            format!("unknown for {dn}: {e}; resets asking for must-change are refused until it is readable"),
        ),
        Err(PolicyReadError::Directory(f)) => HealthCheck::fail(POLICY, f.to_string()),
    }
}
