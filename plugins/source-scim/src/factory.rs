//! Builds the SCIM source from its `[[sources]]` table.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_rustls::TlsAcceptor;
use writeback_core::{BuildContext, CloudSource, ConfigError, ConnectorConfig, ConnectorFactory};

use crate::auth::BearerToken;
use crate::config::ScimConfig;
use crate::server::ScimSource;

pub struct ScimFactory;

#[async_trait]
impl ConnectorFactory<dyn CloudSource> for ScimFactory {
    fn type_name(&self) -> &'static str {
        "scim"
    }

    fn description(&self) -> &'static str {
        "SCIM 2.0 service provider: identity providers (Okta password sync, …) push passwords with PUT/PATCH /Users/{id}"
    }

    fn validate(&self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        ScimConfig::from_connector(config).map(|_| ())
    }

    async fn build(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn CloudSource>, ConfigError> {
        let parsed = ScimConfig::from_connector(config)?;
        let token = ctx.secret(config, "token", &parsed.token)?;
        let token = BearerToken::new(&token).map_err(|m| config.error("token", m))?;
        let tls = match &parsed.tls {
            Some(files) => Some(
                load_tls(&ctx.path(&files.cert_file), &ctx.path(&files.key_file))
                    .map_err(|m| config.error("tls", m))?,
            ),
            None => None,
        };
        Ok(Arc::new(ScimSource {
            name: config.name.clone(),
            config: parsed,
            token,
            tls,
        }))
    }
}

/// A TLS acceptor (rustls, ring provider) from PEM certificate chain and key files.
pub fn load_tls(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, String> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(BufReader::new)
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let certs = rustls_pemfile::certs(&mut open(cert_file)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate found (expected PEM)",
            cert_file.display()
        ));
    }
    let key = rustls_pemfile::private_key(&mut open(key_file)?)
        .map_err(|e| format!("{}: not a PEM private key: {e}", key_file.display()))?
        .ok_or_else(|| {
            format!(
                "{}: no private key found (expected PEM)",
                key_file.display()
            )
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not make a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
