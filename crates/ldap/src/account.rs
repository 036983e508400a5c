//! From search results to the one account a request is about, the same way for every
//! LDAP target: an entry as an [`Account`] (its unique id attribute apart, the other
//! attribute names lower-cased), the filter filled from the identity, and "exactly one
//! entry, or the outcome that says why not".

use std::collections::BTreeMap;

use ldap3::SearchEntry;
use writeback_core::{Account, CloudIdentity, Outcome, OutcomeCode};

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
