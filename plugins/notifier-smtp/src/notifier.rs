//! The smtp notifier: routes, renders and sends one message per notification.

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncTransport, Message};
use writeback_core::{Event, ExpiryReminder, Notifier, NotifyError};

use crate::recipients::{Addressees, Routing};
use crate::templates::{Rendered, Templates};
use crate::transport::{self, Transport};

pub struct SmtpNotifier {
    pub(crate) name: String,
    pub(crate) from: Mailbox,
    pub(crate) routing: Routing,
    pub(crate) templates: Templates,
    pub(crate) transport: Transport,
}

impl SmtpNotifier {
    /// The message for these addressees. The `key` (event or reminder id) becomes the
    /// Message-ID, so a re-sent notification can be recognised by the mail system.
    fn message(
        &self,
        to: &Addressees,
        rendered: Rendered,
        key: &str,
    ) -> Result<Message, NotifyError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(rendered.subject)
            .message_id(Some(format!("<{}@writeback>", sanitize_id(key))));
        let mut fixed = to.fixed.iter().cloned();
        match &to.user {
            Some(user) => {
                builder = builder.to(user.clone());
                for cc in fixed {
                    builder = builder.cc(cc);
                }
            }
            None => {
                for addr in fixed.by_ref() {
                    builder = builder.to(addr);
                }
            }
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| permanent(format!("cannot build the message: {e}")))
    }

    async fn send(
        &self,
        to: Addressees,
        rendered: Result<Rendered, String>,
        key: &str,
    ) -> Result<(), NotifyError> {
        if to.is_empty() {
            // Retrying cannot help; say so once and move on.
            tracing::warn!(notifier = %self.name, key, "no recipient: the account has no mail and no fixed address applies");
            return Ok(());
        }
        let rendered = rendered.map_err(permanent)?;
        let message = self.message(&to, rendered, key)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| NotifyError {
                message: format!("SMTP: {e}"),
                retryable: transport::is_retryable(&e),
            })
    }
}

fn permanent(message: String) -> NotifyError {
    NotifyError {
        message,
        retryable: false,
    }
}

/// Keeps a Message-ID's left part to characters every mail system accepts.
fn sanitize_id(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(128)
        .collect()
}

#[async_trait]
impl Notifier for SmtpNotifier {
    /// `smtp.session`: connect, EHLO, STARTTLS (or TLS), AUTH when a user is set, and a
    /// NOOP; no message is sent.
    async fn doctor(
        &self,
        _options: &writeback_core::DoctorOptions,
    ) -> Vec<writeback_core::Finding> {
        use writeback_core::Finding;
        let finding = match self.transport.test_connection().await {
            Ok(true) => Finding::ok(
                "smtp.session",
                "connected; EHLO, TLS and the login (when `username` is set) were accepted and NOOP \
                 answered; no message sent",
            ),
            Ok(false) => Finding::fail(
                "smtp.session",
                "the server accepted the session but did not answer NOOP",
            ),
            Err(e) => Finding::fail("smtp.session", format!("the SMTP session failed: {e}"))
                .with_fix(
                    "check host, port and tls; a login refused (535) means username or password \
                     is wrong; a TLS error means ca_file does not hold the server's CA",
                ),
        };
        vec![finding]
    }

    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        let to = self.routing.for_event(event);
        self.send(to, self.templates.render_event(event), &event.event_id)
            .await
    }

    async fn remind(&self, reminder: &ExpiryReminder) -> Result<(), NotifyError> {
        let to = self.routing.for_reminder(reminder);
        self.send(
            to,
            self.templates.render_reminder(reminder),
            &reminder.reminder_id,
        )
        .await
    }

    fn sends_reminders(&self) -> bool {
        true
    }
}
