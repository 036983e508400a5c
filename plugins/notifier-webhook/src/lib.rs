//! Notifier: signed webhook POST of each outcome (never a password).
//!
//! `[[notifiers]] type = "webhook"` POSTs each finished request's [`Event`] as JSON,
//! signed like the webhook source's requests (Standard Webhooks, HMAC-SHA256), with
//! `webhook-id` = the event's `event_id` so receivers can deduplicate retries.
//!
//! ```toml
//! [[notifiers]]
//! type = "webhook"
//! url = "https://hooks.example.test/writeback"
//! secret = { env = "WRITEBACK_NOTIFY_SECRET" }   # whsec_...; `secrets = [..]` signs with each
//! # ca_file = "private-ca.pem"    # trust a private CA (default: the system bundle)
//! # timeout_seconds = 10, retries = 2
//! # allow_plain_http = true      # http:// to a non-loopback host
//! ```
//!
//! [`Event`]: writeback_core::Event

mod config;
mod notifier;

pub use notifier::{WebhookNotifier, WebhookNotifierFactory};

#[cfg(test)]
mod tests;
