//! Reading accounts from the configured directory target for `/Users`.

use std::collections::HashSet;
use std::sync::Arc;

use writeback_core::{Account, CloudIdentity, DirectoryTarget, Outcome, OutcomeCode};

use crate::config::AttributeMap;
use crate::error::ScimError;
use crate::filter::{Attribute, Filter};
use crate::resource;

pub struct Directory {
    pub target: Arc<dyn DirectoryTarget>,
    pub map: AttributeMap,
    pub max_listed: usize,
}

impl Directory {
    /// The account whose stable id is `id`, if any.
    pub async fn by_id(&self, id: &str) -> Result<Option<Account>, ScimError> {
        let found = self
            .target
            .search(Some((&self.map.id_identity, id)), 2)
            .await
            .map_err(search_error)?;
        Ok(found.into_iter().find(|a| a.id.as_deref() == Some(id)))
    }

    /// Every account matching `filter` (all accounts in scope without one), in a stable
    /// order, so that pages do not overlap.
    pub async fn query(&self, filter: Option<&Filter>) -> Result<Vec<Account>, ScimError> {
        let mut accounts = Vec::new();
        match filter {
            None => accounts = self.search(None).await?,
            Some(filter) => {
                for (attribute, value) in filter.candidate_queries() {
                    // An attribute not mapped to the directory has no values: no match.
                    let Some(identity) = self.identity_name(attribute) else {
                        continue;
                    };
                    accounts.extend(self.search(Some((identity, &value))).await?);
                }
            }
        }
        let mut seen = HashSet::new();
        accounts.retain(|a| match &a.id {
            Some(id) => seen.insert(id.clone()),
            None => {
                tracing::warn!(dn = %a.dn, "account without a stable id (entryUUID/objectGUID) left out of SCIM /Users");
                false
            }
        });
        if let Some(filter) = filter {
            accounts.retain(|a| filter.matches(&|attr| resource::values(&self.map, a, attr)));
        }
        let key = |a: &Account| {
            (
                resource::values(&self.map, a, Attribute::UserName)
                    .first()
                    .map(|s| s.to_lowercase()),
                a.id.clone(),
            )
        };
        accounts.sort_by_cached_key(key);
        Ok(accounts)
    }

    async fn search(&self, query: Option<(&str, &str)>) -> Result<Vec<Account>, ScimError> {
        self.target
            .search(query, self.max_listed)
            .await
            .map_err(search_error)
    }

    fn identity_name(&self, attribute: Attribute) -> Option<&str> {
        match attribute {
            Attribute::Id => Some(&self.map.id_identity),
            Attribute::UserName => Some(&self.map.user_name.identity),
            Attribute::ExternalId => self.map.external_id.as_ref().map(|m| m.identity.as_str()),
            Attribute::EmailValue => self.map.email.as_ref().map(|m| m.identity.as_str()),
        }
    }

    /// The cloud identity a password request for `account` carries: every mapped
    /// attribute, so the target's matching rule finds the same entry whatever it uses.
    pub fn identity_of(&self, account: &Account, id: &str) -> CloudIdentity {
        let mut identity = CloudIdentity::default();
        set_identity(&mut identity, &self.map.id_identity, id);
        for attribute in [
            Attribute::ExternalId,
            Attribute::EmailValue,
            Attribute::UserName,
        ] {
            if let (Some(name), Some(value)) = (
                self.identity_name(attribute),
                resource::values(&self.map, account, attribute)
                    .into_iter()
                    .next(),
            ) {
                set_identity(&mut identity, name, &value);
            }
        }
        identity
    }
}

/// A search the target cannot run (`invalid_request`: it does not know the attribute) is
/// a mismatch between this source's `attributes` and the target's mapping, not the
/// client's fault.
fn search_error(outcome: Outcome) -> ScimError {
    if outcome.code == OutcomeCode::InvalidRequest {
        tracing::error!(message = %outcome.message, "SCIM /Users: the directory target refused the search");
        return ScimError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            None,
            format!(
                "The directory target cannot run this search ({}). An administrator must align the SCIM \
                 source's `attributes` with the target's attribute mapping.",
                outcome.message
            ),
        );
    }
    ScimError::from_outcome(&outcome)
}

fn set_identity(identity: &mut CloudIdentity, name: &str, value: &str) {
    let value = Some(value.to_string());
    match name {
        "upn" => identity.upn = value,
        "object_id" => identity.object_id = value,
        "immutable_id" => identity.immutable_id = value,
        "mail" => identity.mail = value,
        "username" => identity.username = value,
        "display_name" => identity.display_name = value,
        "given_name" => identity.given_name = value,
        "surname" => identity.surname = value,
        other => {
            if let Some(v) = value {
                identity.extra.insert(other.to_string(), v);
            }
        }
    }
}
