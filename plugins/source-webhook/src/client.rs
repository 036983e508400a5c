//! A small client for the webhook source: builds, signs and sends one request. Used by
//! `writeback request` and by tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use writeback_core::{CloudIdentity, Password};
//! use writeback_signing::Secret;
//! use writeback_source_webhook::client::{send, RequestBody};
//!
//! let secret = Secret::parse(&std::env::var("WEBHOOK_SECRET")?)?;
//! let identity = CloudIdentity { upn: Some("alice@example.test".into()), ..Default::default() };
//! let body = RequestBody::reset("req-42", identity, Password::new("read from stdin"), false);
//! let answer = send("https://127.0.0.1:8443", Some("ca.pem".as_ref()), &secret, &body).await?;
//! println!("{} {}: {}", answer.status, answer.reply.outcome, answer.reply.message);
//! # Ok(()) }
//! ```

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use serde::{Serialize, Serializer};
use writeback_core::{CloudIdentity, Initiator, OperationKind, Password};
use writeback_signing::{sign_headers, Secret};
use zeroize::Zeroizing;

use crate::handler::REQUESTS_PATH;
use crate::wire::Reply;

/// Where HTTPS servers with public certificates are checked against when no CA file
/// is given (Debian's bundle).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Longer than any sensible pipeline deadline: the outcome comes back in the reply.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The body of `POST /v1/requests`. Passwords stay in [`Password`] (zeroized, no
/// `Debug`) and are written out only when the body is serialized for sending.
#[derive(Serialize)]
pub struct RequestBody {
    pub id: String,
    pub operation: OperationKind,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub must_change: bool,
    pub identity: CloudIdentity,
    pub initiator: Initiator,
    #[serde(serialize_with = "expose", skip_serializing_if = "Option::is_none")]
    pub new_password: Option<Password>,
    #[serde(serialize_with = "expose", skip_serializing_if = "Option::is_none")]
    pub old_password: Option<Password>,
}

fn expose<S: Serializer>(password: &Option<Password>, s: S) -> Result<S::Ok, S::Error> {
    match password {
        Some(p) => s.serialize_some(p.expose()),
        None => s.serialize_none(),
    }
}

impl RequestBody {
    pub fn reset(
        id: &str,
        identity: CloudIdentity,
        new_password: Password,
        must_change: bool,
    ) -> Self {
        Self::new(
            id,
            OperationKind::Reset,
            identity,
            Some(new_password),
            None,
            must_change,
        )
    }

    pub fn change(
        id: &str,
        identity: CloudIdentity,
        old_password: Password,
        new_password: Password,
    ) -> Self {
        Self::new(
            id,
            OperationKind::Change,
            identity,
            Some(new_password),
            Some(old_password),
            false,
        )
    }

    pub fn unlock(id: &str, identity: CloudIdentity) -> Self {
        Self::new(id, OperationKind::Unlock, identity, None, None, false)
    }

    fn new(
        id: &str,
        operation: OperationKind,
        identity: CloudIdentity,
        new_password: Option<Password>,
        old_password: Option<Password>,
        must_change: bool,
    ) -> Self {
        RequestBody {
            id: id.to_string(),
            operation,
            must_change,
            identity,
            initiator: Initiator::default(),
            new_password,
            old_password,
        }
    }

    /// The JSON bytes, in a buffer zeroized on drop (it holds the passwords).
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        serde_json::to_vec(self)
            .map(Zeroizing::new)
            .map_err(|e| ClientError::Body(e.to_string()))
    }
}

/// What came back: the HTTP status and the reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub reply: Reply,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("CA file: {0}")]
    Ca(String),
    #[error("URL `{0}` is not an http:// or https:// URL")]
    Url(String),
    #[error("cannot build the request body: {0}")]
    Body(String),
    #[error("cannot sign the request: {0}")]
    Sign(String),
    #[error("the request did not get an answer: {0}")]
    Transport(String),
    #[error("unexpected answer (HTTP {status}): {detail}")]
    UnexpectedAnswer { status: u16, detail: String },
}

/// A reusable client (one connection pool, one set of trusted CAs).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// Trusts the certificates in `ca_file` (PEM), or the system bundle without one.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("writeback/", env!("CARGO_PKG_VERSION")));
        let pem = match ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| ClientError::Ca(format!("cannot read {}: {e}", path.display())))?,
            ),
            None => std::fs::read(SYSTEM_CA_BUNDLE).ok(),
        };
        if let Some(pem) = pem {
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ClientError::Ca(format!("not a PEM certificate bundle: {e}")))?;
            if certs.is_empty() && ca_file.is_some() {
                return Err(ClientError::Ca(
                    "the file holds no `BEGIN CERTIFICATE` block".into(),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Client { http })
    }

    /// Signs the body with a fresh `webhook-id` and the current time, and sends it.
    /// `url` is the source's base URL (`https://host:8443`) or the full request URL.
    pub async fn send(
        &self,
        url: &str,
        secret: &Secret,
        body: &RequestBody,
    ) -> Result<Answer, ClientError> {
        let json = body.to_json()?;
        let webhook_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let headers = sign_headers(&[secret], &webhook_id, unix_now(), &json)
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        self.post(url, headers, json.to_vec()).await
    }

    /// Posts raw bytes with the given headers: for tests of what the source refuses.
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let url = requests_url(url)?;
        let response = self
            .http
            .post(url)
            .headers(headers)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Transport(describe(&e)))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| ClientError::Transport(describe(&e)))?;
        match serde_json::from_str::<Reply>(&text) {
            Ok(reply) => Ok(Answer { status, reply }),
            Err(_) => Err(ClientError::UnexpectedAnswer {
                status,
                detail: text.chars().take(200).collect(),
            }),
        }
    }
}

/// One-shot: builds a client and sends one signed request.
pub async fn send(
    url: &str,
    ca_file: Option<&Path>,
    secret: &Secret,
    body: &RequestBody,
) -> Result<Answer, ClientError> {
    Client::new(ca_file)?.send(url, secret, body).await
}

/// Seconds since the Unix epoch, as `webhook-timestamp` wants them.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn requests_url(url: &str) -> Result<reqwest::Url, ClientError> {
    let mut parsed = reqwest::Url::parse(url).map_err(|_| ClientError::Url(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ClientError::Url(url.to_string()));
    }
    if parsed.path() == "/" || parsed.path().is_empty() {
        parsed.set_path(REQUESTS_PATH);
    }
    Ok(parsed)
}

/// reqwest's error with its causes (the TLS reason is usually two levels down).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_serializes_passwords_only_when_sent() {
        let identity = CloudIdentity {
            upn: Some("a@x".into()),
            ..Default::default()
        };
        let body = RequestBody::change(
            "r1",
            identity,
            Password::new("Old-Marker"),
            Password::new("New-Marker"),
        );
        let json = String::from_utf8(body.to_json().unwrap().to_vec()).unwrap();
        assert!(json.contains(r#""old_password":"Old-Marker""#), "{json}");
        assert!(!json.contains("must_change"), "{json}");
        let unlock = RequestBody::unlock("r2", CloudIdentity::default());
        let json = String::from_utf8(unlock.to_json().unwrap().to_vec()).unwrap();
        assert!(!json.contains("password"), "{json}");
    }

    #[test]
    fn base_url_gets_the_requests_path() {
        assert_eq!(
            requests_url("https://h:1").unwrap().as_str(),
            "https://h:1/v1/requests"
        );
        assert_eq!(
            requests_url("http://h:1/custom").unwrap().as_str(),
            "http://h:1/custom"
        );
        assert!(requests_url("ftp://h").is_err());
    }
}
