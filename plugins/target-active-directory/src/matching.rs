//! Matching rules: which AD attribute a cloud identity attribute is compared with, and
//! the escaped filter that does it. Text values are escaped per RFC 4515; GUIDs are
//! sent as binary (`\xx` per byte).

use serde::Deserialize;
use writeback_core::CloudIdentity;
use writeback_ldap::escape::filter_value;

use crate::guid;

/// The AD attributes an account can be matched by.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum AdAttribute {
    #[serde(rename = "userPrincipalName")]
    UserPrincipalName,
    #[serde(rename = "mail")]
    Mail,
    #[serde(rename = "sAMAccountName")]
    SamAccountName,
    /// `smtp:`/`SMTP:` addresses; the value is compared without its prefix.
    #[serde(rename = "proxyAddresses")]
    ProxyAddresses,
    /// The cloud's immutable id as base64 of the GUID bytes (or GUID text).
    #[serde(rename = "objectGUID")]
    ObjectGuid,
    /// The source anchor Entra Connect writes back (base64 of 16 bytes, or GUID text).
    #[serde(rename = "mS-DS-ConsistencyGuid")]
    ConsistencyGuid,
    /// The anchor Entra Cloud Sync writes on the accounts it provisions into AD:
    /// `User_` + the Entra object id. A value without the prefix gets it.
    #[serde(rename = "msDS-ExternalDirectoryObjectId")]
    ExternalDirectoryObjectId,
}

/// The prefix Cloud Sync puts before a user's object id.
const CLOUD_SYNC_USER_PREFIX: &str = "User_";

impl AdAttribute {
    pub fn ldap_name(self) -> &'static str {
        match self {
            AdAttribute::UserPrincipalName => "userPrincipalName",
            AdAttribute::Mail => "mail",
            AdAttribute::SamAccountName => "sAMAccountName",
            AdAttribute::ProxyAddresses => "proxyAddresses",
            AdAttribute::ObjectGuid => "objectGUID",
            AdAttribute::ConsistencyGuid => "mS-DS-ConsistencyGuid",
            AdAttribute::ExternalDirectoryObjectId => "msDS-ExternalDirectoryObjectId",
        }
    }

    /// The cloud identity attribute used when a rule names none.
    fn default_source(self) -> &'static str {
        match self {
            AdAttribute::UserPrincipalName => "upn",
            AdAttribute::Mail | AdAttribute::ProxyAddresses => "mail",
            AdAttribute::SamAccountName => "username",
            AdAttribute::ObjectGuid | AdAttribute::ConsistencyGuid => "immutable_id",
            // What the password page sets with `cloud_sync_anchor = true`.
            AdAttribute::ExternalDirectoryObjectId => "cloud_anchor",
        }
    }

    /// The equality filter for one value, escaped.
    pub fn filter(self, value: &str) -> Result<String, String> {
        let name = self.ldap_name();
        match self {
            AdAttribute::ObjectGuid | AdAttribute::ConsistencyGuid => {
                let bytes = guid::parse(value)?;
                Ok(format!("({name}={})", guid::filter_escape(&bytes)))
            }
            AdAttribute::ProxyAddresses => {
                // proxyAddresses compares case-insensitively, so `smtp:` also finds the
                // primary `SMTP:` address.
                let address = strip_smtp_prefix(value);
                Ok(format!("({name}=smtp:{})", filter_value(address)))
            }
            AdAttribute::ExternalDirectoryObjectId => {
                // `from = "object_id"` carries the bare id; the page's anchor has the prefix.
                let anchor = if value.starts_with(CLOUD_SYNC_USER_PREFIX) {
                    value.to_string()
                } else {
                    format!("{CLOUD_SYNC_USER_PREFIX}{value}")
                };
                Ok(format!("({name}={})", filter_value(&anchor)))
            }
            _ => Ok(format!("({name}={})", filter_value(value))),
        }
    }
}

fn strip_smtp_prefix(value: &str) -> &str {
    match value.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => &value[5..],
        _ => value,
    }
}

/// One `[[targets.match]]` entry: `{ attribute = "objectGUID", from = "immutable_id" }`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    pub attribute: AdAttribute,
    /// The cloud identity attribute (`upn`, `mail`, `username`, `immutable_id`,
    /// `object_id`, or a key of `extra`).
    #[serde(default)]
    pub from: Option<String>,
}

impl MatchRule {
    pub fn upn() -> Self {
        MatchRule {
            attribute: AdAttribute::UserPrincipalName,
            from: None,
        }
    }

    pub fn source(&self) -> &str {
        self.from
            .as_deref()
            .unwrap_or(self.attribute.default_source())
    }

    pub fn check(&self) -> Result<(), String> {
        let s = self.source();
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`from = \"{s}\"` is not a cloud identity attribute name"
            ));
        }
        Ok(())
    }
}

/// The filter for the first rule the identity has a value for, and a description of it
/// for messages (`userPrincipalName from upn`).
pub fn match_filter(
    rules: &[MatchRule],
    identity: &CloudIdentity,
) -> Result<(String, String), MatchError> {
    for rule in rules {
        if let Some(value) = identity.get(rule.source()) {
            let filter = rule
                .attribute
                .filter(value)
                .map_err(|why| MatchError::BadValue {
                    attribute: rule.source().to_string(),
                    why,
                })?;
            return Ok((
                filter,
                format!("{} from {}", rule.attribute.ldap_name(), rule.source()),
            ));
        }
    }
    Err(MatchError::NoValue(
        rules.iter().map(|r| r.source().to_string()).collect(),
    ))
}

#[derive(Debug, PartialEq, Eq)]
pub enum MatchError {
    /// The identity has none of the attributes the rules use.
    NoValue(Vec<String>),
    /// The value cannot be used (not a GUID …).
    BadValue { attribute: String, why: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_escaped() {
        let f = AdAttribute::UserPrincipalName
            .filter("*)(sAMAccountName=*")
            .unwrap();
        assert_eq!(f, "(userPrincipalName=\\2a\\29\\28sAMAccountName=\\2a)");
        assert_eq!(
            AdAttribute::ProxyAddresses.filter("SMTP:a@b.c").unwrap(),
            "(proxyAddresses=smtp:a@b.c)"
        );
        assert_eq!(
            AdAttribute::ProxyAddresses.filter("a@b.c").unwrap(),
            "(proxyAddresses=smtp:a@b.c)"
        );
    }

    #[test]
    fn the_cloud_sync_anchor_gets_its_prefix_once_and_is_escaped() {
        let a = AdAttribute::ExternalDirectoryObjectId;
        assert_eq!(
            a.filter("User_0f1e").unwrap(),
            "(msDS-ExternalDirectoryObjectId=User_0f1e)"
        );
        assert_eq!(
            a.filter("0f1e").unwrap(),
            "(msDS-ExternalDirectoryObjectId=User_0f1e)"
        );
        assert_eq!(
            a.filter("x)(cn=*").unwrap(),
            "(msDS-ExternalDirectoryObjectId=User_x\\29\\28cn=\\2a)"
        );
        let rule: MatchRule =
            toml::from_str("attribute = \"msDS-ExternalDirectoryObjectId\"").unwrap();
        assert_eq!(rule.source(), "cloud_anchor");
    }

    #[test]
    fn guid_values_are_binary() {
        let f = AdAttribute::ObjectGuid
            .filter("AAECAwQFBgcICQoLDA0ODw==")
            .unwrap();
        assert_eq!(
            f,
            "(objectGUID=\\00\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f)"
        );
        assert!(AdAttribute::ObjectGuid.filter("alice").is_err());
    }

    #[test]
    fn first_rule_with_a_value_decides() {
        let rules = vec![
            MatchRule {
                attribute: AdAttribute::ObjectGuid,
                from: None,
            },
            MatchRule::upn(),
        ];
        let id = CloudIdentity {
            upn: Some("a@b.c".into()),
            ..Default::default()
        };
        let (f, how) = match_filter(&rules, &id).unwrap();
        assert_eq!(f, "(userPrincipalName=a@b.c)");
        assert_eq!(how, "userPrincipalName from upn");
        let none = match_filter(&rules, &CloudIdentity::default()).unwrap_err();
        assert_eq!(
            none,
            MatchError::NoValue(vec!["immutable_id".into(), "upn".into()])
        );
    }
}
