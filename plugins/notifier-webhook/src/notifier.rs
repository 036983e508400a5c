//! Sends one event: serialize once, then per attempt sign with a fresh timestamp
//! (the spec's "timestamp of the attempt") and POST; retry retryable failures.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::StatusCode;
use tracing::{debug, warn};
use writeback_core::{Event, Notifier, NotifyError};
use writeback_signing::{sign_headers, Secret};

/// Where HTTPS receivers with public certificates are checked against when no
/// `ca_file` is given (Debian's bundle).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// First pause between attempts; doubled each time, capped.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A webhook notifier ready to send.
pub struct WebhookNotifier {
    pub(crate) name: String,
    pub(crate) url: reqwest::Url,
    pub(crate) secrets: Vec<Secret>,
    pub(crate) retries: u32,
    pub(crate) http: reqwest::Client,
}

/// One failed attempt.
struct Failure {
    message: String,
    retryable: bool,
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(event).map_err(|e| NotifyError {
            message: format!(
                "webhook notifier `{}`: cannot serialize the event: {e}",
                self.name
            ),
            retryable: false,
        })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(&event.event_id, &body).await {
                Ok(()) => {
                    debug!(notifier = %self.name, event_id = %event.event_id, attempt, "event delivered");
                    return Ok(());
                }
                Err(f) => f,
            };
            if !failure.retryable || attempt > self.retries {
                return Err(NotifyError {
                    message: format!(
                        "webhook notifier `{}`: {} (attempt {attempt} of {})",
                        self.name,
                        failure.message,
                        self.retries + 1
                    ),
                    retryable: failure.retryable,
                });
            }
            warn!(notifier = %self.name, event_id = %event.event_id, attempt, "delivery failed, retrying: {}", failure.message);
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

impl WebhookNotifier {
    async fn attempt(&self, event_id: &str, body: &[u8]) -> Result<(), Failure> {
        let keys: Vec<&Secret> = self.secrets.iter().collect();
        let headers = sign_headers(&keys, event_id, unix_now(), body).map_err(|e| Failure {
            message: format!("cannot sign event `{event_id}`: {e}"),
            retryable: false,
        })?;
        let response = self
            .http
            .post(self.url.clone())
            .headers(headers)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Failure {
                message: format!("POST {} failed: {}", self.shown_url(), describe(&e)),
                // Connection refused, reset, DNS, timeout: the receiver may be back later.
                // A certificate the CA file does not vouch for will not fix itself.
                retryable: !is_certificate_error(&e),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(Failure {
            message: format!(
                "POST {} answered HTTP {}",
                self.shown_url(),
                status.as_u16()
            ),
            retryable: is_retryable_status(status),
        })
    }

    /// The URL without query or credentials, which may carry a token.
    fn shown_url(&self) -> String {
        let mut url = self.url.clone();
        url.set_query(None);
        let _ = url.set_password(None);
        let _ = url.set_username("");
        url.to_string()
    }
}

/// 408, 429 and 5xx may pass later; redirects (not followed, as the spec advises),
/// 410 Gone and other 4xx will not.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

fn is_certificate_error(e: &reqwest::Error) -> bool {
    let text = describe(e).to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer")
}

pub(crate) fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// reqwest's error with its causes (the TLS reason is usually two levels down),
/// without the URL reqwest puts in its own message.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    }
    .to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// An HTTP client trusting `ca_file` (or the system bundle), following no redirects.
pub(crate) fn http_client(
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("writeback/", env!("CARGO_PKG_VERSION")));
    let pem = match ca_file {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?)
        }
        None => std::fs::read(SYSTEM_CA_BUNDLE).ok(),
    };
    if let Some(pem) = pem {
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
        if certs.is_empty() && ca_file.is_some() {
            return Err("the CA file holds no `BEGIN CERTIFICATE` block".into());
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}
