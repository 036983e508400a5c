//! The durable notification outbox.
//!
//! Every notification (an outcome [`writeback_core::Event`] or an
//! [`writeback_core::ExpiryReminder`]) is written to an SQLite file, one row per
//! notifier, BEFORE anyone tries to deliver it. A background loop then delivers due rows,
//! retries failures with exponential backoff and jitter, and dead-letters a row after the
//! configured number of attempts. Rows left pending by a crash are delivered on the next
//! start. Delivery is at least once: receivers deduplicate by the event's `event_id` (the
//! reminder's `reminder_id`), which every retry reuses.
//!
//! No password is ever stored: the payload types hold none.

mod backoff;
mod batch;
mod config;
mod delivery;
mod notification;
mod store;

pub use backoff::Backoff;
pub use config::{OutboxConfig, SyncMode};
pub use delivery::Outbox;
pub use notification::Notification;
pub use store::{ListFilter, Row, RowState, Store, StoreError};

#[cfg(test)]
mod tests;
