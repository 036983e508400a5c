//! The `[[sources]] type = "portal"` table, and the checks that need no I/O.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use writeback_core::{ConfigError, ConnectorConfig, SecretRef};
use writeback_listener::{SettingError, TlsFiles, Transport};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// `IP:port` to listen on.
    pub listen: String,
    /// The page's address as people's browsers reach it (`https://password.example.org`);
    /// the sign-in comes back to `<public_url>/callback`.
    pub public_url: String,
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    #[serde(default)]
    pub plain_http: Option<String>,
    pub oidc: OidcSettings,
    #[serde(default)]
    pub identity: IdentityMapping,
    /// `"reset"` (the sign-in is the proof; the default) or `"change"` (the person also
    /// types the current password, and the directory checks it).
    #[serde(default = "defaults::mode")]
    pub mode: String,
    /// Offer "I am locked out" (an unlock of the person's own account).
    #[serde(default)]
    pub allow_unlock: bool,
    /// How long a signed-in session lasts (seconds).
    #[serde(default = "defaults::session_seconds")]
    pub session_seconds: u64,
    #[serde(default)]
    pub limits: RateLimits,
    #[serde(default)]
    pub branding: Branding,
    /// What each target is called on the page (`{ ad = "Windows sign-in" }`); the target
    /// name where not given.
    #[serde(default)]
    pub directory_labels: BTreeMap<String, String>,
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer URL; discovery is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretRef,
    /// A CA to trust for the provider (besides the system's), e.g. an internal Keycloak.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// What the sign-in button says: "Sign in with <provider_name>".
    #[serde(default = "defaults::provider_name")]
    pub provider_name: String,
    #[serde(default = "defaults::scopes")]
    pub scopes: Vec<String>,
    /// A sign-in older than this (seconds, from the ID token's `auth_time`) is not
    /// enough to set a password: the person signs in again.
    #[serde(default)]
    pub max_auth_age_seconds: Option<u64>,
    /// Asked for with `acr_values`, and one of them must be in the ID token's `acr`.
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// One of these must be in the ID token's `amr` (e.g. `["mfa"]`).
    #[serde(default)]
    pub required_amr: Vec<String>,
    /// How far the provider's clock may be off (seconds).
    #[serde(default = "defaults::clock_skew_seconds")]
    pub clock_skew_seconds: u64,
}

/// Which ID token claims fill which request identity field: the first claim present
/// wins.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct IdentityMapping {
    #[serde(default = "defaults::object_id")]
    pub object_id: Vec<String>,
    #[serde(default = "defaults::upn")]
    pub upn: Vec<String>,
    #[serde(default = "defaults::mail")]
    pub mail: Vec<String>,
    #[serde(default)]
    pub username: Vec<String>,
    #[serde(default = "defaults::display_name")]
    pub display_name: Vec<String>,
    /// Also set `extra.cloud_anchor = "User_" + <object id>`: the
    /// `msDS-ExternalDirectoryObjectId` Entra Cloud Sync writes on accounts it
    /// provisions into AD (match on it in the AD target).
    #[serde(default)]
    pub cloud_sync_anchor: bool,
}

impl Default for IdentityMapping {
    fn default() -> Self {
        IdentityMapping {
            object_id: defaults::object_id(),
            upn: defaults::upn(),
            mail: defaults::mail(),
            username: Vec::new(),
            display_name: defaults::display_name(),
            cloud_sync_anchor: false,
        }
    }
}

/// Attempts allowed per window, per client address and per account.
#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    #[serde(default = "defaults::window_seconds")]
    pub window_seconds: u64,
    #[serde(default = "defaults::sign_ins")]
    pub sign_ins_per_address: u32,
    #[serde(default = "defaults::checks")]
    pub checks_per_account: u32,
    #[serde(default = "defaults::checks_per_address")]
    pub checks_per_address: u32,
    #[serde(default = "defaults::submits")]
    pub submits_per_account: u32,
    #[serde(default = "defaults::submits_per_address")]
    pub submits_per_address: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            window_seconds: defaults::window_seconds(),
            sign_ins_per_address: defaults::sign_ins(),
            checks_per_account: defaults::checks(),
            checks_per_address: defaults::checks_per_address(),
            submits_per_account: defaults::submits(),
            submits_per_address: defaults::submits_per_address(),
        }
    }
}

/// The operator's look: name, logo, colour, where to get help.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// Shown as the page's heading ("Example Corp password").
    #[serde(default)]
    pub organisation: Option<String>,
    /// An https:// (or same-site /path) URL of a logo image.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// The accent colour, `#rrggbb`.
    #[serde(default)]
    pub accent_colour: Option<String>,
    /// Where the help desk is (https:// or mailto: URL).
    #[serde(default)]
    pub help_url: Option<String>,
    #[serde(default)]
    pub help_text: Option<String>,
}

mod defaults {
    pub fn mode() -> String {
        "reset".into()
    }
    pub fn session_seconds() -> u64 {
        600
    }
    pub fn max_connections() -> usize {
        1024
    }
    pub fn provider_name() -> String {
        "your organisation's account".into()
    }
    pub fn scopes() -> Vec<String> {
        vec!["openid".into(), "profile".into(), "email".into()]
    }
    pub fn clock_skew_seconds() -> u64 {
        60
    }
    pub fn object_id() -> Vec<String> {
        vec!["oid".into(), "sub".into()]
    }
    pub fn upn() -> Vec<String> {
        vec!["upn".into(), "preferred_username".into()]
    }
    pub fn mail() -> Vec<String> {
        vec!["email".into()]
    }
    pub fn display_name() -> Vec<String> {
        vec!["name".into()]
    }
    pub fn window_seconds() -> u64 {
        300
    }
    pub fn sign_ins() -> u32 {
        20
    }
    pub fn checks() -> u32 {
        300
    }
    pub fn checks_per_address() -> u32 {
        600
    }
    pub fn submits() -> u32 {
        5
    }
    pub fn submits_per_address() -> u32 {
        20
    }
}

/// What the person proves besides the sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Reset,
    Change,
}

/// The checked config: the table as parsed, and what the checks worked out from it.
/// Everything `build` needs except files and secrets.
pub struct Checked {
    pub config: PortalConfig,
    pub listen: SocketAddr,
    pub transport: Transport,
    pub mode: Mode,
    /// `public_url` without a trailing slash.
    pub public_url: String,
    pub session: Duration,
}

/// What [`validate`] works out besides the verdict.
pub struct Derived {
    listen: SocketAddr,
    transport: Transport,
    mode: Mode,
    public_url: String,
}

impl Checked {
    /// The parsed table, checked (no I/O); every problem, each naming its key.
    pub fn new(
        config: PortalConfig,
        connector: &ConnectorConfig,
    ) -> Result<Checked, Vec<ConfigError>> {
        let d = validate(&config, connector)?;
        let session = Duration::from_secs(config.session_seconds);
        Ok(Checked {
            config,
            listen: d.listen,
            transport: d.transport,
            mode: d.mode,
            public_url: d.public_url,
            session,
        })
    }
}

/// Parses and checks the table (no I/O): the first problem, for callers that take one.
#[cfg(test)]
pub fn check(connector: &ConnectorConfig) -> Result<Checked, ConfigError> {
    let config: PortalConfig = connector.parse()?;
    Checked::new(config, connector).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .unwrap_or_else(|| connector.error("", "invalid configuration"))
    })
}

/// Every problem of the parsed table (no I/O), each naming its key and what to write.
pub fn validate(
    config: &PortalConfig,
    connector: &ConnectorConfig,
) -> Result<Derived, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let setting = |e: SettingError| connector.error(e.key, e.message);
    let listen = writeback_listener::settings::listen_address(&config.listen)
        .map_err(|e| errors.push(setting(e)))
        .ok();
    let transport = listen.and_then(|listen| {
        writeback_listener::settings::transport(
            config.tls.is_some(),
            config.plain_http.as_deref(),
            listen,
        )
        .map_err(|e| errors.push(setting(e)))
        .ok()
    });
    let public_url = config.public_url.trim_end_matches('/').to_string();
    let loopback_http = public_url.starts_with("http://127.0.0.1")
        || public_url.starts_with("http://localhost")
        || public_url.starts_with("http://[::1]");
    if !(public_url.starts_with("https://") || loopback_http) || public_url.contains(['?', '#']) {
        errors.push(connector.error(
            "public_url",
            "give the page's https:// address as browsers reach it, without ? or # (e.g. \"https://password.example.org\"); \
             the provider sends people back to <public_url>/callback",
        ));
    }
    let issuer = config.oidc.issuer.trim_end_matches('/');
    if !issuer.starts_with("https://") {
        errors.push(connector.error(
            "oidc.issuer",
            "the issuer must be an https:// URL (OpenID Connect requires it)",
        ));
    }
    if config.oidc.client_id.is_empty() {
        errors.push(connector.error("oidc.client_id", "must not be empty"));
    }
    if let Err(e) = config.oidc.client_secret.check() {
        errors.push(connector.error("oidc.client_secret", e.to_string()));
    }
    if !config.oidc.scopes.iter().any(|s| s == "openid") {
        errors.push(connector.error("oidc.scopes", "must include \"openid\""));
    }
    if config.oidc.clock_skew_seconds > 600 {
        errors.push(connector.error("oidc.clock_skew_seconds", "must be at most 600"));
    }
    let mode = match config.mode.as_str() {
        "reset" => Some(Mode::Reset),
        "change" => Some(Mode::Change),
        other => {
            errors.push(connector.error(
                "mode",
                format!("`{other}` is not a mode: \"reset\" or \"change\""),
            ));
            None
        }
    };
    if !(60..=3600).contains(&config.session_seconds) {
        errors.push(connector.error(
            "session_seconds",
            "must be between 60 and 3600 (a password page session is short)",
        ));
    }
    let l = &config.limits;
    if l.window_seconds == 0
        || [
            l.sign_ins_per_address,
            l.checks_per_account,
            l.checks_per_address,
            l.submits_per_account,
            l.submits_per_address,
        ]
        .contains(&0)
    {
        errors.push(connector.error("limits", "every limit and the window must be at least 1"));
    }
    let m = &config.identity;
    if m.object_id.is_empty() && m.upn.is_empty() && m.mail.is_empty() && m.username.is_empty() {
        errors.push(connector.error(
            "identity",
            "map at least one claim to object_id, upn, mail or username",
        ));
    }
    if m.cloud_sync_anchor && m.object_id.is_empty() {
        errors.push(connector.error(
            "identity.cloud_sync_anchor",
            "needs an object_id claim (Entra's `oid`)",
        ));
    }
    let b = &config.branding;
    if let Some(c) = &b.accent_colour {
        let ok =
            c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
        if !ok {
            errors.push(connector.error("branding.accent_colour", "write it as #rrggbb"));
        }
    }
    if let Some(u) = &b.logo_url {
        if !(u.starts_with("https://") || (u.starts_with('/') && !u.starts_with("//")))
            || u.contains(['"', '<', '>', ' '])
        {
            errors.push(connector.error(
                "branding.logo_url",
                "give an https:// URL or a /path on this site",
            ));
        }
    }
    if let Some(u) = &b.help_url {
        if !(u.starts_with("https://") || u.starts_with("mailto:")) || u.contains(['"', '<', '>']) {
            errors.push(connector.error("branding.help_url", "give an https:// or mailto: URL"));
        }
    }
    if !(1..=100_000).contains(&config.max_connections) {
        errors.push(connector.error("max_connections", "must be between 1 and 100000"));
    }
    match (listen, transport, mode) {
        (Some(listen), Some(transport), Some(mode)) if errors.is_empty() => Ok(Derived {
            listen,
            transport,
            mode,
            public_url,
        }),
        _ => Err(errors),
    }
}
