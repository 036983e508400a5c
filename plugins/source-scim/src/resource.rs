//! A directory account as a SCIM User resource (RFC 7643 §4.1), and the
//! `attributes` / `excludedAttributes` projection (RFC 7644 §3.9).

use serde_json::{json, Map, Value};
use writeback_core::Account;

use crate::config::AttributeMap;
use crate::error::ScimError;
use crate::filter::Attribute;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const USER_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";

/// The values of a filterable attribute for an account.
pub fn values(map: &AttributeMap, account: &Account, attribute: Attribute) -> Vec<String> {
    match attribute {
        Attribute::Id => account.id.iter().cloned().collect(),
        Attribute::UserName => account
            .first(&map.user_name.directory)
            .map(str::to_string)
            .into_iter()
            .collect(),
        Attribute::ExternalId => map
            .external_id
            .as_ref()
            .and_then(|m| account.first(&m.directory))
            .map(str::to_string)
            .into_iter()
            .collect(),
        Attribute::EmailValue => map
            .email
            .as_ref()
            .and_then(|m| account.attributes.get(&m.directory))
            .cloned()
            .unwrap_or_default(),
    }
}

/// The User resource for an account with a stable id. `location_base` is the URL of
/// `/Users` (no trailing slash).
pub fn render(map: &AttributeMap, account: &Account, id: &str, location_base: &str) -> Value {
    let mut user = Map::new();
    user.insert("schemas".into(), json!([USER_SCHEMA]));
    user.insert("id".into(), json!(id));
    if let Some(v) = values(map, account, Attribute::ExternalId).first() {
        user.insert("externalId".into(), json!(v));
    }
    // userName is required by the schema; an entry without one still needs a name, and
    // its DN is the one the directory guarantees.
    let user_name = values(map, account, Attribute::UserName)
        .into_iter()
        .next()
        .unwrap_or_else(|| account.dn.clone());
    user.insert("userName".into(), json!(user_name));
    let mut name = Map::new();
    if let Some(v) = map.family_name.as_deref().and_then(|a| account.first(a)) {
        name.insert("familyName".into(), json!(v));
    }
    if let Some(v) = map.given_name.as_deref().and_then(|a| account.first(a)) {
        name.insert("givenName".into(), json!(v));
    }
    if !name.is_empty() {
        user.insert("name".into(), Value::Object(name));
    }
    if let Some(v) = map.display_name.as_deref().and_then(|a| account.first(a)) {
        user.insert("displayName".into(), json!(v));
    }
    let emails: Vec<Value> = values(map, account, Attribute::EmailValue)
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            if i == 0 {
                json!({ "value": v, "primary": true })
            } else {
                json!({ "value": v })
            }
        })
        .collect();
    if !emails.is_empty() {
        user.insert("emails".into(), Value::Array(emails));
    }
    // The entry exists in the directory: writeback does not model deprovisioning.
    user.insert("active".into(), json!(true));
    user.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "location": format!("{location_base}/{}", percent_encode_segment(id)),
        }),
    );
    Value::Object(user)
}

/// Escapes an id for a URL path segment (ids are usually UUIDs, but objectGUIDs may be
/// rendered as base64 with `/` and `+`).
pub fn percent_encode_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which attributes a response carries (RFC 7644 §3.9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Projection {
    #[default]
    Default,
    /// Only these (lower-case paths, `name` or `name.givenname`), plus `id` and `schemas`.
    Only(Vec<String>),
    /// The default set less these.
    Except(Vec<String>),
}

impl Projection {
    pub fn from_params(
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        match (
            attributes.filter(|s| !s.trim().is_empty()),
            excluded.filter(|s| !s.trim().is_empty()),
        ) {
            (Some(_), Some(_)) => Err(ScimError::invalid_syntax(
                "Give `attributes` or `excludedAttributes`, not both.",
            )),
            (Some(a), None) => Ok(Projection::Only(paths(a)?)),
            (None, Some(e)) => Ok(Projection::Except(paths(e)?)),
            (None, None) => Ok(Projection::Default),
        }
    }

    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(map) = resource else {
            return resource;
        };
        match self {
            Projection::Default => Value::Object(map),
            Projection::Only(paths) => {
                let mut out = Map::new();
                for (key, value) in map {
                    let lower = key.to_ascii_lowercase();
                    // `returned: always` attributes stay whatever was asked for.
                    if lower == "id" || lower == "schemas" || paths.contains(&lower) {
                        out.insert(key, value);
                        continue;
                    }
                    let prefix = format!("{lower}.");
                    let subs: Vec<&str> = paths
                        .iter()
                        .filter_map(|p| p.strip_prefix(&prefix))
                        .collect();
                    if !subs.is_empty() {
                        if let Some(v) = keep_sub_attributes(value, &subs) {
                            out.insert(key, v);
                        }
                    }
                }
                Value::Object(out)
            }
            Projection::Except(paths) => {
                let mut out = Map::new();
                for (key, value) in map {
                    let lower = key.to_ascii_lowercase();
                    if lower != "id" && lower != "schemas" && paths.contains(&lower) {
                        continue;
                    }
                    let prefix = format!("{lower}.");
                    let subs: Vec<&str> = paths
                        .iter()
                        .filter_map(|p| p.strip_prefix(&prefix))
                        .collect();
                    let value = if subs.is_empty() {
                        value
                    } else {
                        drop_sub_attributes(value, &subs)
                    };
                    out.insert(key, value);
                }
                Value::Object(out)
            }
        }
    }
}

fn paths(list: &str) -> Result<Vec<String>, ScimError> {
    let mut out = Vec::new();
    for raw in list.split(',') {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        if raw.len() > 200
            || !raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-' | '$'))
        {
            return Err(ScimError::invalid_syntax(format!(
                "`{}` is not an attribute path.",
                raw.escape_default()
            )));
        }
        let lower = raw.to_ascii_lowercase();
        let path = lower.strip_prefix(USER_URN_PREFIX).unwrap_or(&lower);
        out.push(path.to_string());
    }
    Ok(out)
}

fn keep_sub_attributes(value: Value, subs: &[&str]) -> Option<Value> {
    let keep = |obj: Map<String, Value>| -> Map<String, Value> {
        obj.into_iter()
            .filter(|(k, _)| subs.contains(&k.to_ascii_lowercase().as_str()))
            .collect()
    };
    match value {
        Value::Object(obj) => Some(Value::Object(keep(obj))),
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .map(|v| match v {
                    Value::Object(o) => Value::Object(keep(o)),
                    other => other,
                })
                .collect(),
        )),
        _ => None,
    }
}

fn drop_sub_attributes(value: Value, subs: &[&str]) -> Value {
    let drop = |obj: Map<String, Value>| -> Map<String, Value> {
        obj.into_iter()
            .filter(|(k, _)| !subs.contains(&k.to_ascii_lowercase().as_str()))
            .collect()
    };
    match value {
        Value::Object(obj) => Value::Object(drop(obj)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| match v {
                    Value::Object(o) => Value::Object(drop(o)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn account() -> Account {
        let mut attributes = BTreeMap::new();
        attributes.insert("uid".to_string(), vec!["bjensen".to_string()]);
        attributes.insert(
            "mail".to_string(),
            vec!["b@x.org".to_string(), "bj@x.org".to_string()],
        );
        attributes.insert("cn".to_string(), vec!["Barbara Jensen".to_string()]);
        attributes.insert("sn".to_string(), vec!["Jensen".to_string()]);
        Account {
            dn: "uid=bjensen,ou=people,dc=x".into(),
            id: Some("2819c223-7f76".into()),
            attributes,
        }
    }

    #[test]
    fn renders_a_user() {
        let u = render(
            &AttributeMap::default(),
            &account(),
            "2819c223-7f76",
            "https://h/scim/v2/Users",
        );
        assert_eq!(u["userName"], "bjensen");
        assert_eq!(u["emails"][0]["value"], "b@x.org");
        assert_eq!(u["emails"][0]["primary"], true);
        assert_eq!(u["name"]["familyName"], "Jensen");
        assert_eq!(u["displayName"], "Barbara Jensen");
        assert_eq!(
            u["meta"]["location"],
            "https://h/scim/v2/Users/2819c223-7f76"
        );
        assert!(u.get("externalId").is_none());
        assert!(u.get("password").is_none());
    }

    #[test]
    fn projection_keeps_always_returned_attributes() {
        let u = render(&AttributeMap::default(), &account(), "i", "https://h/Users");
        let only = Projection::from_params(
            Some("userName,emails.value,urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"),
            None,
        )
        .unwrap_or_default()
        .apply(u.clone());
        assert_eq!(only["id"], "i");
        assert_eq!(only["userName"], "bjensen");
        assert!(only["emails"][0].get("primary").is_none());
        assert!(only.get("displayName").is_none());
        assert!(only.get("meta").is_none());
        let except = Projection::from_params(None, Some("emails,id,name.familyName"))
            .unwrap_or_default()
            .apply(u);
        assert!(except.get("emails").is_none());
        assert_eq!(except["id"], "i");
        assert!(except["name"].get("familyName").is_none());
        assert!(Projection::from_params(Some("a"), Some("b")).is_err());
        assert!(Projection::from_params(Some("a b"), None).is_err());
    }
}
