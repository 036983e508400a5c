//! The relying party: OpenID Connect discovery and JWKS (fetched, cached, refreshed on
//! an unknown key id), the authorization request (code flow, PKCE S256, state, nonce),
//! the code exchange, and every check of the ID token: signature by a published key
//! with an allowed algorithm, `iss`, `aud`/`azp`, `exp`/`iat` with a bounded skew,
//! `nonce`, and the operator's `max_auth_age`, `acr` and `amr` requirements.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use writeback_core::Password;

/// Where the operating system keeps its CA bundle (Debian, Ubuntu, Alpine).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Discovery and keys are fetched again after this long.
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// An unknown key id fetches the JWKS again, at most this often (a token with a made-up
/// `kid` must not make the page hammer the provider).
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// The largest ID token accepted.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a sign-in was refused. Shown to the operator in the log; the person sees a
/// general "your sign-in could not be verified".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignInError {
    #[error("the identity provider cannot be reached or answered badly: {0}")]
    Provider(String),
    #[error("the ID token is malformed: {0}")]
    Malformed(&'static str),
    #[error(
        "the ID token is signed with `{0}`, which is not accepted (RS*, PS*, ES256, ES384 are)"
    )]
    Algorithm(String),
    #[error("the ID token's signature does not verify with any key the provider publishes")]
    Signature,
    #[error("the ID token was issued by `{0}`, not by the configured issuer")]
    Issuer(String),
    #[error("the ID token is for another client (aud/azp), not this one")]
    Audience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is dated in the future (iat): check the clocks")]
    NotYetValid,
    #[error("the ID token's nonce does not match this sign-in (a replayed or foreign token)")]
    Nonce,
    #[error("the sign-in is older than max_auth_age (or the provider sent no auth_time)")]
    TooOld,
    #[error("the sign-in does not meet the required acr/amr (e.g. multi-factor)")]
    Assurance,
}

/// What the discovery document says, the parts used.
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

#[derive(Clone, Debug, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// The operator's requirements on a sign-in.
#[derive(Clone, Debug, Default)]
pub struct Requirements {
    pub max_auth_age: Option<Duration>,
    pub acr_values: Vec<String>,
    pub required_amr: Vec<String>,
    pub skew: Duration,
}

struct Cached<T> {
    value: T,
    at: Instant,
}

/// A configured OpenID Connect provider.
pub struct Provider {
    issuer: String,
    client_id: String,
    client_secret: Password,
    scopes: Vec<String>,
    pub requirements: Requirements,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<Cached<Metadata>>>,
    keys: tokio::sync::Mutex<Option<Cached<Vec<Jwk>>>>,
    last_refresh: Mutex<Option<Instant>>,
}

/// The signed-in person's claims, checked.
pub type Claims = Map<String, Value>;

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An HTTP client that trusts the system's CAs and `ca_file`, follows no redirects.
pub fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("writeback-portal/", env!("CARGO_PKG_VERSION")));
    let mut bundles = Vec::new();
    if let Ok(pem) = std::fs::read(SYSTEM_CA_BUNDLE) {
        bundles.push(pem);
    }
    if let Some(path) = ca_file {
        bundles
            .push(std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?);
    }
    for pem in bundles {
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

impl Provider {
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: Password,
        scopes: Vec<String>,
        requirements: Requirements,
        http: reqwest::Client,
    ) -> Provider {
        Provider {
            issuer: issuer.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            client_secret,
            scopes,
            requirements,
            http,
            metadata: tokio::sync::Mutex::new(None),
            keys: tokio::sync::Mutex::new(None),
            last_refresh: Mutex::new(None),
        }
    }

    /// A provider whose keys are `jwks` (a JWKS document) and that never fetches: for
    /// the fuzz targets, which check ID tokens without a network.
    pub(crate) fn with_fixed_keys(
        issuer: &str,
        client_id: &str,
        jwks: &[u8],
        requirements: Requirements,
    ) -> Result<Provider, String> {
        let set: JwkSet =
            serde_json::from_slice(jwks).map_err(|e| format!("not a JWKS document: {e}"))?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let provider = Provider::new(
            issuer,
            client_id,
            Password::new("unused"),
            Vec::new(),
            requirements,
            http,
        );
        *provider
            .keys
            .try_lock()
            .map_err(|_| "keys in use".to_string())? = Some(Cached {
            value: set.keys,
            at: Instant::now(),
        });
        provider.hold_keys();
        Ok(provider)
    }

    /// Counts as just refreshed, so an unknown key id fetches nothing for a while.
    pub(crate) fn hold_keys(&self) {
        *self.last_refresh.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SignInError> {
        let r = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| SignInError::Provider(format!("GET {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(SignInError::Provider(format!(
                "GET {url}: HTTP {}",
                r.status()
            )));
        }
        r.json()
            .await
            .map_err(|e| SignInError::Provider(format!("GET {url}: {e}")))
    }

    /// The discovery document (cached for an hour).
    pub async fn metadata(&self) -> Result<Metadata, SignInError> {
        let mut guard = self.metadata.lock().await;
        if let Some(c) = guard.as_ref() {
            if c.at.elapsed() < CACHE_FOR {
                return Ok(c.value.clone());
            }
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let meta: Metadata = self.get_json(&url).await?;
        if meta.issuer.trim_end_matches('/') != self.issuer {
            return Err(SignInError::Provider(format!(
                "the discovery document names issuer `{}`, not the configured `{}`",
                meta.issuer, self.issuer
            )));
        }
        for (what, url) in [
            ("authorization_endpoint", &meta.authorization_endpoint),
            ("token_endpoint", &meta.token_endpoint),
            ("jwks_uri", &meta.jwks_uri),
        ] {
            if !url.starts_with("https://") {
                return Err(SignInError::Provider(format!(
                    "{what} `{url}` is not https://"
                )));
            }
        }
        *guard = Some(Cached {
            value: meta.clone(),
            at: Instant::now(),
        });
        Ok(meta)
    }

    async fn keys(&self, refresh: bool) -> Result<Vec<Jwk>, SignInError> {
        let mut guard = self.keys.lock().await;
        if let Some(c) = guard.as_ref() {
            if !refresh && c.at.elapsed() < CACHE_FOR {
                return Ok(c.value.clone());
            }
            if refresh {
                let mut last = self.last_refresh.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_some_and(|t| t.elapsed() < REFRESH_AT_MOST_EVERY) {
                    return Ok(c.value.clone());
                }
                *last = Some(Instant::now());
            }
        }
        let meta = self.metadata().await?;
        let set: JwkSet = self.get_json(&meta.jwks_uri).await?;
        let keys: Vec<Jwk> = set
            .keys
            .into_iter()
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
            .collect();
        *guard = Some(Cached {
            value: keys.clone(),
            at: Instant::now(),
        });
        Ok(keys)
    }

    /// The URL the browser is sent to for signing in.
    pub async fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
        force_login: bool,
        ui_locales: &str,
    ) -> Result<String, SignInError> {
        let meta = self.metadata().await?;
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("ui_locales", ui_locales);
        if let Some(age) = self.requirements.max_auth_age {
            q.append_pair("max_age", &age.as_secs().to_string());
        }
        if force_login {
            q.append_pair("prompt", "login");
        }
        if !self.requirements.acr_values.is_empty() {
            q.append_pair("acr_values", &self.requirements.acr_values.join(" "));
        }
        let sep = if meta.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!(
            "{}{sep}{}",
            meta.authorization_endpoint,
            q.finish()
        ))
    }

    /// Trades the code for tokens and returns the ID token's checked claims.
    pub async fn exchange(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
        nonce: &str,
    ) -> Result<Claims, SignInError> {
        let meta = self.metadata().await?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", code_verifier)
            .finish();
        // client_secret_basic: both parts form-encoded first (RFC 6749 2.3.1).
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = STANDARD.encode(format!(
            "{}:{}",
            enc(&self.client_id),
            enc(self.client_secret.expose())
        ));
        let r = self
            .http
            .post(&meta.token_endpoint)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| SignInError::Provider(format!("token endpoint: {e}")))?;
        let status = r.status();
        let answer: Value = r
            .json()
            .await
            .map_err(|e| SignInError::Provider(format!("token endpoint: {e}")))?;
        if !status.is_success() {
            return Err(SignInError::Provider(format!(
                "token endpoint answered HTTP {status}: {}",
                answer["error"].as_str().unwrap_or("no error code")
            )));
        }
        let id_token = answer["id_token"].as_str().ok_or(SignInError::Malformed(
            "the token endpoint sent no id_token",
        ))?;
        self.verify(id_token, nonce, now_secs()).await
    }

    /// Every check of an ID token, at time `now` (seconds since 1970).
    pub async fn verify(&self, token: &str, nonce: &str, now: i64) -> Result<Claims, SignInError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(SignInError::Malformed("too long"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignInError::Malformed(
                "not three dot-separated parts (a JWS)",
            ));
        };
        let header: Map<String, Value> = decode_json(h)?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(SignInError::Malformed("no alg"))?
            .to_string();
        const ACCEPTED: [&str; 8] = [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
        ];
        if !ACCEPTED.contains(&alg.as_str()) {
            return Err(SignInError::Algorithm(alg.chars().take(20).collect()));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string);
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| SignInError::Malformed("the signature is not base64url"))?;
        let signed = &token[..h.len() + 1 + p.len()];
        let mut verified = self
            .check_signature(&alg, kid.as_deref(), signed.as_bytes(), &sig, false)
            .await?;
        if !verified {
            // Keys rotate: an unknown key id may be a new key.
            verified = self
                .check_signature(&alg, kid.as_deref(), signed.as_bytes(), &sig, true)
                .await?;
        }
        if !verified {
            return Err(SignInError::Signature);
        }
        let claims: Claims = decode_json(p)?;
        self.check_claims(&claims, nonce, now)?;
        Ok(claims)
    }

    async fn check_signature(
        &self,
        alg: &str,
        kid: Option<&str>,
        message: &[u8],
        sig: &[u8],
        refresh: bool,
    ) -> Result<bool, SignInError> {
        let keys = self.keys(refresh).await?;
        let candidates = keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid);
        for key in candidates {
            if verify_with(alg, key, message, sig)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn check_claims(&self, c: &Claims, nonce: &str, now: i64) -> Result<(), SignInError> {
        let skew = i64::try_from(self.requirements.skew.as_secs()).unwrap_or(60);
        let iss = c.get("iss").and_then(Value::as_str).unwrap_or_default();
        if iss.trim_end_matches('/') != self.issuer {
            return Err(SignInError::Issuer(iss.chars().take(200).collect()));
        }
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => a == &self.client_id,
            Some(Value::Array(list)) => {
                list.iter().any(|a| a.as_str() == Some(&self.client_id))
                    && (list.len() == 1
                        || c.get("azp").and_then(Value::as_str) == Some(&self.client_id))
            }
            _ => false,
        };
        // Present, `azp` must be this client's id as a string: any other value (a
        // number, a list) is refused, not overlooked (found by the fuzz target).
        let azp_ok = match c.get("azp") {
            None => true,
            Some(Value::String(azp)) => azp == &self.client_id,
            Some(_) => false,
        };
        if !aud_ok || !azp_ok {
            return Err(SignInError::Audience);
        }
        let exp = c
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(SignInError::Malformed("no exp"))?;
        if now > exp.saturating_add(skew) {
            return Err(SignInError::Expired);
        }
        let iat = c
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(SignInError::Malformed("no iat"))?;
        if iat > now.saturating_add(skew) {
            return Err(SignInError::NotYetValid);
        }
        let got = c.get("nonce").and_then(Value::as_str).unwrap_or_default();
        if got.is_empty() || !ring_eq(got.as_bytes(), nonce.as_bytes()) {
            return Err(SignInError::Nonce);
        }
        if let Some(max) = self.requirements.max_auth_age {
            let max = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
            let at = c.get("auth_time").and_then(Value::as_i64);
            if at.is_none_or(|t| now.saturating_sub(t) > max.saturating_add(skew)) {
                return Err(SignInError::TooOld);
            }
        }
        if !self.requirements.acr_values.is_empty() {
            let acr = c.get("acr").and_then(Value::as_str).unwrap_or_default();
            if !self.requirements.acr_values.iter().any(|a| a == acr) {
                return Err(SignInError::Assurance);
            }
        }
        if !self.requirements.required_amr.is_empty() {
            let amr: Vec<&str> = c
                .get("amr")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !self
                .requirements
                .required_amr
                .iter()
                .any(|r| amr.contains(&r.as_str()))
            {
                return Err(SignInError::Assurance);
            }
        }
        Ok(())
    }
}

fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, SignInError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| SignInError::Malformed("a part is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| SignInError::Malformed("a part is not a JSON object"))
}

fn b64(field: &Option<String>) -> Result<Vec<u8>, SignInError> {
    field
        .as_deref()
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .ok_or(SignInError::Provider(
            "a published key lacks a field".into(),
        ))
}

/// Whether `sig` is `key`'s signature of `message` under `alg`. A key of another type
/// than `alg` needs is no match (not an error).
fn verify_with(alg: &str, key: &Jwk, message: &[u8], sig: &[u8]) -> Result<bool, SignInError> {
    let rsa: Option<&'static signature::RsaParameters> = match alg {
        "RS256" => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
        "PS256" => Some(&signature::RSA_PSS_2048_8192_SHA256),
        "PS384" => Some(&signature::RSA_PSS_2048_8192_SHA384),
        "PS512" => Some(&signature::RSA_PSS_2048_8192_SHA512),
        _ => None,
    };
    if let Some(params) = rsa {
        if key.kty != "RSA" {
            return Ok(false);
        }
        let (n, e) = (b64(&key.n)?, b64(&key.e)?);
        return Ok(RsaPublicKeyComponents { n: &n, e: &e }
            .verify(params, message, sig)
            .is_ok());
    }
    let (ec, crv): (&'static signature::EcdsaVerificationAlgorithm, &str) = match alg {
        "ES256" => (&signature::ECDSA_P256_SHA256_FIXED, "P-256"),
        "ES384" => (&signature::ECDSA_P384_SHA384_FIXED, "P-384"),
        other => return Err(SignInError::Algorithm(other.chars().take(20).collect())),
    };
    if key.kty != "EC" || key.crv.as_deref() != Some(crv) {
        return Ok(false);
    }
    let mut point = vec![4u8];
    point.extend(b64(&key.x)?);
    point.extend(b64(&key.y)?);
    Ok(UnparsedPublicKey::new(ec, &point)
        .verify(message, sig)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::json;

    /// A provider whose keys are set by hand (no network): the claim and signature checks.
    fn provider_with(key: &EcdsaKeyPair, requirements: Requirements) -> Provider {
        let public = key.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: Some("k1".into()),
            use_: None,
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(URL_SAFE_NO_PAD.encode(&public[1..33])),
            y: Some(URL_SAFE_NO_PAD.encode(&public[33..65])),
        };
        let p = Provider::new(
            "https://idp.example.org",
            "portal",
            Password::new("client-secret"),
            vec!["openid".into()],
            requirements,
            reqwest::Client::new(),
        );
        *p.keys.try_lock().unwrap() = Some(Cached {
            value: vec![jwk],
            at: Instant::now(),
        });
        // A refresh must not go to the network in these tests.
        *p.last_refresh.lock().unwrap() = Some(Instant::now());
        p
    }

    fn key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn sign(key: &EcdsaKeyPair, header: Value, claims: Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{h}.{c}");
        let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn good_claims(now: i64) -> Value {
        json!({"iss": "https://idp.example.org", "aud": "portal", "sub": "s1", "nonce": "n1",
               "iat": now - 5, "exp": now + 300, "auth_time": now - 10})
    }

    fn header() -> Value {
        json!({"alg": "ES256", "kid": "k1"})
    }

    #[tokio::test]
    async fn a_good_token_passes_and_each_bad_one_is_refused_for_its_reason() {
        let now = 1_800_000_000;
        let k = key();
        let p = provider_with(
            &k,
            Requirements {
                skew: Duration::from_secs(60),
                max_auth_age: Some(Duration::from_secs(300)),
                ..Default::default()
            },
        );
        let ok = sign(&k, header(), good_claims(now));
        assert_eq!(p.verify(&ok, "n1", now).await.unwrap()["sub"], "s1");

        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = good_claims(now);
            f(&mut c);
            sign(&k, header(), c)
        };
        let cases: Vec<(String, SignInError)> = vec![
            (with(&|c| c["aud"] = json!("other")), SignInError::Audience),
            (
                with(&|c| c["aud"] = json!(["portal", "other"])),
                SignInError::Audience,
            ),
            (with(&|c| c["azp"] = json!("other")), SignInError::Audience),
            (with(&|c| c["azp"] = json!(12)), SignInError::Audience),
            (
                with(&|c| c["iss"] = json!("https://evil.example")),
                SignInError::Issuer("https://evil.example".into()),
            ),
            (with(&|c| c["exp"] = json!(now - 61)), SignInError::Expired),
            (
                with(&|c| c["iat"] = json!(now + 3600)),
                SignInError::NotYetValid,
            ),
            (with(&|c| c["nonce"] = json!("n0")), SignInError::Nonce),
            (
                with(&|c| {
                    c.as_object_mut().unwrap().remove("nonce");
                }),
                SignInError::Nonce,
            ),
            (
                with(&|c| c["auth_time"] = json!(now - 1000)),
                SignInError::TooOld,
            ),
            (
                with(&|c| {
                    c.as_object_mut().unwrap().remove("auth_time");
                }),
                SignInError::TooOld,
            ),
        ];
        for (token, want) in cases {
            assert_eq!(p.verify(&token, "n1", now).await.unwrap_err(), want);
        }
        // Another key, the same kid: the signature does not verify.
        let forged = sign(&key(), header(), good_claims(now));
        assert_eq!(
            p.verify(&forged, "n1", now).await.unwrap_err(),
            SignInError::Signature
        );
        // A changed payload under the original signature.
        let mut parts: Vec<String> = ok.split('.').map(String::from).collect();
        let mut c = good_claims(now);
        c["sub"] = json!("admin");
        parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
        assert_eq!(
            p.verify(&parts.join("."), "n1", now).await.unwrap_err(),
            SignInError::Signature
        );
        // alg none and HMAC are refused outright.
        for alg in ["none", "HS256"] {
            let t = sign(&k, json!({"alg": alg, "kid": "k1"}), good_claims(now));
            assert!(matches!(
                p.verify(&t, "n1", now).await.unwrap_err(),
                SignInError::Algorithm(_)
            ));
        }
        assert!(matches!(
            p.verify("a.b", "n1", now).await.unwrap_err(),
            SignInError::Malformed(_)
        ));
    }

    #[tokio::test]
    async fn amr_and_acr_requirements() {
        let now = 1_800_000_000;
        let k = key();
        let p = provider_with(
            &k,
            Requirements {
                skew: Duration::from_secs(60),
                required_amr: vec!["mfa".into()],
                ..Default::default()
            },
        );
        let mut c = good_claims(now);
        assert_eq!(
            p.verify(&sign(&k, header(), c.clone()), "n1", now)
                .await
                .unwrap_err(),
            SignInError::Assurance
        );
        c["amr"] = json!(["pwd", "mfa"]);
        assert!(p.verify(&sign(&k, header(), c), "n1", now).await.is_ok());
    }
}
