//! From search results to the one account a request is about, the same way for every
//! LDAP target: an entry as an [`Account`] (its unique id attribute apart, the other
//! attribute names lower-cased), the filter filled from the identity, and "exactly one
//! entry, or the outcome that says why not".

use std::collections::BTreeMap;

use ldap3::{Scope, SearchEntry};
use writeback_core::{Account, CloudIdentity, ConfigError, ConnectorConfig, Outcome, OutcomeCode};

use crate::error::LdapFailure;
use crate::pool::Pool;
use crate::template::FilterTemplate;

/// An account from a search entry; `id_attribute` (lower-case: `entryuuid`,
/// `nsuniqueid`) becomes its id.
pub fn account_of(entry: SearchEntry, id_attribute: &str) -> Account {
    let mut attributes = BTreeMap::new();
    let mut id = None;
    for (name, values) in entry.attrs {
        let key = name.to_ascii_lowercase();
        if key == id_attribute {
            id = values.first().cloned();
        } else {
            attributes.insert(key, values);
        }
    }
    Account {
        dn: entry.dn,
        id,
        attributes,
    }
}

/// The search filter for `identity`, or `not_found` naming the identifier it lacks.
pub fn fill_filter(template: &FilterTemplate, identity: &CloudIdentity) -> Result<String, Outcome> {
    template.fill(identity).map_err(|missing| {
        Outcome::of(OutcomeCode::NotFound).with_admin_detail(format!(
            "{missing} ({template}); nothing was searched or written"
        ))
    })
}

/// The one account a search for `filter` under `base_dn` found (asked for at most two),
/// or `not_found` / `ambiguous_identity` naming the server and what matched.
pub fn exactly_one(
    server: &str,
    base_dn: &str,
    filter: &str,
    mut accounts: Vec<Account>,
    truncated: bool,
) -> Result<Account, Outcome> {
    match (accounts.len(), truncated) {
        (1, false) => Ok(accounts.remove(0)),
        (0, false) => Err(
            Outcome::of(OutcomeCode::NotFound).with_admin_detail(format!(
                "{server}: no entry under `{base_dn}` matches {filter}"
            )),
        ),
        _ => {
            let dns: Vec<&str> = accounts.iter().map(|a| a.dn.as_str()).collect();
            Err(
                Outcome::of(OutcomeCode::AmbiguousIdentity).with_admin_detail(format!(
                    "{server}: {filter} matches more than one entry ({}); nothing was written",
                    dns.join("; ")
                )),
            )
        }
    }
}

/// Where and how a target looks for accounts.
pub struct Search<'a> {
    pub base_dn: &'a str,
    pub scope: Scope,
    /// The attributes an account carries back (its id attribute among them).
    pub attributes: &'a [&'a str],
    /// Lower-case name of the attribute that becomes [`Account::id`].
    pub id_attribute: &'a str,
}

/// Searches with a pooled connection, at most `limit` entries, and whether there were
/// more. A read is safe to repeat, so a connection that turns out dead (the directory
/// restarted) gets one retry on a fresh one. A missing base DN is a config problem
/// (`admin_action_required`), other failures their own outcome.
pub async fn find(
    pool: &Pool,
    search: &Search<'_>,
    filter: &str,
    limit: usize,
) -> Result<(Vec<Account>, bool), Outcome> {
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let mut retried = false;
    loop {
        let mut session = pool.get().await.map_err(|f| f.to_outcome())?;
        match session
            .search(
                search.base_dn,
                search.scope,
                filter,
                search.attributes,
                limit,
            )
            .await
        {
            Ok(found) => {
                let accounts = found
                    .entries
                    .into_iter()
                    .map(|e| account_of(e, search.id_attribute))
                    .collect();
                return Ok((accounts, found.truncated));
            }
            Err(f @ LdapFailure::Transport { .. }) if !retried => {
                tracing::debug!(error = %f, "retrying a search on a fresh connection");
                retried = true;
            }
            Err(f) if f.result_code() == Some(32) => {
                return Err(
                    Outcome::of(OutcomeCode::AdminActionRequired).with_admin_detail(format!(
                        "{f} — base_dn `{}` does not exist",
                        search.base_dn
                    )),
                )
            }
            Err(f) => return Err(f.to_outcome()),
        }
    }
}

/// The filter for a source's account lookup (`query` = attribute and value, as SCIM's
/// `userName eq "…"` asks) within the accounts `template` can match; `None` lists them.
/// `attribute_map` maps the source's attribute names (lower-case) to the directory's.
pub fn query_filter(
    template: &FilterTemplate,
    attribute_map: &std::collections::BTreeMap<String, String>,
    query: Option<(&str, &str)>,
) -> Result<String, Outcome> {
    let scope_filter = template.object_class_filter();
    let Some((attribute, value)) = query else {
        return Ok(scope_filter);
    };
    let Some(ldap_attribute) = attribute_map.get(&attribute.to_ascii_lowercase()) else {
        let known: Vec<&str> = attribute_map.keys().map(String::as_str).collect();
        return Err(Outcome::new(
            OutcomeCode::InvalidRequest,
            format!(
                "Accounts cannot be searched by `{attribute}` (known: {}).",
                known.join(", ")
            ),
        ));
    };
    Ok(format!(
        "(&{scope_filter}({ldap_attribute}={}))",
        crate::escape::filter_value(value)
    ))
}

/// A target's map from the sources' attribute names to the directory's, keys
/// lower-case: `upn` and `username` → `uid`, `mail` → `mail`, `object_id` → the
/// directory's unique id attribute, then the operator's `overrides`.
pub fn attribute_map(
    object_id_attribute: &str,
    overrides: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    let mut map: std::collections::BTreeMap<String, String> = [
        ("upn", "uid"),
        ("username", "uid"),
        ("mail", "mail"),
        ("object_id", object_id_attribute),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        map.insert(k.to_ascii_lowercase(), v.clone());
    }
    map
}

/// The account query keys an LDAP target's table has — `filter` (a template),
/// `base_dn` (a DN) and `attribute_map` (LDAP attribute names) — checked without I/O,
/// each problem with its key.
pub fn check_query(
    config: &ConnectorConfig,
    filter: &str,
    base_dn: &str,
    attribute_map: &BTreeMap<String, String>,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    if let Err(e) = FilterTemplate::parse(filter) {
        errors.push(config.error("filter", e.to_string()));
    }
    if !matches!(crate::dn::parse(base_dn), Ok(rdns) if !rdns.is_empty()) {
        errors.push(config.error(
            "base_dn",
            "give a distinguished name, e.g. `ou=people,dc=example,dc=org`",
        ));
    }
    for (cloud, ldap) in attribute_map {
        let ok = !ldap.is_empty()
            && ldap
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';');
        if !ok {
            errors.push(config.error(
                &format!("attribute_map.{cloud}"),
                "must be an LDAP attribute name (letters, digits, `-`)",
            ));
        }
    }
    errors
}
