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

pub struct Checked {
    pub config: WebhookNotifierConfig,
    pub url: reqwest::Url,
    /// Each secret reference with the key it sits at, for error messages.
    pub secrets: Vec<(String, SecretRef)>,
}

pub fn check(connector: &ConnectorConfig) -> Result<Checked, ConfigError> {
    let config: WebhookNotifierConfig = connector.parse()?;
    let url = reqwest::Url::parse(&config.url).map_err(|e| {
        connector.error(
            "url",
            format!("not a URL ({e}); write e.g. \"https://hooks.example.test/writeback\""),
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if config.allow_plain_http || is_loopback(&url) => {}
        "http" => {
            return Err(connector.error(
                "url",
                "events would travel unencrypted: use https://, or set allow_plain_http = true for a trusted network",
            ))
        }
        other => return Err(connector.error("url", format!("scheme `{other}` is not http or https"))),
    }
    if !(1..=300).contains(&config.timeout_seconds) {
        return Err(connector.error("timeout_seconds", "must be between 1 and 300"));
    }
    if config.retries > 10 {
        return Err(connector.error("retries", "at most 10 (the host retries again later)"));
    }
    let mut secrets = Vec::new();
    if let Some(one) = &config.secret {
        secrets.push(("secret".to_string(), one.clone()));
    }
    for (i, s) in config.secrets.iter().enumerate() {
        secrets.push((format!("secrets[{i}]"), s.clone()));
    }
    if secrets.is_empty() {
        return Err(connector.error(
            "secret",
            "a signing secret is required: secret = { env = \"NOTIFY_SECRET\" }",
        ));
    }
    if config.secret.is_some() && !config.secrets.is_empty() {
        return Err(connector.error("secrets", "give either `secret` or `secrets`, not both"));
    }
    for (key, s) in &secrets {
        s.check().map_err(|m| connector.error(key, m))?;
    }
    Ok(Checked {
        config,
        url,
        secrets,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::ConnectorKind;

    fn err(text: &str) -> String {
        let table: toml::Table = toml::from_str(text).unwrap();
        let c = ConnectorConfig::in_code(ConnectorKind::Notifier, "webhook", "hook", table);
        check(&c).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn plain_http_only_to_loopback_or_when_allowed() {
        let s = "secret = { env = \"X\" }\n";
        assert_eq!(err(&format!("url = \"http://127.0.0.1:9/x\"\n{s}")), "");
        assert_eq!(err(&format!("url = \"http://localhost:9/x\"\n{s}")), "");
        assert_eq!(
            err(&format!(
                "url = \"http://hooks.lan/x\"\nallow_plain_http = true\n{s}"
            )),
            ""
        );
        assert!(err(&format!("url = \"http://hooks.lan/x\"\n{s}")).contains("unencrypted"));
        assert!(err(&format!("url = \"ftp://x\"\n{s}")).contains("scheme"));
        assert!(err("url = \"https://x\"").contains("signing secret is required"));
        assert!(err(&format!("url = \"https://x\"\n{s}retries = 99"))
            .contains("`notifiers.hook.retries`"));
    }
}
