//! The `portal` cloud source: the running page on the shared listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};
use writeback_core::{
    BoxError, BuildContext, CloudSource, ConfigError, ConnectorConfig, Password, Shutdown, Submit,
};
use writeback_listener::{Limits, Listener, Transport};

use crate::config::{Checked, PortalConfig};
use crate::oidc::{http_client, Provider, Requirements};
use crate::routes::{router, Peer, Portal};
use crate::session::{RateLimiter, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Pending,
    Listening(SocketAddr),
    Failed,
}

/// A running or ready-to-run password page.
pub struct PortalSource {
    name: String,
    checked: Checked,
    tls: Option<TlsAcceptor>,
    client_secret: Password,
    http: reqwest::Client,
    bound: watch::Sender<Bound>,
}

impl PortalSource {
    /// Builds the source from its table (reads the TLS and CA files, resolves the
    /// client secret). Nothing is fetched from the provider until the first sign-in.
    pub async fn build(
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<PortalSource, ConfigError> {
        let typed = config.parse()?;
        PortalSource::from_config(typed, config, ctx)
    }

    pub(crate) fn from_config(
        typed: PortalConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<PortalSource, ConfigError> {
        let checked = Checked::new(typed, config).map_err(|errors| {
            errors
                .into_iter()
                .next()
                .unwrap_or_else(|| config.error("", "invalid configuration"))
        })?;
        let tls = match &checked.config.tls {
            Some(files) => Some(
                writeback_listener::tls::acceptor(
                    &ctx.path(&files.cert_file),
                    &ctx.path(&files.key_file),
                )
                .map_err(|e| config.error("tls", e.to_string()))?,
            ),
            None => None,
        };
        let client_secret = ctx.secret(
            config,
            "oidc.client_secret",
            &checked.config.oidc.client_secret,
        )?;
        let ca = checked.config.oidc.ca_file.as_ref().map(|p| ctx.path(p));
        let http = http_client(ca.as_deref()).map_err(|m| config.error("oidc.ca_file", m))?;
        Ok(PortalSource {
            name: config.name.clone(),
            checked,
            tls,
            client_secret,
            http,
            bound: watch::channel(Bound::Pending).0,
        })
    }

    /// The address actually listened on (useful with port 0), once `run` has bound it.
    pub async fn local_addr(&self) -> Option<SocketAddr> {
        let mut rx = self.bound.subscribe();
        let state = *rx.wait_for(|b| *b != Bound::Pending).await.ok()?;
        match state {
            Bound::Listening(addr) => Some(addr),
            _ => None,
        }
    }

    fn portal(&self, pipeline: Arc<dyn Submit>) -> Portal {
        let c = &self.checked.config;
        let o = &c.oidc;
        let provider = Provider::new(
            &o.issuer,
            &o.client_id,
            self.client_secret.clone(),
            o.scopes.clone(),
            Requirements {
                max_auth_age: o.max_auth_age_seconds.map(Duration::from_secs),
                acr_values: o.acr_values.clone(),
                required_amr: o.required_amr.clone(),
                skew: Duration::from_secs(o.clock_skew_seconds),
            },
            self.http.clone(),
        );
        Portal {
            name: self.name.clone(),
            provider,
            store: Store::new(self.checked.session),
            limiter: RateLimiter::new(Duration::from_secs(c.limits.window_seconds)),
            limits: c.limits,
            pipeline,
            mode: self.checked.mode,
            allow_unlock: c.allow_unlock,
            public_url: self.checked.public_url.clone(),
            mapping: c.identity.clone(),
            branding: c.branding.clone(),
            provider_name: o.provider_name.clone(),
            labels: c.directory_labels.clone(),
            css: crate::page::stylesheet(&c.branding),
            session_for: self.checked.session,
        }
    }
}

#[async_trait]
impl CloudSource for PortalSource {
    async fn run(
        self: Arc<Self>,
        pipeline: Arc<dyn Submit>,
        shutdown: Shutdown,
    ) -> Result<(), BoxError> {
        let limits = Limits {
            max_connections: self.checked.config.max_connections,
            ..Limits::default()
        };
        let name = format!("password page `{}`", self.name);
        let listener =
            match Listener::bind(self.checked.listen, self.tls.clone(), limits, name).await {
                Ok(l) => l,
                Err(e) => {
                    self.bound.send_replace(Bound::Failed);
                    return Err(format!(
                        "password page `{}` cannot listen on {}: {e}",
                        self.name, self.checked.listen
                    )
                    .into());
                }
            };
        let local = listener.local_addr()?;
        match self.checked.transport {
            Transport::PlainBehindProxy => warn!(
                source = %self.name,
                "serving plain HTTP on {local}: the config says a TLS-terminating proxy is in front"
            ),
            Transport::PlainLoopback => {
                info!(source = %self.name, "serving plain HTTP on loopback {local}")
            }
            Transport::Tls => {}
        }
        info!(source = %self.name, addr = %local, public_url = %self.checked.public_url, "password page listening");
        self.bound.send_replace(Bound::Listening(local));
        let app = router(Arc::new(self.portal(pipeline)));
        let serve = move |peer: SocketAddr| {
            TowerToHyperService::new(app.clone().layer(axum::Extension(Peer(peer))))
        };
        listener.serve(serve, shutdown).await;
        info!(source = %self.name, "password page stopped");
        Ok(())
    }

    fn describe(&self) -> String {
        let scheme = match self.checked.transport {
            Transport::Tls => "https",
            _ => "http",
        };
        format!(
            "{scheme}://{} (public {}), sign-in at {}",
            self.checked.listen, self.checked.public_url, self.checked.config.oidc.issuer
        )
    }
}
