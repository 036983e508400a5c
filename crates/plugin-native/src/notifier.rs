//! A plugin's notifier as a core [`Notifier`].

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{Event, ExpiryReminder, Notifier, NotifyError};
use writeback_plugin_native_abi::NotifierBox;

use crate::calls::Calls;
use crate::convert;

pub struct NativeNotifier {
    notifier: Arc<NotifierBox>,
    calls: Calls,
    sends_reminders: bool,
}

impl NativeNotifier {
    pub(crate) fn new(notifier: NotifierBox, calls: Calls) -> Self {
        // Asked once at build time: it is a property of the connector, not of a call.
        let sends_reminders = notifier.sends_reminders();
        NativeNotifier {
            notifier: Arc::new(notifier),
            calls,
            sends_reminders,
        }
    }

    fn failed(outcome: writeback_core::Outcome) -> NotifyError {
        NotifyError {
            message: outcome.admin_detail.unwrap_or(outcome.message),
            retryable: true,
        }
    }
}

#[async_trait]
impl Notifier for NativeNotifier {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        let event = convert::event_to_abi(event);
        let notifier = self.notifier.clone();
        match self
            .calls
            .run("notify", move || notifier.notify(&event).into_result())
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(convert::notify_error(&e)),
            Err(fault) => Err(Self::failed(fault)),
        }
    }

    async fn remind(&self, reminder: &ExpiryReminder) -> Result<(), NotifyError> {
        let reminder = convert::reminder_to_abi(reminder);
        let notifier = self.notifier.clone();
        match self
            .calls
            .run("remind", move || notifier.remind(&reminder).into_result())
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(convert::notify_error(&e)),
            Err(fault) => Err(Self::failed(fault)),
        }
    }

    fn sends_reminders(&self) -> bool {
        self.sends_reminders
    }
}
