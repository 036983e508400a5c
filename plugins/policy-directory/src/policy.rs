//! The checks: length, AD complexity, minimum age — each with its own rule id and a
//! message that says what to do.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use writeback_core::{
    OperationKind, Outcome, OutcomeCode, Password, Policy, PolicyContext, RuleViolation,
};

use crate::complexity;
use crate::effective::{human, HUNDRED_NS_PER_SECOND};
use crate::reader::{AccountFacts, PolicyReader};

/// FILETIME of 1970-01-01.
const UNIX_EPOCH_FILETIME: u64 = 116_444_736_000_000_000;

pub struct DirectoryPolicy {
    pub(crate) name: String,
    pub(crate) target: Option<String>,
    pub(crate) check_min_age: bool,
    pub(crate) reader: PolicyReader,
}

pub(crate) fn now_filetime() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UNIX_EPOCH_FILETIME
        + since.as_secs() * HUNDRED_NS_PER_SECOND
        + u64::from(since.subsec_nanos() / 100)
}

/// Every rule `password` breaks under `facts`, at time `now` (FILETIME).
pub fn judge(
    password: &str,
    facts: &AccountFacts,
    check_min_age: bool,
    now: u64,
) -> Vec<RuleViolation> {
    let policy = &facts.policy;
    let mut rules = Vec::new();
    // AD counts UTF-16 code units (a character outside the BMP counts twice).
    let length = password.encode_utf16().count();
    if length < policy.min_length as usize {
        rules.push(RuleViolation::new(
            "directory.min_length",
            format!(
                "The new password is too short: use at least {} characters.",
                policy.min_length
            ),
        ));
    }
    if policy.complexity {
        if complexity::categories(password) < 3 {
            rules.push(RuleViolation::new(
                "directory.complexity",
                "The new password is not complex enough: use characters from at least three of \
                 capital letters, small letters, digits and symbols.",
            ));
        }
        let has_account_name = facts
            .account_name
            .as_deref()
            .is_some_and(|n| complexity::contains_account_name(password, n));
        let has_name_token = facts
            .display_name
            .as_deref()
            .is_some_and(|n| complexity::contains_name_token(password, n));
        if has_account_name || has_name_token {
            rules.push(RuleViolation::new(
                "directory.complexity.name",
                "The new password must not contain your account name or parts of your full name.",
            ));
        }
    }
    if check_min_age && policy.min_age > 0 {
        if let Some(last) = facts.pwd_last_set.filter(|t| *t > 0) {
            let allowed_at = last.saturating_add(policy.min_age);
            if now < allowed_at {
                rules.push(RuleViolation::new(
                    "directory.min_age",
                    format!(
                        "The password was changed too recently: it can be changed again in {} \
                         (the minimum password age is {}).",
                        human(allowed_at - now),
                        human(policy.min_age)
                    ),
                ));
            }
        }
    }
    rules
}

#[async_trait]
impl Policy for DirectoryPolicy {
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
            // Targets resolved the request, but not the one this policy judges for: the
            // config names a target that does not exist (or none, with several).
            let names: Vec<&str> = context.accounts.iter().map(|(t, _)| t.as_str()).collect();
            return Err(
                Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
                    "policy `{}` judges the account of target `{}`, but the targets are {}: set \
                 `target` to the name of the active-directory target",
                    self.name,
                    self.target.as_deref().unwrap_or("(not set)"),
                    names.join(", ")
                )),
            );
        };
        let facts = self.reader.account(&account.dn).await?;
        Ok(judge(
            password.expose(),
            &facts,
            // AD applies the minimum age to a person's own change, never to a reset.
            self.check_min_age && context.operation == OperationKind::Change,
            now_filetime(),
        ))
    }

    fn rule_ids(&self) -> Vec<String> {
        let mut ids = vec![
            "directory.min_length",
            "directory.complexity",
            "directory.complexity.name",
        ];
        if self.check_min_age {
            ids.push("directory.min_age");
        }
        ids.into_iter().map(String::from).collect()
    }
}
