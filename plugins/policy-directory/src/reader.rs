//! Reads policies from the DC and keeps them for `refresh_seconds`: the domain's once
//! per interval, each PSO once per interval, the user's `msDS-ResultantPSO` and
//! `pwdLastSet` on every request (they change with group membership and each write).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use writeback_core::{Outcome, OutcomeCode};
use writeback_ldap::ldap3::Scope;
use writeback_ldap::{LdapFailure, Pool};

use crate::effective::{EffectivePolicy, DOMAIN_ATTRIBUTES, PSO_ATTRIBUTES};

/// What the policy needs to know about one account.
#[derive(Clone, Debug)]
pub struct AccountFacts {
    pub policy: EffectivePolicy,
    /// FILETIME (100 ns since 1601) of the last password write; 0: must change.
    pub pwd_last_set: Option<u64>,
    pub account_name: Option<String>,
    pub display_name: Option<String>,
}

pub struct PolicyReader {
    pool: Pool,
    refresh: Duration,
    domain: Mutex<Option<(Instant, EffectivePolicy)>>,
    psos: Mutex<HashMap<String, (Instant, EffectivePolicy)>>,
}

fn unavailable(f: LdapFailure) -> Outcome {
    f.to_outcome()
}

fn unreadable(what: &str, why: String) -> Outcome {
    Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
        "the directory policy cannot read {what}: {why}. Grant the policy's bind account read \
         access (docs/active-directory.md, \"The directory policy\")"
    ))
}

impl PolicyReader {
    pub fn new(pool: Pool, refresh: Duration) -> Self {
        PolicyReader {
            pool,
            refresh,
            domain: Mutex::new(None),
            psos: Mutex::new(HashMap::new()),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The domain's policy (from the default naming context).
    pub async fn domain(&self) -> Result<EffectivePolicy, Outcome> {
        let mut cached = self.domain.lock().await;
        if let Some((at, policy)) = cached.as_ref() {
            if at.elapsed() < self.refresh {
                return Ok(policy.clone());
            }
        }
        let mut session = self.pool.get().await.map_err(unavailable)?;
        let naming_context = writeback_ldap::RootDse::read(&mut session)
            .await
            .map_err(unavailable)?
            .default_naming_context
            .ok_or_else(|| unreadable("the rootDSE", "no defaultNamingContext".into()))?;
        let found = session
            .search(
                &naming_context,
                Scope::Base,
                "(objectClass=*)",
                DOMAIN_ATTRIBUTES,
                0,
            )
            .await
            .map_err(unavailable)?;
        let attrs = found
            .entries
            .into_iter()
            .next()
            .map(|e| e.attrs)
            .unwrap_or_default();
        let policy =
            EffectivePolicy::from_domain(&attrs).map_err(|why| unreadable(&naming_context, why))?;
        *cached = Some((Instant::now(), policy.clone()));
        Ok(policy)
    }

    async fn pso(&self, dn: &str) -> Result<EffectivePolicy, Outcome> {
        if let Some((at, policy)) = self.psos.lock().await.get(dn) {
            if at.elapsed() < self.refresh {
                return Ok(policy.clone());
            }
        }
        let mut session = self.pool.get().await.map_err(unavailable)?;
        let found = session
            .search(dn, Scope::Base, "(objectClass=*)", PSO_ATTRIBUTES, 0)
            .await
            .map_err(unavailable)?;
        let attrs = found
            .entries
            .into_iter()
            .next()
            .map(|e| e.attrs)
            .unwrap_or_default();
        let policy = EffectivePolicy::from_pso(dn, &attrs).map_err(|why| unreadable(dn, why))?;
        self.psos
            .lock()
            .await
            .insert(dn.to_string(), (Instant::now(), policy.clone()));
        Ok(policy)
    }

    /// The account's effective policy and the facts the checks need.
    pub async fn account(&self, dn: &str) -> Result<AccountFacts, Outcome> {
        let found = {
            let mut session = self.pool.get().await.map_err(unavailable)?;
            session
                .search(
                    dn,
                    Scope::Base,
                    "(objectClass=*)",
                    &[
                        "msDS-ResultantPSO",
                        "pwdLastSet",
                        "sAMAccountName",
                        "displayName",
                    ],
                    0,
                )
                .await
                .map_err(unavailable)?
        };
        let attrs = found
            .entries
            .into_iter()
            .next()
            .map(|e| e.attrs)
            .unwrap_or_default();
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first())
                .cloned()
        };
        let policy = match get("msDS-ResultantPSO") {
            Some(pso) => self.pso(&pso).await?,
            None => self.domain().await?,
        };
        Ok(AccountFacts {
            policy,
            pwd_last_set: get("pwdLastSet").and_then(|v| v.parse().ok()),
            account_name: get("sAMAccountName"),
            display_name: get("displayName"),
        })
    }
}
