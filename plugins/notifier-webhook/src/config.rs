//! The `[[notifiers]] type = "webhook"` table and its checks (no I/O).

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookNotifierConfig {
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret (`whsec_...`), or `secrets` to sign with several at once
    /// during a rotation.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    /// PEM file of the CA that signed the receiver's certificate (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Per attempt, connect to last byte of the answer.
    #[serde(default = "defaults::timeout_seconds")]
    pub timeout_seconds: u64,
    /// Further attempts after a retryable failure (network, timeout, 408, 429, 5xx).
    #[serde(default = "defaults::retries")]
    pub retries: u32,
    /// Allow `http://` to a host that is not loopback.
    #[serde(default)]
    pub allow_plain_http: bool,
}

mod defaults {
    pub fn timeout_seconds() -> u64 {
        10
    }
    pub fn retries() -> u32 {
        2
    }
}

impl WebhookNotifierConfig {
    /// Every problem of the parsed table that needs no I/O, each with its key.
    pub fn check(&self, connector: &ConnectorConfig) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if let Err(e) = self.url(connector) {
            errors.push(e);
        }
        if !(1..=300).contains(&self.timeout_seconds) {
            errors.push(connector.error("timeout_seconds", "must be between 1 and 300"));
        }
        if self.retries > 10 {
            errors.push(connector.error("retries", "at most 10 (the host retries again later)"));
        }
        let secrets = self.secret_refs();
        if secrets.is_empty() {
            errors.push(connector.error(
                "secret",
                "a signing secret is required: secret = { env = \"NOTIFY_SECRET\" }",
            ));
        }
        if self.secret.is_some() && !self.secrets.is_empty() {
            errors.push(connector.error("secrets", "give either `secret` or `secrets`, not both"));
        }
        for (key, s) in &secrets {
            if let Err(e) = s.check() {
                errors.push(connector.error(key, e.to_string()));
            }
        }
        errors
    }

    /// The receiver's URL: https, or http to loopback or when allowed.
    pub fn url(&self, connector: &ConnectorConfig) -> Result<reqwest::Url, ConfigError> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| {
            connector.error(
                "url",
                format!("not a URL ({e}); write e.g. \"https://hooks.example.test/writeback\""),
            )
        })?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_plain_http || is_loopback(&url) => Ok(url),
            "http" => Err(connector.error(
                "url",
                "events would travel unencrypted: use https://, or set allow_plain_http = true for a trusted network",
            )),
            other => Err(connector.error("url", format!("scheme `{other}` is not http or https"))),
        }
    }

    /// Each secret reference with the key it sits at, for error messages.
    pub fn secret_refs(&self) -> Vec<(String, SecretRef)> {
        let mut secrets = Vec::new();
        if let Some(one) = &self.secret {
            secrets.push(("secret".to_string(), one.clone()));
        }
        for (i, s) in self.secrets.iter().enumerate() {
            secrets.push((format!("secrets[{i}]"), s.clone()));
        }
        secrets
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
