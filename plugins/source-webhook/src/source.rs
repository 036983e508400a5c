//! The `webhook` cloud source: the connector (built from its checked table).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyper::service::service_fn;
use rustls::ServerConfig;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};
use writeback_core::{
    BoxError, BuildContext, CloudSource, ConfigError, ConnectorConfig, Shutdown, Submit,
};
use writeback_signing::Secret;

use crate::config::{check, Checked, Transport};
use crate::handler::{Handler, REQUESTS_PATH};
use crate::replay::ReplayGuard;
use writeback_listener::{Limits, Listener};

impl WebhookSource {
    /// Builds the source from its table (reads the TLS files, resolves the secrets).
    /// The factory does the same; this typed form is for embedders and tests that
    /// want [`WebhookSource::local_addr`].
    pub async fn build(
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<WebhookSource, ConfigError> {
        WebhookSource::from_checked(check(config)?, config, ctx)
    }

    pub(crate) fn from_checked(
        checked: Checked,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<WebhookSource, ConfigError> {
        let tls = match &checked.config.tls {
            Some(files) => Some(
                writeback_listener::tls::server_config(
                    &ctx.path(&files.cert_file),
                    &ctx.path(&files.key_file),
                )
                .map_err(|e| config.error("tls", e.to_string()))?,
            ),
            None => None,
        };
        let mut secrets = Vec::with_capacity(checked.secrets.len());
        for (key, reference) in &checked.secrets {
            let text = ctx.secret(config, key, reference)?;
            secrets
                .push(Secret::parse(text.expose()).map_err(|e| config.error(key, e.to_string()))?);
        }
        Ok(WebhookSource {
            name: config.name.clone(),
            listen: checked.listen,
            transport: checked.transport,
            tls,
            secrets,
            tolerance: checked.tolerance,
            max_body_bytes: checked.config.max_body_bytes,
            replay_cache_size: checked.config.replay_cache_size,
            max_connections: checked.config.max_connections,
            bound: watch::channel(Bound::Pending).0,
        })
    }
}

/// Where the listener is, once `run` has bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Pending,
    Listening(SocketAddr),
    Failed,
}

/// A running or ready-to-run webhook source.
pub struct WebhookSource {
    name: String,
    listen: SocketAddr,
    transport: Transport,
    tls: Option<Arc<ServerConfig>>,
    secrets: Vec<Secret>,
    tolerance: Duration,
    max_body_bytes: usize,
    replay_cache_size: usize,
    max_connections: usize,
    bound: watch::Sender<Bound>,
}

impl WebhookSource {
    /// The address actually listened on (useful with port 0), once `run` has bound it;
    /// `None` if binding failed.
    pub async fn local_addr(&self) -> Option<SocketAddr> {
        let mut rx = self.bound.subscribe();
        let state = *rx.wait_for(|b| *b != Bound::Pending).await.ok()?;
        match state {
            Bound::Listening(addr) => Some(addr),
            _ => None,
        }
    }

    fn scheme(&self) -> &'static str {
        match self.transport {
            Transport::Tls => "https",
            _ => "http",
        }
    }
}

#[async_trait]
impl CloudSource for WebhookSource {
    async fn run(
        self: Arc<Self>,
        pipeline: Arc<dyn Submit>,
        shutdown: Shutdown,
    ) -> Result<(), BoxError> {
        let limits = Limits {
            max_connections: self.max_connections,
            // The handler answers a slow body itself (408) after BODY_READ_TIMEOUT; the
            // listener's own limit is the backstop behind it.
            body_timeout: crate::handler::BODY_READ_TIMEOUT + Duration::from_secs(5),
            ..Limits::default()
        };
        let tls = self.tls.clone().map(TlsAcceptor::from);
        let name = format!("webhook source `{}`", self.name);
        let listener = match Listener::bind(self.listen, tls, limits, name).await {
            Ok(l) => l,
            Err(e) => {
                self.bound.send_replace(Bound::Failed);
                return Err(format!(
                    "webhook source `{}` cannot listen on {}: {e}",
                    self.name, self.listen
                )
                .into());
            }
        };
        let local = listener.local_addr()?;
        // Replays are refused by the timestamp check once older than the tolerance
        // (either way), so twice that, plus a margin, is all the memory needed.
        let window = self.tolerance * 2 + Duration::from_secs(60);
        let replay = ReplayGuard::new(self.replay_cache_size, window)
            .map_err(|_| "webhook source: the system random generator failed")?;
        let handler = Arc::new(Handler {
            source: self.name.clone(),
            secrets: self.secrets.clone(),
            tolerance: self.tolerance,
            max_body_bytes: self.max_body_bytes,
            replay,
            pipeline,
        });
        match self.transport {
            Transport::PlainBehindProxy => warn!(
                source = %self.name,
                "serving plain HTTP on {local}: the config says a TLS-terminating proxy is in front"
            ),
            Transport::PlainLoopback => {
                info!(source = %self.name, "serving plain HTTP on loopback {local}")
            }
            Transport::Tls => {}
        }
        info!(source = %self.name, addr = %local, "webhook source listening on {}://{local}{REQUESTS_PATH}", self.scheme());
        self.bound.send_replace(Bound::Listening(local));
        let serve = move |peer| {
            let handler = handler.clone();
            service_fn(move |request| handler.clone().handle(request, peer))
        };
        listener.serve(serve, shutdown).await;
        info!(source = %self.name, "webhook source stopped");
        Ok(())
    }

    fn describe(&self) -> String {
        let mut text = format!("{}://{}{REQUESTS_PATH}", self.scheme(), self.listen);
        match self.transport {
            Transport::PlainBehindProxy => text.push_str(" (plain HTTP behind a TLS proxy)"),
            Transport::PlainLoopback => text.push_str(" (plain HTTP, loopback only)"),
            Transport::Tls => {}
        }
        text.push_str(&format!(
            ", {} signing key(s), tolerance {} s, body limit {} bytes",
            self.secrets.len(),
            self.tolerance.as_secs(),
            self.max_body_bytes
        ));
        text
    }
}
