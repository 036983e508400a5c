//! The SMTP connection: lettre over tokio and rustls (ring), STARTTLS or implicit TLS,
//! optional authentication, optional private CA.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use writeback_core::Password;

use crate::config::{SmtpConfig, TlsMode};

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Builds the transport; `ca_pem` is the CA file's contents, `password` the resolved
/// secret. No connection is made here.
pub fn build(
    config: &SmtpConfig,
    ca_pem: Option<&[u8]>,
    password: Option<&Password>,
) -> Result<Transport, String> {
    let tls_params = || -> Result<TlsParameters, String> {
        let mut builder = TlsParameters::builder(config.host.clone());
        if let Some(pem) = ca_pem {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| format!("ca_file: not a PEM certificate ({e})"))?;
            builder = builder.add_root_certificate(cert);
        }
        builder
            .build_rustls()
            .map_err(|e| format!("TLS setup failed: {e}"))
    };
    let (tls, default_port) = match config.tls {
        TlsMode::Starttls => (Tls::Required(tls_params()?), 587),
        TlsMode::Tls => (Tls::Wrapper(tls_params()?), 465),
        TlsMode::None => (Tls::None, 25),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port.unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(Duration::from_millis(config.timeout_ms)));
    if let Some(user) = &config.username {
        let secret = password.map(|p| p.expose().to_string()).unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), secret));
    }
    Ok(builder.build())
}

/// Whether a failed send is worth retrying: 4xx replies, timeouts, refused or dropped
/// connections and TLS trouble are (the server may be back later); 5xx replies are not.
pub fn is_retryable(e: &lettre::transport::smtp::Error) -> bool {
    !e.is_permanent()
}
