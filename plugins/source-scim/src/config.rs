//! The `[[sources]] type = "scim"` table, and the checks that need no I/O.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};
use writeback_listener::{PlainHttp, Refusal, Transport};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    /// Address to listen on, e.g. `0.0.0.0:8443`.
    pub listen: SocketAddr,
    /// Certificate and key (PEM) for HTTPS. Required unless `plain_http_on_loopback`.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Serve plain HTTP. Only accepted when `listen` is a loopback address: for tests and
    /// for a TLS-terminating proxy on the same machine.
    #[serde(default)]
    pub plain_http_on_loopback: bool,
    /// The bearer token the identity provider sends (`{ env = "…" }` or `{ file = "…" }`).
    pub token: SecretRef,
    /// The name of the `[[targets]]` entry whose accounts `/Users` shows.
    pub target: String,
    /// Path prefix of the SCIM base URL (`https://host:port/scim/v2`).
    #[serde(default = "default_base_path")]
    pub base_path: String,
    /// The public base URL (`https://scim.example.org/scim/v2`) for `meta.location`, when a
    /// proxy changes host or port. Default: taken from each request's `Host`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Largest request body in bytes; a larger one gets 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Most resources in one page of `GET /Users` (the `filter.maxResults` published).
    #[serde(default = "default_max_results")]
    pub max_results: usize,
    /// Most accounts read from the directory for one listing without a filter.
    #[serde(default = "default_max_listed")]
    pub max_listed: usize,
    /// What to do with changes to attributes other than `password` (and `active`):
    /// `refuse` (400 `mutability`) or `ignore`.
    #[serde(default)]
    pub other_attributes: OtherAttributes,
    /// A PATCH/PUT setting `active` to true clears a lockout (an unlock request).
    #[serde(default)]
    pub unlock_on_activate: bool,
    /// Pushed passwords must be changed at next logon (usually false: the person chose it).
    #[serde(default)]
    pub must_change: bool,
    /// Seconds during which an identical retry of a push reuses the first request id, so
    /// the pipeline answers it with the first outcome instead of writing twice.
    #[serde(default = "default_retry_window")]
    pub retry_window_secs: u64,
    /// Header carrying a client-chosen idempotency key, used as the request id when present.
    #[serde(default = "default_idempotency_header")]
    pub idempotency_header: String,
    /// Seconds to wait for a pushed request's outcome (the HTTP response waits).
    #[serde(default = "default_outcome_timeout")]
    pub outcome_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a client gets to send a request body, once its headers are in; a slower
    /// one gets 408 and its connection slot back.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: u64,
    /// How SCIM attributes map to directory attributes and cloud identity attributes.
    #[serde(default)]
    pub attributes: AttributeMap,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherAttributes {
    #[default]
    Refuse,
    Ignore,
}

/// One SCIM attribute: the directory attribute it is read from, and the cloud identity
/// attribute (`username`, `mail`, `immutable_id`, an `extra` key …) the target searches by
/// and the pipeline resolves with.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Mapped {
    pub directory: String,
    pub identity: String,
}

impl Mapped {
    fn new(directory: &str, identity: &str) -> Self {
        Mapped {
            directory: directory.to_ascii_lowercase(),
            identity: identity.to_string(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMap {
    /// The cloud identity attribute the target maps to its stable id (the `openldap`
    /// target maps `object_id` to entryUUID): `GET /Users/{id}` searches by it.
    #[serde(default = "default_id_identity")]
    pub id_identity: String,
    #[serde(rename = "userName", default = "default_user_name")]
    pub user_name: Mapped,
    #[serde(rename = "externalId", default)]
    pub external_id: Option<Mapped>,
    #[serde(default = "default_email")]
    pub email: Option<Mapped>,
    #[serde(rename = "displayName", default = "default_display_name")]
    pub display_name: Option<String>,
    #[serde(rename = "givenName", default = "default_given_name")]
    pub given_name: Option<String>,
    #[serde(rename = "familyName", default = "default_family_name")]
    pub family_name: Option<String>,
}

impl Default for AttributeMap {
    fn default() -> Self {
        AttributeMap {
            id_identity: default_id_identity(),
            user_name: default_user_name(),
            external_id: None,
            email: default_email(),
            display_name: default_display_name(),
            given_name: default_given_name(),
            family_name: default_family_name(),
        }
    }
}

impl AttributeMap {
    /// Directory attribute names are compared in lower case (as `Account` keys are).
    pub(crate) fn normalize(&mut self) {
        let lower = |s: &mut String| *s = s.to_ascii_lowercase();
        lower(&mut self.user_name.directory);
        if let Some(m) = &mut self.external_id {
            lower(&mut m.directory);
        }
        if let Some(m) = &mut self.email {
            lower(&mut m.directory);
        }
        for s in [
            &mut self.display_name,
            &mut self.given_name,
            &mut self.family_name,
        ]
        .into_iter()
        .flatten()
        {
            lower(s);
        }
    }
}

fn default_base_path() -> String {
    "/scim/v2".into()
}
fn default_max_body() -> usize {
    64 * 1024
}
fn default_max_results() -> usize {
    200
}
fn default_max_listed() -> usize {
    10_000
}
fn default_retry_window() -> u64 {
    600
}
fn default_idempotency_header() -> String {
    "Idempotency-Key".into()
}
fn default_outcome_timeout() -> u64 {
    60
}
fn default_id_identity() -> String {
    "object_id".into()
}
fn default_user_name() -> Mapped {
    Mapped::new("uid", "username")
}
fn default_email() -> Option<Mapped> {
    Some(Mapped::new("mail", "mail"))
}
fn default_display_name() -> Option<String> {
    Some("cn".into())
}
fn default_given_name() -> Option<String> {
    Some("givenname".into())
}
fn default_max_connections() -> usize {
    1024
}
fn default_body_timeout() -> u64 {
    30
}

fn default_family_name() -> Option<String> {
    Some("sn".into())
}

impl ScimConfig {
    /// Parses and checks the table: everything that can be known without I/O.
    pub fn from_connector(config: &ConnectorConfig) -> Result<Self, ConfigError> {
        let mut parsed: ScimConfig = config.parse()?;
        parsed.attributes.normalize();
        parsed.check(config)?;
        Ok(parsed)
    }

    pub(crate) fn check(&mut self, config: &ConnectorConfig) -> Result<(), ConfigError> {
        let plain = if self.plain_http_on_loopback {
            PlainHttp::OnLoopback
        } else {
            PlainHttp::Never
        };
        Transport::choose(self.tls.is_some(), plain, self.listen).map_err(|r| match r {
            Refusal::Both => config.error(
                "plain_http_on_loopback",
                "give either `tls` or `plain_http_on_loopback = true`, not both",
            ),
            Refusal::NeedsTls => config.error(
                "tls",
                "passwords travel over this endpoint: set `tls = { cert_file = \"…\", key_file = \"…\" }` \
                 (plain HTTP only with `plain_http_on_loopback = true` on a loopback address)",
            ),
            Refusal::NotLoopback => config.error(
                "listen",
                format!(
                    "plain HTTP is only allowed on a loopback address, not {}: configure `tls`",
                    self.listen
                ),
            ),
        })?;
        if !(1..=100_000).contains(&self.max_connections) {
            return Err(config.error("max_connections", "must be between 1 and 100000"));
        }
        if !(1..=600).contains(&self.body_timeout_secs) {
            return Err(config.error("body_timeout_secs", "must be between 1 and 600"));
        }
        self.token
            .check()
            .map_err(|e| config.error("token", e.to_string()))?;
        if self.target.trim().is_empty() {
            return Err(config.error(
                "target",
                "name the `[[targets]]` entry whose accounts /Users shows",
            ));
        }
        let path = self.base_path.trim_end_matches('/');
        if !path.is_empty() && !path.starts_with('/') {
            return Err(config.error("base_path", "must start with `/`, e.g. \"/scim/v2\""));
        }
        self.base_path = path.to_string();
        if let Some(url) = &mut self.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(config.error("public_url", "must be an absolute http(s) URL"));
            }
            *url = url.trim_end_matches('/').to_string();
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(config.error("max_body_bytes", "must be between 1024 and 16777216"));
        }
        if !(1..=10_000).contains(&self.max_results) {
            return Err(config.error("max_results", "must be between 1 and 10000"));
        }
        if self.max_listed < self.max_results {
            return Err(config.error("max_listed", "must be at least `max_results`"));
        }
        if self.outcome_timeout_secs == 0 {
            return Err(config.error("outcome_timeout_secs", "must be at least 1"));
        }
        if self
            .idempotency_header
            .parse::<axum::http::HeaderName>()
            .is_err()
        {
            return Err(config.error("idempotency_header", "is not a valid HTTP header name"));
        }
        Ok(())
    }
}
