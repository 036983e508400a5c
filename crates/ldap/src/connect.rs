//! Opening connections: the URL and security checks, TCP with `TCP_NODELAY` (ldap3
//! leaves Nagle on, which costs ~40 ms per connect+bind), LDAPS or StartTLS verified
//! against the configured CA, and timeouts on every step.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, StdStream};
use rustls::ClientConfig;
use tokio::net::TcpStream;
use writeback_core::Password;

use crate::error::{LdapFailure, Reply};
use crate::session::Session;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://` upgraded with the StartTLS extended operation before anything else.
    StartTls,
    /// `ldap://` in clear: only when the config says `allow_plaintext = true`.
    Plain,
}

/// What a target's config says about reaching its directory.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `ldaps://host[:port]` or `ldap://host[:port]`.
    pub url: String,
    /// Upgrade an `ldap://` URL with StartTLS.
    pub starttls: bool,
    /// PEM file with the CA certificate(s) that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Permit `ldap://` without StartTLS (passwords in clear: loopback tests only).
    pub allow_plaintext: bool,
    /// Limit for TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Limit for each LDAP operation.
    pub operation_timeout: Duration,
}

impl ConnectOptions {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(url: impl Into<String>) -> Self {
        ConnectOptions {
            url: url.into(),
            starttls: false,
            ca_file: None,
            allow_plaintext: false,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: Self::DEFAULT_OPERATION_TIMEOUT,
        }
    }
}

/// A configuration problem, with the config key it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError {
    pub key: &'static str,
    pub message: String,
}

impl OptionError {
    fn new(key: &'static str, message: impl Into<String>) -> Self {
        OptionError {
            key,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for OptionError {}

/// Checks the URL and security settings without I/O (for a factory's `validate`).
pub fn check_options(options: &ConnectOptions) -> Result<Security, OptionError> {
    let (scheme, _, _) = split_url(&options.url)?;
    let security =
        match (scheme, options.starttls) {
            ("ldaps", true) => return Err(OptionError::new(
                "starttls",
                "StartTLS is for ldap:// URLs; an ldaps:// URL is already TLS — remove `starttls`",
            )),
            ("ldaps", false) => Security::Ldaps,
            (_, true) => Security::StartTls,
            (_, false) if options.allow_plaintext => Security::Plain,
            (_, false) => {
                return Err(OptionError::new(
                    "url",
                    format!(
                    "`{}` sends passwords in clear text: use ldaps://, or set `starttls = true`, \
                     or (for loopback tests only) `allow_plaintext = true`",
                    options.url
                ),
                ))
            }
        };
    if options.connect_timeout.is_zero() || options.operation_timeout.is_zero() {
        return Err(OptionError::new(
            "timeout_ms",
            "timeouts must be greater than zero",
        ));
    }
    Ok(security)
}

/// The host of an LDAP URL, when the URL is well-formed.
pub fn host_of(url: &str) -> Option<&str> {
    split_url(url).ok().map(|(_, host, _)| host)
}

/// Splits `scheme://host[:port][/]` into its parts (port defaults by scheme).
fn split_url(url: &str) -> Result<(&'static str, &str, u16), OptionError> {
    let bad = |m: &str| OptionError::new("url", format!("`{url}`: {m}"));
    let (scheme, rest, default_port) = if let Some(rest) = url.strip_prefix("ldaps://") {
        ("ldaps", rest, 636)
    } else if let Some(rest) = url.strip_prefix("ldap://") {
        ("ldap", rest, 389)
    } else {
        return Err(bad("the URL must start with ldaps:// or ldap://"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '@', ' ']) {
        return Err(bad(
            "give only scheme, host and port (no DN, attributes or user)",
        ));
    }
    if authority.starts_with('[') {
        return Err(bad(
            "IPv6 address literals are not supported; use a host name",
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
            (host, port)
        }
        _ => (authority, default_port),
    };
    if host.is_empty() || port == 0 {
        return Err(bad("the URL has no host or a zero port"));
    }
    Ok((scheme, host, port))
}

/// Opens connections to one directory. Cheap to share behind an `Arc`.
pub struct Connector {
    /// `scheme://host:port`, as errors and admin details name the server.
    server: Arc<str>,
    host: String,
    port: u16,
    security: Security,
    tls: Option<Arc<ClientConfig>>,
    /// Whom the server's certificate must be signed by, as errors name it.
    trust: Trust,
    connect_timeout: Duration,
    operation_timeout: Duration,
}

impl Connector {
    /// Checks the options and loads the CA file, or the system's trust store when no
    /// `ca_file` is given.
    pub fn new(options: &ConnectOptions) -> Result<Self, OptionError> {
        let security = check_options(options)?;
        let (scheme, host, port) = split_url(&options.url)?;
        let (tls, trust) = match (&options.ca_file, security) {
            (_, Security::Plain) => (None, Trust::None),
            (Some(ca), _) => (
                Some(
                    crate::tls::client_config(ca)
                        .map_err(|e| OptionError::new("ca_file", e.to_string()))?,
                ),
                Trust::CaFile(ca.clone()),
            ),
            (None, _) => (
                Some(
                    crate::tls::system_client_config()
                        .map_err(|e| OptionError::new("ca_file", e.to_string()))?,
                ),
                Trust::System,
            ),
        };
        Ok(Connector {
            server: Arc::from(format!("{scheme}://{host}:{port}")),
            host: host.to_string(),
            port,
            security,
            tls,
            trust,
            connect_timeout: options.connect_timeout,
            operation_timeout: options.operation_timeout,
        })
    }

    /// `scheme://host:port` (with `+starttls` when upgraded).
    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn security(&self) -> Security {
        self.security
    }

    /// What the server's certificate is verified against.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    pub fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// A new, unauthenticated connection (TLS established when configured).
    pub async fn connect(&self) -> Result<Session, LdapFailure> {
        let started = Instant::now();
        let server = self.server.to_string();
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| LdapFailure::Timeout {
            server: server.clone(),
            what: "TCP connect",
            after: self.connect_timeout,
        })?
        .map_err(|e| LdapFailure::Connect {
            server: server.clone(),
            detail: e.to_string(),
        })?;
        let transport = |e: std::io::Error| LdapFailure::Connect {
            server: server.clone(),
            detail: e.to_string(),
        };
        tcp.set_nodelay(true).map_err(transport)?;
        let std_stream = tcp.into_std().map_err(transport)?;
        let left = self
            .connect_timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1));
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(left)
            .set_std_stream(StdStream::Tcp(std_stream));
        if let Some(config) = &self.tls {
            settings = settings
                .set_config(config.clone())
                .set_starttls(self.security == Security::StartTls);
        }
        let scheme = if self.security == Security::Ldaps {
            "ldaps"
        } else {
            "ldap"
        };
        let url = format!("{scheme}://{}:{}", self.host, self.port);
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &url)
            .await
            .map_err(|e| self.classify_connect_error(e))?;
        tokio::spawn(async move {
            // A broken connection shows up in the next operation's result.
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(Session::new(
            ldap,
            self.server.clone(),
            self.operation_timeout,
        ))
    }

    /// A new connection bound as `dn`. A refused bind comes back as
    /// [`LdapFailure::Directory`] with the reply (49 for bad credentials, and the
    /// password policy control when the server sent one).
    pub async fn connect_as(&self, dn: &str, password: &Password) -> Result<Session, LdapFailure> {
        let mut session = self.connect().await?;
        session.bind(dn, password).await?;
        Ok(session)
    }

    fn classify_connect_error(&self, e: LdapError) -> LdapFailure {
        let server = self.server.to_string();
        match e {
            LdapError::Timeout { .. } => LdapFailure::Timeout {
                server,
                what: "TLS handshake",
                after: self.connect_timeout,
            },
            LdapError::Rustls { source } => LdapFailure::Tls {
                server,
                detail: self.trust.explain(source.to_string()),
            },
            LdapError::DNSName { source } => LdapFailure::Tls {
                server,
                detail: format!("the host is not a valid TLS server name: {source}"),
            },
            LdapError::LdapResult { result } => LdapFailure::Tls {
                server,
                detail: format!(
                    "StartTLS refused: {}",
                    Reply::from_result(result).describe()
                ),
            },
            LdapError::Io { source } if is_tls_error(&source) => LdapFailure::Tls {
                server,
                detail: self.trust.explain(source.to_string()),
            },
            other => LdapFailure::Connect {
                server,
                detail: other.to_string(),
            },
        }
    }
}

/// Whom a server's certificate must be signed by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Plain LDAP: no certificate.
    None,
    /// The CA certificates of the configured `ca_file`.
    CaFile(PathBuf),
    /// The system's trust store (no `ca_file` configured).
    System,
}

impl Trust {
    /// "verified against …", for self-tests.
    pub fn describe(&self) -> String {
        match self {
            Trust::None => "no certificate (plain LDAP)".into(),
            Trust::CaFile(p) => p.display().to_string(),
            Trust::System => "the system trust store".into(),
        }
    }

    /// A TLS error with what to do about an untrusted certificate.
    fn explain(&self, detail: String) -> String {
        let untrusted =
            detail.contains("UnknownIssuer") || detail.contains("invalid peer certificate");
        match self {
            Trust::System if untrusted => format!(
                "{detail}: the server's certificate is not trusted by the system trust store \
                 (no `ca_file` is configured); set `ca_file` to the PEM file of the CA that \
                 signed it, or add that CA to the system's trust store"
            ),
            Trust::CaFile(p) if untrusted => format!(
                "{detail}: the server's certificate is not signed by a CA in `ca_file` ({})",
                p.display()
            ),
            _ => detail,
        }
    }
}

/// tokio-rustls reports handshake failures (bad certificate, …) as I/O errors that
/// wrap a `rustls::Error`.
fn is_tls_error(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(url: &str) -> ConnectOptions {
        let mut o = ConnectOptions::new(url);
        o.ca_file = Some("ca.pem".into());
        o
    }

    #[test]
    fn plaintext_needs_explicit_consent() {
        let err = check_options(&opts("ldap://127.0.0.1:389")).unwrap_err();
        assert_eq!(err.key, "url");
        assert!(err.message.contains("allow_plaintext"), "{err}");
        let mut o = opts("ldap://127.0.0.1:389");
        o.allow_plaintext = true;
        assert_eq!(check_options(&o), Ok(Security::Plain));
        o.allow_plaintext = false;
        o.starttls = true;
        assert_eq!(check_options(&o), Ok(Security::StartTls));
        assert_eq!(check_options(&opts("ldaps://h")), Ok(Security::Ldaps));
    }

    #[test]
    fn tls_without_a_ca_file_uses_the_system_store() {
        let mut o = opts("ldaps://h");
        o.ca_file = None;
        assert_eq!(check_options(&o), Ok(Security::Ldaps));
        let connector = Connector::new(&o).unwrap();
        assert_eq!(connector.trust(), &Trust::System);
    }

    #[test]
    fn urls() {
        assert_eq!(split_url("ldaps://h").unwrap(), ("ldaps", "h", 636));
        assert_eq!(split_url("ldap://h:1389/").unwrap(), ("ldap", "h", 1389));
        assert!(split_url("http://h").is_err());
        assert!(split_url("ldaps://h/dc=x").is_err());
        assert!(split_url("ldaps://h:x").is_err());
        assert!(split_url("ldaps://").is_err());
        assert!(split_url("ldaps://h:0").is_err());
        assert!(split_url("ldaps://[::1]:636").is_err());
    }

    #[tokio::test]
    async fn refused_connection_is_fast_and_names_the_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut o = ConnectOptions::new(format!("ldap://127.0.0.1:{port}"));
        o.allow_plaintext = true;
        let connector = Connector::new(&o).unwrap();
        let started = Instant::now();
        let err = connector.connect().await.err().unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(matches!(err, LdapFailure::Connect { .. }), "{err}");
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")));
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        // Accepts TCP but never speaks: a TLS handshake must give up on time.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let dir = std::env::temp_dir().join(format!("wb-ldap-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut o = ConnectOptions::new(format!("ldaps://127.0.0.1:{port}"));
        o.connect_timeout = Duration::from_millis(200);
        o.ca_file = Some(dir.join("ca.pem"));
        std::fs::write(dir.join("ca.pem"), TEST_CA).unwrap();
        let connector = Connector::new(&o).unwrap();
        let err = connector.connect().await.err().unwrap();
        assert!(matches!(err, LdapFailure::Timeout { .. }), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Any syntactically valid CA certificate (generated once for this test).
    const TEST_CA: &str = include_str!("../testdata/ca.pem");
}
