//! Notifier: signed webhook POST of each outcome (never a password).
