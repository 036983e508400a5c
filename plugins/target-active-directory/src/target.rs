//! The `active-directory` target: resolve, reset/change/unlock via `unicodePwd`,
//! protected-account refusal, and search for sources that list users.

use std::collections::HashSet;

use async_trait::async_trait;
use tokio::sync::OnceCell;
use writeback_core::{
    Account, CloudIdentity, DirectoryTarget, HealthCheck, Operation, Outcome, OutcomeCode,
};
use writeback_ldap::escape::filter_value;
use writeback_ldap::ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use writeback_ldap::ldap3::controls::RawControl;
use writeback_ldap::ldap3::{LdapError, Mod, Scope, SearchEntry};
use writeback_ldap::{LdapFailure, Pool, Pooled, WipedBytes};

use crate::account::{self, ATTRIBUTES};
use crate::config::{AdConfig, PolicyHints, Protected};
use crate::errors::{self, Right};
use crate::matching::{match_filter, AdAttribute, MatchError};
use crate::protected::Privileged;
use crate::rootdse::RootDse;
use crate::selftest;

pub struct ActiveDirectoryTarget {
    name: String,
    config: AdConfig,
    pool: Pool,
    privileged: OnceCell<Privileged>,
    root: OnceCell<RootDse>,
}

impl ActiveDirectoryTarget {
    /// `pool` is bound as the service account (see [`writeback_ldap::ServerConfig::open`]).
    pub fn new(name: String, config: AdConfig, pool: Pool) -> Self {
        ActiveDirectoryTarget {
            name,
            config,
            pool,
            privileged: OnceCell::new(),
            root: OnceCell::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &AdConfig {
        &self.config
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A pooled connection bound as the service account; a refused bind says why.
    async fn session(&self) -> Result<Pooled<'_>, Outcome> {
        self.pool
            .get()
            .await
            .map_err(|f| errors::service_bind_outcome(&f, &self.config.server.bind_dn))
    }

    /// The rootDSE, read once (a failure is not cached).
    pub async fn root_dse(&self) -> Result<&RootDse, Outcome> {
        self.root
            .get_or_try_init(|| async {
                let mut session = self.session().await?;
                RootDse::read(&mut session)
                    .await
                    .map_err(|f| f.to_outcome())
            })
            .await
    }

    async fn privileged(&self) -> Result<&Privileged, Outcome> {
        self.privileged
            .get_or_try_init(|| async {
                let mut session = self.session().await?;
                Privileged::discover(&mut session, &self.config.base_dn)
                    .await
                    .map_err(|f| f.to_outcome())
            })
            .await
    }

    /// Refuses protected accounts unless the config allows them.
    async fn guard_protected(&self, account: &Account) -> Result<(), Outcome> {
        if self.config.protected_accounts == Protected::Allow {
            return Ok(());
        }
        let privileged = self.privileged().await?;
        let mut session = self.session().await?;
        let reason = privileged
            .check(&mut session, &account.dn)
            .await
            .map_err(|f| f.to_outcome())?;
        match reason {
            None => Ok(()),
            Some(why) => Err(Outcome::new(
                OutcomeCode::AdminActionRequired,
                "This account is a protected (administrative) account; its password cannot be \
                 changed through self-service. Ask the help desk.",
            )
            .with_admin_detail(format!(
                "target `{}` refused {}: {why}. Protected accounts are refused by default \
                 (`protected_accounts = \"refuse\"`); manage them in AD directly",
                self.name, account.dn
            ))),
        }
    }

    async fn hint_controls(&self) -> Result<Vec<RawControl>, Outcome> {
        if self.config.policy_hints == PolicyHints::Never {
            return Ok(Vec::new());
        }
        let Some(oid) = self.root_dse().await?.policy_hints_oid() else {
            return Ok(Vec::new());
        };
        // PolicyHintsRequestValue ::= SEQUENCE { Flags INTEGER } with flags = 1: enforce
        // password history on this reset. Critical: the DC listed it as supported.
        Ok(vec![RawControl {
            ctype: oid.to_string(),
            crit: true,
            val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x01]),
        }])
    }

    /// The modifications and the rights they need. Every value is `WipedBytes` (one type
    /// for the whole list): the password values are wiped when the session drops them.
    fn plan(&self, operation: &Operation) -> (Vec<Mod<WipedBytes>>, Vec<Right>) {
        let bytes = WipedBytes::copy_of;
        let one = |v: &str| HashSet::from([bytes(v.as_bytes())]);
        let lockout = || Mod::Replace(bytes(b"lockoutTime"), one("0"));
        match operation {
            Operation::Reset {
                new_password,
                must_change,
            } => {
                let mut mods = vec![Mod::Replace(
                    bytes(b"unicodePwd"),
                    HashSet::from([unicode_pwd(new_password.expose()).into()]),
                )];
                let mut rights = vec![Right::ResetPassword];
                if *must_change {
                    mods.push(Mod::Replace(bytes(b"pwdLastSet"), one("0")));
                    rights.push(Right::WritePwdLastSet);
                }
                if self.config.unlock_on_reset {
                    mods.push(lockout());
                    rights.push(Right::WriteLockoutTime);
                }
                (mods, rights)
            }
            Operation::Change {
                old_password,
                new_password,
            } => (
                vec![
                    Mod::Delete(
                        bytes(b"unicodePwd"),
                        HashSet::from([unicode_pwd(old_password.expose()).into()]),
                    ),
                    Mod::Add(
                        bytes(b"unicodePwd"),
                        HashSet::from([unicode_pwd(new_password.expose()).into()]),
                    ),
                ],
                vec![Right::ChangePassword],
            ),
            Operation::Unlock => (vec![lockout()], vec![Right::WriteLockoutTime]),
        }
    }

    fn attribute_for_search(name: &str) -> Option<AdAttribute> {
        Some(match name {
            "upn" => AdAttribute::UserPrincipalName,
            "mail" => AdAttribute::Mail,
            "username" => AdAttribute::SamAccountName,
            "immutable_id" => AdAttribute::ObjectGuid,
            _ => return None,
        })
    }
}

/// Of the rights a multi-part write needed, the ones AD's answer points at: an
/// attribute write refusal (00002098) is about lockoutTime/pwdLastSet; a refusal of
/// the password itself is about Reset Password.
fn narrow(rights: &[Right], failure: &LdapFailure) -> Vec<Right> {
    let Some(reply) = failure.reply() else {
        return rights.to_vec();
    };
    let is_property = |r: &Right| matches!(r, Right::WriteLockoutTime | Right::WritePwdLastSet);
    let narrowed: Vec<Right> = if errors::extended_error(&reply.text) == Some(0x2098) {
        rights.iter().copied().filter(is_property).collect()
    } else {
        rights.iter().copied().filter(|r| !is_property(r)).collect()
    };
    if narrowed.is_empty() {
        rights.to_vec()
    } else {
        narrowed
    }
}

#[async_trait]
impl DirectoryTarget for ActiveDirectoryTarget {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        let (filter, how) = match match_filter(&self.config.match_rules, identity) {
            Ok(found) => found,
            Err(MatchError::NoValue(names)) => {
                return Err(
                    Outcome::of(OutcomeCode::NotFound).with_admin_detail(format!(
                        "target `{}` matches accounts by {}; the request carries none of them",
                        self.name,
                        names.join(", ")
                    )),
                )
            }
            Err(MatchError::BadValue { attribute, why }) => {
                return Err(Outcome::new(
                    OutcomeCode::InvalidRequest,
                    format!("The request's {attribute} cannot identify an account: it {why}."),
                ))
            }
        };
        let full = format!("(&{}{filter})", self.config.user_filter);
        let mut session = self.session().await?;
        let found = session
            .search(&self.config.base_dn, Scope::Subtree, &full, ATTRIBUTES, 2)
            .await
            .map_err(|f| f.to_outcome())?;
        if found.truncated || found.entries.len() > 1 {
            let dns: Vec<&str> = found.entries.iter().map(|e| e.dn.as_str()).collect();
            return Err(
                Outcome::of(OutcomeCode::AmbiguousIdentity).with_admin_detail(format!(
                    "target `{}`: several accounts match {how} under {} ({}); nothing was written",
                    self.name,
                    self.config.base_dn,
                    dns.join("; ")
                )),
            );
        }
        match found.entries.into_iter().next() {
            Some(entry) => Ok(account::from_entry(entry)),
            None => Err(
                Outcome::of(OutcomeCode::NotFound).with_admin_detail(format!(
                    "target `{}`: no account matches {how} under {}",
                    self.name, self.config.base_dn
                )),
            ),
        }
    }

    async fn apply(&self, account: &Account, operation: &Operation) -> Result<(), Outcome> {
        self.guard_protected(account).await?;
        let controls = match operation {
            Operation::Reset { .. } => self.hint_controls().await?,
            _ => Vec::new(),
        };
        let (mods, rights) = self.plan(operation);
        let mut session = self.session().await?;
        match session.modify(&account.dn, mods, controls).await {
            Ok(_) => {
                drop(session);
                self.verify_write(account, operation).await
            }
            Err(failure) => {
                let rights = narrow(&rights, &failure);
                Err(errors::write_outcome(
                    &failure,
                    &account.dn,
                    &rights,
                    &self.config.server.bind_dn,
                ))
            }
        }
    }

    async fn password_expiries(
        &self,
        within: std::time::Duration,
    ) -> Result<Vec<(Account, std::time::SystemTime)>, Outcome> {
        crate::expiry::password_expiries(self, within).await
    }

    async fn doctor(
        &self,
        options: &writeback_core::DoctorOptions,
    ) -> Vec<writeback_core::Finding> {
        crate::doctor::run(self, options).await
    }

    async fn self_test(&self) -> Vec<HealthCheck> {
        selftest::run(self).await
    }

    async fn search(
        &self,
        query: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Account>, Outcome> {
        let filter = match query {
            None => self.config.user_filter.clone(),
            Some((name, value)) => {
                let attribute = Self::attribute_for_search(name);
                let part = match attribute {
                    Some(a) => a.filter(value).map_err(|why| {
                        Outcome::new(
                            OutcomeCode::InvalidRequest,
                            format!("The {name} value {why}."),
                        )
                    })?,
                    None => match name {
                        "display_name" => format!("(displayName={})", filter_value(value)),
                        "given_name" => format!("(givenName={})", filter_value(value)),
                        "surname" => format!("(sn={})", filter_value(value)),
                        other => {
                            return Err(Outcome::new(
                                OutcomeCode::InvalidRequest,
                                format!(
                                "Accounts cannot be looked up by `{other}` in Active Directory."
                            ),
                            ))
                        }
                    },
                };
                format!("(&{}{part})", self.config.user_filter)
            }
        };
        self.paged_search(&filter, limit.max(1)).await
    }
}

impl ActiveDirectoryTarget {
    /// A subtree search in pages of 500 (AD returns at most MaxPageSize = 1000 entries
    /// to a search without paging), stopping at `limit` entries.
    async fn paged_search(&self, filter: &str, limit: usize) -> Result<Vec<Account>, Outcome> {
        let mut session = self.session().await?;
        let server = session.server().to_string();
        let timeout = self.config.server.timeout(&crate::config::RULES);
        let failed = |e: LdapError| {
            LdapFailure::Transport {
                server: server.clone(),
                detail: format!("search: {e}"),
            }
            .to_outcome()
        };
        let result = tokio::time::timeout(timeout * 6, async {
            let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
                Box::new(EntriesOnly::new()),
                Box::new(PagedResults::new(500)),
            ];
            let mut stream = session
                .ldap()
                .streaming_search_with(
                    adapters,
                    &self.config.base_dn,
                    Scope::Subtree,
                    filter,
                    ATTRIBUTES.to_vec(),
                )
                .await
                .map_err(failed)?;
            let mut accounts = Vec::new();
            while let Some(entry) = stream.next().await.map_err(failed)? {
                accounts.push(account::from_entry(SearchEntry::construct(entry)));
                if accounts.len() >= limit {
                    break;
                }
            }
            // Stopping early leaves the rest of the search on the wire: that connection
            // is not reused (`complete` false marks it broken below).
            let complete = accounts.len() < limit;
            if complete {
                stream.finish().await.success().map_err(failed)?;
            }
            Ok((accounts, complete))
        })
        .await;
        match result {
            Ok(Ok((accounts, complete))) => {
                if !complete {
                    session.mark_broken();
                }
                Ok(accounts)
            }
            Ok(Err(outcome)) => {
                session.mark_broken();
                Err(outcome)
            }
            Err(_) => {
                session.mark_broken();
                Err(
                    Outcome::of(OutcomeCode::DirectoryUnavailable).with_admin_detail(format!(
                        "{server}: listing accounts took longer than {} ms",
                        timeout.as_millis() * 6
                    )),
                )
            }
        }
    }
}

/// `"password"` (quotes included) in UTF-16LE, as AD wants `unicodePwd`. Characters
/// outside the BMP become surrogate pairs. Wiped when dropped; the capacity is enough
/// for any input (at most two UTF-16 bytes per UTF-8 byte), so it never reallocates and
/// leaves no copy behind.
pub fn unicode_pwd(password: &str) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(2 * password.len() + 4));
    let mut buf = [0u16; 2];
    for c in std::iter::once('"')
        .chain(password.chars())
        .chain(std::iter::once('"'))
    {
        for unit in c.encode_utf16(&mut buf).iter() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
    }
    zeroize::Zeroize::zeroize(&mut buf);
    out
}
