//! Borrowed views the host lends for the length of one call (host → plugin). They
//! point into the host's own data, so a policy or target call allocates nothing for
//! its inputs. Copy what you need to keep past the call.

use abi_stable::std_types::{RSlice, RStr};
use abi_stable::StableAbi;

use crate::codes::OperationKind;
use crate::secret::PasswordView;

/// A name and a value (identity extras, account attributes).
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct AttributeView<'a> {
    pub name: RStr<'a>,
    pub value: RStr<'a>,
}

/// The person as the cloud side knows them. Empty fields are absent.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct IdentityView<'a> {
    pub upn: RStr<'a>,
    pub object_id: RStr<'a>,
    pub immutable_id: RStr<'a>,
    pub mail: RStr<'a>,
    pub username: RStr<'a>,
    pub display_name: RStr<'a>,
    pub given_name: RStr<'a>,
    pub surname: RStr<'a>,
    pub extra: RSlice<'a, AttributeView<'a>>,
}

impl<'a> IdentityView<'a> {
    /// An attribute by the name filter templates use (`upn`, `mail`, … or an extra's
    /// name); `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let value = match name {
            "upn" => self.upn,
            "object_id" => self.object_id,
            "immutable_id" => self.immutable_id,
            "mail" => self.mail,
            "username" => self.username,
            "display_name" => self.display_name,
            "given_name" => self.given_name,
            "surname" => self.surname,
            other => self
                .extra
                .as_slice()
                .iter()
                .find(|a| a.name.as_str() == other)
                .map(|a| a.value)?,
        };
        Some(value.as_str()).filter(|v| !v.is_empty())
    }
}

/// A resolved directory entry.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct AccountView<'a> {
    /// The target's name (from config) in a policy's input; empty in a target's `apply`.
    pub target: RStr<'a>,
    pub dn: RStr<'a>,
    pub id: RStr<'a>,
    /// One entry per value; lower-case names.
    pub values: RSlice<'a, AttributeView<'a>>,
}

impl<'a> AccountView<'a> {
    /// The first value of an attribute (case-insensitive name).
    pub fn first(&self, name: &str) -> Option<&'a str> {
        self.values
            .as_slice()
            .iter()
            .find(|a| a.name.as_str().eq_ignore_ascii_case(name))
            .map(|a| a.value.as_str())
    }
}

/// What a policy knows besides the password.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct PolicyInput<'a> {
    pub identity: IdentityView<'a>,
    /// Every target's resolved account.
    pub accounts: RSlice<'a, AccountView<'a>>,
}

/// The operation a target applies. No `Debug`: it holds passwords.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct OperationView<'a> {
    pub kind: OperationKind,
    /// Empty for an unlock.
    pub new_password: PasswordView<'a>,
    /// Only for a change.
    pub old_password: PasswordView<'a>,
    pub must_change: bool,
}
