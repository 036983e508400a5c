//! Policy `directory-389ds`: the password policy 389 Directory Server will apply to
//! the account — per-user or subtree (the entry's `pwdpolicysubentry`) or global
//! (`cn=config`) — read with `writeback_ldap::ds389` and checked before the write:
//! `directory.min_length`, `directory.min_digits`, `directory.min_alphas`,
//! `directory.min_uppers`, `directory.min_lowers`, `directory.min_specials`,
//! `directory.min_categories` (only where the policy has `passwordCheckSyntax` on, as
//! 389 DS does) and, for a person's own change, `directory.min_age` from the account's
//! `passwordAllowChangeTime`. Where the bound account may not read a policy, nothing is
//! pre-checked (logged once per request): the `389ds` target still maps the server's
//! own refusal. History cannot be pre-checked (389 DS keeps only hashes).

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use writeback_core::{
    BuildContext, ConfigError, ConnectorConfig, ConnectorFactory, OperationKind, Outcome,
    OutcomeCode, Password, Policy, PolicyContext, RuleViolation,
};
use writeback_ldap::ds389::{self, Ds389Policy, PolicyReadError};
use writeback_ldap::ldap3::Scope;
use writeback_ldap::{gentime, Pool};

use crate::config::{self, DirectoryPolicyConfig};

pub struct Ds389DirectoryPolicy {
    name: String,
    target: Option<String>,
    check_min_age: bool,
    pool: Pool,
}

/// What the checks need to know about one account.
#[derive(Clone, Debug)]
pub struct Ds389Facts {
    pub policy: Ds389Policy,
    /// `passwordAllowChangeTime`: a change before it is too young.
    pub allow_change_at: Option<SystemTime>,
}

/// Every rule `password` breaks under `facts` at `now`; `change` is a person's own.
pub fn judge(
    password: &str,
    facts: &Ds389Facts,
    change: bool,
    now: SystemTime,
) -> Vec<RuleViolation> {
    let p = &facts.policy;
    let mut rules = Vec::new();
    if p.check_syntax {
        let count = |f: fn(&char) -> bool| password.chars().filter(f).count();
        let digits = count(char::is_ascii_digit);
        let uppers = count(char::is_ascii_uppercase);
        let lowers = count(char::is_ascii_lowercase);
        let alphas = uppers + lowers;
        let eight_bit = count(|c| !c.is_ascii());
        let specials = count(|c| c.is_ascii() && !c.is_ascii_alphanumeric());
        let mut need = |rule: &str, have: usize, min: u32, what: &str| {
            if have < min as usize {
                rules.push(RuleViolation::new(
                    rule,
                    format!("The new password needs at least {min} {what}."),
                ));
            }
        };
        need(
            "directory.min_length",
            password.chars().count(),
            p.min_length,
            "characters",
        );
        need("directory.min_digits", digits, p.min_digits, "digits");
        need("directory.min_alphas", alphas, p.min_alphas, "letters");
        need(
            "directory.min_uppers",
            uppers,
            p.min_uppers,
            "capital letters",
        );
        need(
            "directory.min_lowers",
            lowers,
            p.min_lowers,
            "small letters",
        );
        need(
            "directory.min_specials",
            specials,
            p.min_specials,
            "symbols",
        );
        let categories = [digits, uppers, lowers, specials, eight_bit]
            .iter()
            .filter(|n| **n > 0)
            .count();
        need(
            "directory.min_categories",
            categories,
            p.min_categories,
            "kinds of characters (digits, capital letters, small letters, symbols, non-ASCII)",
        );
    }
    if change {
        if let Some(at) = facts.allow_change_at.filter(|at| *at > now) {
            let wait = at.duration_since(now).map(|d| d.as_secs()).unwrap_or(0);
            rules.push(RuleViolation::new(
                "directory.min_age",
                format!(
                    "The password was changed too recently: it can be changed again in about {} \
                     minutes.",
                    wait.div_ceil(60).max(1)
                ),
            ));
        }
    }
    rules
}

impl Ds389DirectoryPolicy {
    /// The facts for `dn`; `None` when its policy is not readable.
    pub async fn facts(&self, dn: &str) -> Result<Option<Ds389Facts>, Outcome> {
        let mut session = self.pool.get().await.map_err(|f| f.to_outcome())?;
        let policy = match ds389::effective_policy(&mut session, dn).await {
            Ok(p) => p,
            Err(PolicyReadError::Directory(f)) => return Err(f.to_outcome()),
            Err(e @ PolicyReadError::Unreadable { .. }) => {
                tracing::warn!(policy = %self.name, account = dn, reason = %e, "the 389 DS password policy is not readable: not pre-checked");
                return Ok(None);
            }
        };
        let allow_change_at = session
            .search(
                dn,
                Scope::Base,
                "(objectClass=*)",
                &["passwordAllowChangeTime"],
                0,
            )
            .await
            .map_err(|f| f.to_outcome())?
            .entries
            .first()
            .and_then(|e| {
                e.attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("passwordAllowChangeTime"))
                    .and_then(|(_, v)| v.first())
                    .and_then(|v| gentime::parse(v))
            });
        Ok(Some(Ds389Facts {
            policy,
            allow_change_at,
        }))
    }
}

#[async_trait]
impl Policy for Ds389DirectoryPolicy {
    async fn evaluate(
        &self,
        password: &Password,
        context: &PolicyContext<'_>,
    ) -> Result<Vec<RuleViolation>, Outcome> {
        let account = match &self.target {
            Some(name) => context.accounts.iter().find(|(t, _)| t == name),
            None if context.accounts.len() == 1 => context.accounts.first(),
            None => None,
        };
        let Some((_, account)) = account else {
            if context.accounts.is_empty() {
                return Ok(Vec::new());
            }
            let names: Vec<&str> = context.accounts.iter().map(|(t, _)| t.as_str()).collect();
            return Err(
                Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
                    "policy `{}` judges the account of target `{}`, but the targets are {}: set \
                     `target` to the name of the 389ds target",
                    self.name,
                    self.target.as_deref().unwrap_or("(not set)"),
                    names.join(", ")
                )),
            );
        };
        let Some(facts) = self.facts(&account.dn).await? else {
            return Ok(Vec::new());
        };
        Ok(judge(
            password.expose(),
            &facts,
            self.check_min_age && context.operation == OperationKind::Change,
            SystemTime::now(),
        ))
    }

    fn rule_ids(&self) -> Vec<String> {
        let mut ids = vec![
            "directory.min_length",
            "directory.min_digits",
            "directory.min_alphas",
            "directory.min_uppers",
            "directory.min_lowers",
            "directory.min_specials",
            "directory.min_categories",
        ];
        if self.check_min_age {
            ids.push("directory.min_age");
        }
        ids.into_iter().map(String::from).collect()
    }
}

/// Builds `type = "directory-389ds"` policies (the same keys as `directory`).
pub struct Ds389DirectoryPolicyFactory;

impl Ds389DirectoryPolicyFactory {
    pub const TYPE_NAME: &'static str = "directory-389ds";

    pub async fn build_policy(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Ds389DirectoryPolicy, ConfigError> {
        let parsed = DirectoryPolicyConfig::from_connector(config)?;
        let pool = parsed.server.open(&config::RULES, config, "", ctx)?.pool;
        Ok(Ds389DirectoryPolicy {
            name: config.name.clone(),
            target: parsed.target.clone(),
            check_min_age: parsed.check_min_age,
            pool,
        })
    }
}

#[async_trait]
impl ConnectorFactory<dyn Policy> for Ds389DirectoryPolicyFactory {
    fn type_name(&self) -> &'static str {
        Self::TYPE_NAME
    }

    fn description(&self) -> &'static str {
        "The password policy read from 389 Directory Server (global, subtree, per-user), checked before the write"
    }

    fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        DirectoryPolicyConfig::from_connector(config).map(|_| ())
    }

    async fn build(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Policy>, ConfigError> {
        Ok(Arc::new(self.build_policy(config, ctx).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use writeback_ldap::ds389::PolicySource;

    fn facts(check_syntax: bool, allow_change_at: Option<SystemTime>) -> Ds389Facts {
        Ds389Facts {
            policy: Ds389Policy {
                source: PolicySource::Global,
                must_change: false,
                check_syntax,
                min_length: 10,
                min_digits: 1,
                min_alphas: 0,
                min_uppers: 1,
                min_lowers: 0,
                min_specials: 1,
                min_categories: 3,
                history: 3,
                min_age_secs: 3600,
                max_age_secs: None,
                lockout_after: None,
            },
            allow_change_at,
        }
    }

    fn ids(rules: &[RuleViolation]) -> Vec<&str> {
        rules.iter().map(|r| r.rule.as_str()).collect()
    }

    #[test]
    fn each_rule_has_its_id_and_syntax_off_checks_none() {
        let now = SystemTime::now();
        assert!(judge("Qz7#Wx9$Rv2!", &facts(true, None), false, now).is_empty());
        assert_eq!(
            ids(&judge("qzwxrvtbnm", &facts(true, None), false, now)),
            [
                "directory.min_digits",
                "directory.min_uppers",
                "directory.min_specials",
                "directory.min_categories"
            ]
        );
        assert_eq!(
            ids(&judge("Qz7#Wx9", &facts(true, None), false, now)),
            ["directory.min_length"]
        );
        assert!(judge("short", &facts(false, None), false, now).is_empty());
        let later = Some(now + Duration::from_secs(1800));
        assert_eq!(
            ids(&judge("Qz7#Wx9$Rv2!", &facts(true, later), true, now)),
            ["directory.min_age"]
        );
        // A reset is never held to the minimum age.
        assert!(judge("Qz7#Wx9$Rv2!", &facts(true, later), false, now).is_empty());
    }
}
