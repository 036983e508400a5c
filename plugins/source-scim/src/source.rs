//! The running source: listens (HTTPS, or plain HTTP on loopback when configured) on
//! the shared [`writeback_listener::Listener`] (connection cap, handshake, header and
//! body timeouts, bounded drain) and serves the SCIM routes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyper_util::service::TowerToHyperService;
use tokio_rustls::TlsAcceptor;
use writeback_core::{BoxError, CloudSource, Shutdown, Submit};
use writeback_listener::{Limits, Listener};

use crate::auth::BearerToken;
use crate::config::ScimConfig;
use crate::directory::Directory;
use crate::idempotency::RetryIds;
use crate::routes::{self, ScimState, Settings};

/// Longer than the listener's default: identity providers batch pushes over slow links.
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
        let limits = Limits {
            max_connections: self.config.max_connections,
            header_timeout: HEADER_READ_TIMEOUT,
            body_timeout: Duration::from_secs(self.config.body_timeout_secs),
            ..Limits::default()
        };
        let name = format!("SCIM source `{}`", self.name);
        let listener = Listener::bind(self.config.listen, self.tls.clone(), limits, name)
            .await
            .map_err(|e| {
                format!(
                    "SCIM source `{}`: cannot listen on {}: {e}",
                    self.name, self.config.listen
                )
            })?;
        tracing::info!(source = %self.name, address = %self.describe(), "SCIM endpoint listening");
        let router = routes::router(state);
        let serve = move |_peer| TowerToHyperService::new(router.clone());
        listener.serve(serve, shutdown).await;
        Ok(())
    }

    fn describe(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.config.listen, self.config.base_path)
    }
}
