//! Password-expiry reminders.
//!
//! A scan asks each directory target for accounts whose password expires within the
//! largest threshold ([`writeback_core::DirectoryTarget::password_expiries`]), picks for
//! each the smallest threshold it is inside (14, 7, 1 days …), and puts one reminder per
//! person per threshold into the outbox. The outbox's reminder ledger, written in the
//! same transaction, is what stops a second scan from reminding again; a new password
//! (a new expiry time) starts a new cycle.

mod config;
mod scan;

pub use config::ExpiryConfig;
pub use scan::{find_due, run_scheduled, send_due, threshold_for, Due, ScanError};
