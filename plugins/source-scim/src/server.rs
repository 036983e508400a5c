//! The running source: listens (HTTPS, or plain HTTP on loopback when configured),
//! serves the SCIM routes, and drains in-flight requests on shutdown.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use writeback_core::{BoxError, CloudSource, Shutdown, Submit};

use crate::auth::BearerToken;
use crate::config::ScimConfig;
use crate::directory::Directory;
use crate::idempotency::RetryIds;
use crate::routes::{self, ScimState, Settings};

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ScimSource {
    pub(crate) name: String,
    pub(crate) config: ScimConfig,
    pub(crate) token: BearerToken,
    pub(crate) tls: Option<TlsAcceptor>,
}

impl ScimSource {
    fn state(&self, pipeline: Arc<dyn Submit>) -> Result<ScimState, BoxError> {
        let c = &self.config;
        let target = pipeline.target(&c.target).ok_or_else(|| {
            format!(
                "SCIM source `{}`: no directory target named `{}` is available to it; check `target` and the [[targets]] names",
                self.name, c.target
            )
        })?;
        let idempotency_header = c
            .idempotency_header
            .parse()
            .map_err(|_| format!("SCIM source `{}`: bad idempotency_header", self.name))?;
        Ok(ScimState {
            source_name: self.name.clone(),
            settings: Settings {
                base_path: c.base_path.clone(),
                public_url: c.public_url.clone(),
                max_body_bytes: c.max_body_bytes,
                max_results: c.max_results,
                other_attributes: c.other_attributes,
                unlock_on_activate: c.unlock_on_activate,
                must_change: c.must_change,
                idempotency_header,
                outcome_timeout: Duration::from_secs(c.outcome_timeout_secs),
            },
            token: self.token.clone(),
            retry_ids: RetryIds::new(Duration::from_secs(c.retry_window_secs))?,
            pipeline,
            directory: Directory {
                target,
                map: c.attributes.clone(),
                max_listed: c.max_listed,
            },
            tls: self.tls.is_some(),
        })
    }
}

#[async_trait]
impl CloudSource for ScimSource {
    async fn run(
        self: Arc<Self>,
        pipeline: Arc<dyn Submit>,
        shutdown: Shutdown,
    ) -> Result<(), BoxError> {
        let state = Arc::new(self.state(pipeline)?);
        let listener = TcpListener::bind(self.config.listen).await.map_err(|e| {
            format!(
                "SCIM source `{}`: cannot listen on {}: {e}",
                self.name, self.config.listen
            )
        })?;
        tracing::info!(source = %self.name, address = %self.describe(), "SCIM endpoint listening");
        serve(listener, self.tls.clone(), routes::router(state), shutdown).await;
        Ok(())
    }

    fn describe(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.config.listen, self.config.base_path)
    }
}

/// Accepts connections until `shutdown`, then lets each finish its current request.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    shutdown: Shutdown,
) {
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "SCIM endpoint could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (router, tls, shutdown) = (router.clone(), tls.clone(), shutdown.clone());
        tracker.spawn(async move {
            match tls {
                None => serve_connection(stream, router, shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls_stream)) => serve_connection(tls_stream, router, shutdown).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    tracker.close();
    tracker.wait().await;
}

async fn serve_connection<S>(stream: S, router: axum::Router, shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "SCIM connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
