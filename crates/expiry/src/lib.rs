//! Password-expiry reminders.
