//! The page's boundary parsers for the fuzz targets in fuzz/ (not a stable API): the
//! posted form, cookies and the session they open, the callback's query, and the ID
//! token check with a fixed key set (no network).

use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};

pub use crate::oidc::{Claims, SignInError};
use crate::oidc::{Provider, Requirements};
use crate::session::{Session, Store, SESSION_COOKIE};
pub use crate::wire::{CallbackQuery, MAX_CALLBACK_VALUE, MAX_COOKIE_VALUE};

/// The form fields the page keeps from a posted body, as (name, value).
pub fn form_fields(body: &[u8]) -> Vec<(&'static str, String)> {
    let form = crate::wire::Form::parse(body);
    crate::wire::Form::FIELDS
        .iter()
        .map(|f| (*f, form.get(f).to_string()))
        .collect()
}

/// Request headers with these `Cookie` values (those that are valid header values).
pub fn cookie_headers(values: &[&[u8]]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for v in values {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            headers.append(header::COOKIE, v);
        }
    }
    headers
}

/// The value of cookie `name` as the routes read it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    crate::wire::cookie(headers, name)
}

/// A session store holding one session under `id`.
pub struct OneSession {
    store: Store,
}

impl OneSession {
    pub fn new(id: &str) -> OneSession {
        let store = Store::new(Duration::from_secs(600));
        store.create(
            id.to_string(),
            Session {
                identity: writeback_core::CloudIdentity::default(),
                subject: "fuzz".into(),
                csrf: "csrf".into(),
                started: Instant::now(),
                auth_time: None,
            },
        );
        OneSession { store }
    }

    /// The session id the request's cookies open, as the routes find it.
    pub fn open(&self, headers: &HeaderMap) -> Option<String> {
        let id = crate::wire::cookie(headers, SESSION_COOKIE)?;
        self.store.get(&id).map(|_| id)
    }
}

/// The name of the session cookie.
pub const SESSION_COOKIE_NAME: &str = SESSION_COOKIE;

/// The page's ID token check against a fixed key set.
pub struct IdTokens {
    provider: Provider,
    runtime: tokio::runtime::Runtime,
}

impl IdTokens {
    /// `jwks`: the provider's key set document; the skew is 60 s.
    pub fn new(issuer: &str, client_id: &str, jwks: &[u8]) -> Result<IdTokens, String> {
        let requirements = Requirements {
            skew: Duration::from_secs(60),
            ..Requirements::default()
        };
        let provider = Provider::with_fixed_keys(issuer, client_id, jwks, requirements)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(IdTokens { provider, runtime })
    }

    /// Checks `token` as the callback does (signature, iss, aud/azp, exp, iat, nonce).
    pub fn verify(&self, token: &str, nonce: &str, now: i64) -> Result<Claims, SignInError> {
        self.provider.hold_keys();
        self.runtime
            .block_on(self.provider.verify(token, nonce, now))
    }
}
