//! Who a request is about (the cloud identity), who asked for it (the initiator), and
//! the directory entry it resolved to (the account).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The person as the cloud side knows them. Every field is optional; a target's
/// matching rule says which ones it uses. Attribute names are the ones filter templates
/// use: `upn`, `object_id`, `immutable_id`, `mail`, `username`, `display_name`,
/// `given_name`, `surname`, or any key of `extra`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// The cloud's immutable id / source anchor (base64 in Entra ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// The on-premises account name (uid, sAMAccountName) when the cloud knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Any other attribute the cloud sends (employee id, …), usable in filter templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// Longest identity attribute value accepted (in bytes).
pub const MAX_ATTRIBUTE_LEN: usize = 1024;
/// Most `extra` attributes accepted in one identity.
pub const MAX_EXTRA_ATTRIBUTES: usize = 32;

/// Why an identity cannot be used: the person's source sent too little or something
/// that never belongs in a name. The messages are shown to the caller as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error(
        "identity has no identifier: give at least one of upn, object_id, immutable_id, \
         username or mail"
    )]
    NoIdentifier,
    #[error("identity.{key} is longer than {} bytes", MAX_ATTRIBUTE_LEN)]
    TooLong { key: String },
    #[error("identity.{key} contains control characters")]
    ControlCharacters { key: String },
    #[error("identity.extra has more than {} attributes", MAX_EXTRA_ATTRIBUTES)]
    TooManyExtra,
}

/// For callers whose own errors are still text (they used the message as it was).
impl From<IdentityError> for String {
    fn from(e: IdentityError) -> String {
        e.to_string()
    }
}

/// Appends `text` lower-cased exactly as `str::to_lowercase` does, without a second
/// buffer for the common ASCII case.
pub fn push_lowercase(out: &mut String, text: &str) {
    if text.is_ascii() {
        out.extend(text.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        out.push_str(&text.to_lowercase());
    }
}

impl CloudIdentity {
    /// The value of a named attribute, as filter templates name them.
    pub fn get(&self, name: &str) -> Option<&str> {
        let v = match name {
            "upn" => self.upn.as_deref(),
            "object_id" => self.object_id.as_deref(),
            "immutable_id" => self.immutable_id.as_deref(),
            "mail" => self.mail.as_deref(),
            "username" => self.username.as_deref(),
            "display_name" => self.display_name.as_deref(),
            "given_name" => self.given_name.as_deref(),
            "surname" => self.surname.as_deref(),
            other => self.extra.get(other).map(String::as_str),
        };
        v.filter(|s| !s.is_empty())
    }

    /// A stable key for "the same user": requests with equal keys apply one at a time,
    /// in arrival order. The most specific identifier present wins.
    pub fn ordering_key(&self) -> String {
        let Some((name, value)) = self.ordering_identifier() else {
            return String::new();
        };
        // Built in one allocation (it is made for every request).
        let mut key = String::with_capacity(name.len() + 1 + value.len());
        key.push_str(name);
        key.push(':');
        push_lowercase(&mut key, value);
        key
    }

    /// The identifier `ordering_key` is made of: the most specific one present.
    fn ordering_identifier(&self) -> Option<(&'static str, &str)> {
        ["immutable_id", "object_id", "upn", "username", "mail"]
            .into_iter()
            .find_map(|name| self.get(name).map(|v| (name, v)))
    }

    /// A short, loggable name for the person (no secrets in an identity).
    pub fn label(&self) -> String {
        for name in ["upn", "username", "mail", "object_id", "immutable_id"] {
            if let Some(v) = self.get(name) {
                return v.to_string();
            }
        }
        "(no identifier)".to_string()
    }

    /// Checks the identity carries at least one identifier and nothing oversized or
    /// with control characters (they never belong in a name and would reach filters).
    pub fn validate(&self) -> Result<(), IdentityError> {
        if self.ordering_identifier().is_none() {
            return Err(IdentityError::NoIdentifier);
        }
        let named = [
            ("upn", &self.upn),
            ("object_id", &self.object_id),
            ("immutable_id", &self.immutable_id),
            ("mail", &self.mail),
            ("username", &self.username),
            ("display_name", &self.display_name),
            ("given_name", &self.given_name),
            ("surname", &self.surname),
        ];
        let fields = named
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
            .chain(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (key, value) in fields {
            if value.len() > MAX_ATTRIBUTE_LEN {
                return Err(IdentityError::TooLong {
                    key: key.to_string(),
                });
            }
            if value.chars().any(char::is_control) {
                return Err(IdentityError::ControlCharacters {
                    key: key.to_string(),
                });
            }
        }
        if self.extra.len() > MAX_EXTRA_ATTRIBUTES {
            return Err(IdentityError::TooManyExtra);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitiatorKind {
    /// The person themself (self-service reset or change).
    #[default]
    User,
    /// An administrator or help desk acting for them.
    Admin,
    /// An automated process.
    System,
}

/// Who started the request on the cloud side.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Initiator {
    #[serde(default)]
    pub kind: InitiatorKind,
    /// The initiator's cloud id or name, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A directory entry a target resolved an identity to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The entry's distinguished name.
    pub dn: String,
    /// A stable id from the directory (entryUUID, objectGUID), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Attributes the target read (account name, display name, mail …), lower-case keys.
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Account {
    pub fn first(&self, attribute: &str) -> Option<&str> {
        self.attributes
            .get(&attribute.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_key_prefers_immutable_id_and_ignores_case() {
        let a = CloudIdentity {
            upn: Some("Alice@Example.org".into()),
            ..Default::default()
        };
        let b = CloudIdentity {
            upn: Some("alice@example.org".into()),
            ..Default::default()
        };
        assert_eq!(a.ordering_key(), b.ordering_key());
        let c = CloudIdentity {
            upn: Some("alice@example.org".into()),
            immutable_id: Some("AAAA".into()),
            ..Default::default()
        };
        assert_eq!(c.ordering_key(), "immutable_id:aaaa");
        // Beyond ASCII, the same folding as `str::to_lowercase` (a final sigma too).
        let d = CloudIdentity {
            username: Some("ÖLAF-ΟΔΥΣΣΕΥΣ".into()),
            ..Default::default()
        };
        assert_eq!(
            d.ordering_key(),
            format!("username:{}", "ÖLAF-ΟΔΥΣΣΕΥΣ".to_lowercase())
        );
        assert!(d.ordering_key().ends_with('ς'));
    }

    #[test]
    fn validation_refuses_empty_and_control_characters() {
        assert!(CloudIdentity::default().validate().is_err());
        let bad = CloudIdentity {
            username: Some("al\nice".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let ok = CloudIdentity {
            username: Some("alice".into()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn each_refusal_says_what_to_send() {
        let said = |i: CloudIdentity| i.validate().map_err(|e| e.to_string()).err();
        assert_eq!(
            said(CloudIdentity::default()).as_deref(),
            Some(
                "identity has no identifier: give at least one of upn, object_id, \
                 immutable_id, username or mail"
            )
        );
        let long = CloudIdentity {
            mail: Some("m".repeat(MAX_ATTRIBUTE_LEN + 1)),
            ..Default::default()
        };
        assert_eq!(
            said(long).as_deref(),
            Some("identity.mail is longer than 1024 bytes")
        );
        let control = CloudIdentity {
            username: Some("al\nice".into()),
            ..Default::default()
        };
        assert_eq!(
            said(control).as_deref(),
            Some("identity.username contains control characters")
        );
        let crowded = CloudIdentity {
            username: Some("alice".into()),
            extra: (0..33).map(|i| (format!("k{i}"), "v".into())).collect(),
            ..Default::default()
        };
        assert_eq!(
            said(crowded).as_deref(),
            Some("identity.extra has more than 32 attributes")
        );
    }
}
