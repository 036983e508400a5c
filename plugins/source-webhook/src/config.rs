//! The `[[sources]] type = "webhook"` table, and the checks that need no I/O.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};
pub use writeback_listener::Transport;

/// The only words that allow plain HTTP on a non-loopback address (shared by every
/// HTTP source, in crates/listener).
pub use writeback_listener::PLAIN_HTTP_BEHIND_PROXY;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSourceConfig {
    /// `IP:port` to listen on, e.g. `0.0.0.0:8443` or `127.0.0.1:8080`.
    pub listen: String,
    /// Certificate chain and private key (PEM). Required unless plain HTTP is allowed.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// `"behind-tls-proxy"` to serve plain HTTP on a non-loopback address.
    #[serde(default)]
    pub plain_http: Option<String>,
    /// One signing secret (`whsec_...`), or use `secrets` for several during a rotation.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    /// How far `webhook-timestamp` may be from this host's clock, either way.
    #[serde(default = "defaults::tolerance_seconds")]
    pub tolerance_seconds: u64,
    /// Largest body accepted; larger ones get 413 without being read further.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    /// How many recent `webhook-id`s are remembered to refuse replays.
    #[serde(default = "defaults::replay_cache_size")]
    pub replay_cache_size: usize,
    /// Connections served at once; more wait in the listen backlog.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
}

/// `tls = { cert_file, key_file }`, read as every HTTP source reads it.
pub use writeback_listener::TlsFiles;

mod defaults {
    pub fn tolerance_seconds() -> u64 {
        300
    }
    pub fn max_body_bytes() -> usize {
        64 * 1024
    }
    pub fn replay_cache_size() -> usize {
        100_000
    }
    pub fn max_connections() -> usize {
        1024
    }
}

/// The checked config: everything `build` needs except files and secrets.
pub struct Checked {
    pub config: WebhookSourceConfig,
    pub listen: SocketAddr,
    pub transport: Transport,
    pub secrets: Vec<(String, SecretRef)>,
    pub tolerance: Duration,
}

/// Parses and checks the table (no I/O); the first error.
pub fn check(connector: &ConnectorConfig) -> Result<Checked, ConfigError> {
    let config: WebhookSourceConfig = connector.parse()?;
    checked(config, connector).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| connector.error("", "invalid configuration"))
    })
}

/// Checks a parsed table (no I/O): what `build` needs, or every problem with its key.
pub fn checked(
    config: WebhookSourceConfig,
    connector: &ConnectorConfig,
) -> Result<Checked, Vec<ConfigError>> {
    let (listen, transport, secrets) = derive(&config, connector)?;
    Ok(Checked {
        tolerance: Duration::from_secs(config.tolerance_seconds),
        config,
        listen,
        transport,
        secrets,
    })
}

/// Every problem of a parsed table, each with its key (the factory's `check`).
pub fn problems(config: &WebhookSourceConfig, connector: &ConnectorConfig) -> Vec<ConfigError> {
    derive(config, connector).err().unwrap_or_default()
}

type Derived = (SocketAddr, Transport, Vec<(String, SecretRef)>);

fn derive(
    config: &WebhookSourceConfig,
    connector: &ConnectorConfig,
) -> Result<Derived, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let listen = config.listen.parse::<SocketAddr>().map_err(|_| {
        connector.error(
            "listen",
            format!(
                "`{}` is not an IP address and port; write e.g. \"0.0.0.0:8443\" or \"127.0.0.1:8080\"",
                config.listen
            ),
        )
    });
    let transport = match &listen {
        Ok(listen) => transport(connector, config, *listen)
            .map_err(|e| errors.push(e))
            .ok(),
        Err(e) => {
            errors.push(e.clone());
            None
        }
    };
    let secrets = secret_refs(connector, config)
        .map_err(|e| errors.push(e))
        .ok();
    if !(1..=3600).contains(&config.tolerance_seconds) {
        errors.push(connector.error(
            "tolerance_seconds",
            "must be between 1 and 3600 (5 minutes = 300 is usual)",
        ));
    }
    if !(1024..=10 * 1024 * 1024).contains(&config.max_body_bytes) {
        errors.push(connector.error(
            "max_body_bytes",
            "must be between 1024 and 10485760 (default 65536)",
        ));
    }
    if !(16..=10_000_000).contains(&config.replay_cache_size) {
        errors.push(connector.error("replay_cache_size", "must be between 16 and 10000000"));
    }
    if !(1..=100_000).contains(&config.max_connections) {
        errors.push(connector.error("max_connections", "must be between 1 and 100000"));
    }
    match (listen, transport, secrets) {
        (Ok(listen), Some(transport), Some(secrets)) if errors.is_empty() => {
            Ok((listen, transport, secrets))
        }
        _ => Err(errors),
    }
}

fn transport(
    connector: &ConnectorConfig,
    config: &WebhookSourceConfig,
    listen: SocketAddr,
) -> Result<Transport, ConfigError> {
    writeback_listener::settings::transport(
        config.tls.is_some(),
        config.plain_http.as_deref(),
        listen,
    )
    .map_err(|e| connector.error(e.key, e.message))
}

/// The secret references with the key each sits at, for error messages.
fn secret_refs(
    connector: &ConnectorConfig,
    config: &WebhookSourceConfig,
) -> Result<Vec<(String, SecretRef)>, ConfigError> {
    let mut refs = Vec::new();
    if let Some(one) = &config.secret {
        refs.push(("secret".to_string(), one.clone()));
    }
    for (i, r) in config.secrets.iter().enumerate() {
        refs.push((format!("secrets[{i}]"), r.clone()));
    }
    if refs.is_empty() {
        return Err(connector.error(
            "secret",
            "a signing secret is required: secret = { env = \"WEBHOOK_SECRET\" } (or `secrets = [...]` during a key rotation)",
        ));
    }
    if config.secret.is_some() && !config.secrets.is_empty() {
        return Err(connector.error("secrets", "give either `secret` or `secrets`, not both"));
    }
    for (key, r) in &refs {
        r.check().map_err(|e| connector.error(key, e.to_string()))?;
    }
    Ok(refs)
}
