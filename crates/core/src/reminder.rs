//! What notifiers receive from the expiry scan: a warning that a directory password
//! expires soon. Like [`crate::Event`], it holds no password.

use serde::{Deserialize, Serialize};

/// One reminder to one person for one threshold ("your password expires in 7 days").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryReminder {
    /// Stable per (target, account, expiry, threshold): the idempotency key receivers
    /// deduplicate by, and the reason a person never gets the same reminder twice.
    pub reminder_id: String,
    /// RFC 3339 UTC time the scan found it.
    pub time: String,
    /// The directory target's name (from config).
    pub target: String,
    /// The account's DN.
    pub dn: String,
    /// The account's login name (uid, sAMAccountName), when the directory has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The account's `mail`, when the directory has one (notifiers write to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// RFC 3339 UTC time the directory password expires.
    pub expires_at: String,
    /// Whole days left (rounded down) when the scan ran.
    pub days_left: u64,
    /// The configured threshold this reminder is for (14, 7, 1 …).
    pub threshold_days: u64,
}
