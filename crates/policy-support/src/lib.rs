//! What the built-in policies share: the person's names (from the cloud identity and
//! the accounts the targets resolved), splitting them into tokens, and scoping a policy
//! to some targets.

use serde::Deserialize;
use writeback_core::PolicyContext;

/// The delimiters Active Directory splits a display name on (commas, periods, hyphens,
/// underscores, spaces, pound signs and tabs), as Microsoft documents for passfilt.
pub const AD_DELIMITERS: [char; 7] = [',', '.', '-', '_', ' ', '\t', '#'];

/// The person's account names: the identity's `username` and the local part of its
/// `upn`, and each account's `uid` and `sAMAccountName`. Deduplicated, lower-cased.
pub fn account_names(ctx: &PolicyContext<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(u) = ctx.identity.get("username") {
        out.push(u.to_string());
    }
    if let Some(upn) = ctx.identity.get("upn") {
        out.push(upn.split('@').next().unwrap_or(upn).to_string());
    }
    out.extend(attribute_values(ctx, &["uid", "samaccountname"]));
    dedup_lower(out)
}

/// The `sAMAccountName` values only (what AD's own check uses), falling back to
/// [`account_names`] when no target read that attribute.
pub fn sam_account_names(ctx: &PolicyContext<'_>) -> Vec<String> {
    let sam = dedup_lower(attribute_values(ctx, &["samaccountname"]).collect());
    if sam.is_empty() {
        account_names(ctx)
    } else {
        sam
    }
}

/// The person's full names: the identity's `display_name`, `given_name`, `surname` and
/// each account's `displayName`, `cn`, `givenName`, `sn`. Lower-cased, deduplicated.
pub fn full_names(ctx: &PolicyContext<'_>) -> Vec<String> {
    let mut out: Vec<String> = ["display_name", "given_name", "surname"]
        .iter()
        .filter_map(|k| ctx.identity.get(k).map(str::to_string))
        .collect();
    out.extend(attribute_values(
        ctx,
        &["displayname", "cn", "givenname", "sn"],
    ));
    dedup_lower(out)
}

/// The display names only (what AD's own check uses): the accounts' `displayName` and
/// the identity's `display_name`.
pub fn display_names(ctx: &PolicyContext<'_>) -> Vec<String> {
    let mut out: Vec<String> = ctx
        .identity
        .get("display_name")
        .map(str::to_string)
        .into_iter()
        .collect();
    out.extend(attribute_values(ctx, &["displayname"]));
    dedup_lower(out)
}

fn attribute_values<'a>(
    ctx: &'a PolicyContext<'_>,
    names: &'a [&'a str],
) -> impl Iterator<Item = String> + 'a {
    ctx.accounts.iter().flat_map(move |(_, account)| {
        names
            .iter()
            .flat_map(move |n| account.attributes.get(*n).into_iter().flatten().cloned())
    })
}

fn dedup_lower(values: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = values
        .into_iter()
        .map(|v| v.trim().to_lowercase())
        .filter(|v| !v.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Splits names on `delimiters`, keeping tokens of at least `min_chars` characters,
/// lower-cased and deduplicated.
pub fn tokens(names: &[String], delimiters: &[char], min_chars: usize) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .flat_map(|n| n.split(|c| delimiters.contains(&c)))
        .map(str::to_lowercase)
        .filter(|t| t.chars().count() >= min_chars)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The `targets` key every built-in policy accepts: when not empty, the policy judges
/// only requests whose identity resolved in one of these targets (by target name), so
/// each directory can have its own lists and rules.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct TargetScope(pub Vec<String>);

impl TargetScope {
    pub fn applies(&self, ctx: &PolicyContext<'_>) -> bool {
        self.0.is_empty()
            || ctx
                .accounts
                .iter()
                .any(|(name, _)| self.0.iter().any(|t| t == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use writeback_core::{Account, CloudIdentity};

    fn account(attrs: &[(&str, &str)]) -> Account {
        let mut attributes = BTreeMap::new();
        for (k, v) in attrs {
            attributes.insert(k.to_string(), vec![v.to_string()]);
        }
        Account {
            dn: "cn=x".into(),
            id: None,
            attributes,
        }
    }

    #[test]
    fn names_come_from_identity_and_accounts() {
        let identity = CloudIdentity {
            upn: Some("Erin.Hagens@example.org".into()),
            display_name: Some("Erin M. Hagens".into()),
            ..Default::default()
        };
        let accounts = vec![(
            "ad".to_string(),
            account(&[
                ("samaccountname", "ehagens"),
                ("displayname", "Hagens, Erin"),
            ]),
        )];
        let ctx = PolicyContext {
            operation: writeback_core::OperationKind::Reset,
            identity: &identity,
            accounts: &accounts,
        };
        assert_eq!(account_names(&ctx), vec!["ehagens", "erin.hagens"]);
        assert_eq!(sam_account_names(&ctx), vec!["ehagens"]);
        let t = tokens(&display_names(&ctx), &AD_DELIMITERS, 3);
        assert_eq!(t, vec!["erin", "hagens"]);
        assert!(TargetScope(vec!["ad".into()]).applies(&ctx));
        assert!(!TargetScope(vec!["ldap".into()]).applies(&ctx));
        assert!(TargetScope::default().applies(&ctx));
    }
}
