//! What one outbox row carries: an outcome event or an expiry reminder.

use serde::{Deserialize, Serialize};
use writeback_core::{Event, ExpiryReminder};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum Notification {
    Outcome(Box<Event>),
    ExpiryReminder(ExpiryReminder),
}

impl Notification {
    /// The idempotency key every delivery attempt reuses.
    pub fn key(&self) -> &str {
        match self {
            Notification::Outcome(e) => &e.event_id,
            Notification::ExpiryReminder(r) => &r.reminder_id,
        }
    }

    /// `outcome` or `expiry_reminder`, as stored and listed.
    pub fn kind(&self) -> &'static str {
        match self {
            Notification::Outcome(_) => "outcome",
            Notification::ExpiryReminder(_) => "expiry_reminder",
        }
    }

    /// One line for `outbox list`: who it is about and what happened.
    pub fn summary(&self) -> String {
        match self {
            Notification::Outcome(e) => format!(
                "{} {} for {}: {}",
                e.operation,
                e.outcome.code,
                e.identity.label(),
                e.request_id
            ),
            Notification::ExpiryReminder(r) => format!(
                "password of {} expires {} ({}-day reminder)",
                r.dn, r.expires_at, r.threshold_days
            ),
        }
    }
}
