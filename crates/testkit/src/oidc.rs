//! A real OpenID Connect provider on loopback for tests of sign-in: `oidc-provider`
//! (npm, pinned, installed by `.ci/setup.d/oidc.sh` into `/opt/writeback-test/oidc` or
//! `$WRITEBACK_TEST_OIDC_DIR`) run by Node from `crates/testkit/oidc_provider.mjs`, over
//! HTTPS with a certificate from the test kit's own CA.
//!
//! The test names the clients (id, secret, redirect URIs) and the users (name, password,
//! and the claims their ID token carries: `sub`, `oid`, `upn`, `email` …). People sign
//! in on the provider's HTML login form (`#username`, `#password`, `#sign-in`).
//! [`OidcProvider::misbehave`] makes the token endpoint hand out a bad ID token (wrong
//! audience, a signature by an unpublished key, expired, or the previous token again)
//! so the relying party's refusals can be tested against the real provider.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use crate::process::{free_ports, spawn_tied, stop_child};
use crate::tls::{CertFiles, TestCerts};

/// Where `.ci/setup.d/oidc.sh` installs the provider.
pub const DEFAULT_DIR: &str = "/opt/writeback-test/oidc";

/// A client (relying party) registered at the provider.
#[derive(Clone, Debug)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
}

/// A person who can sign in. `claims` must hold `sub`; the rest is what the ID token
/// carries (with the `profile` and `email` scopes).
#[derive(Clone, Debug)]
pub struct OidcUser {
    pub username: String,
    pub password: String,
    pub claims: Value,
}

/// What the token endpoint does to the ID token it issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehave {
    /// Issues correct tokens (the default).
    Honest,
    /// `aud` names another client; signed with the provider's real key.
    WrongAudience,
    /// Signed with a key the provider's JWKS does not publish.
    WrongSignature,
    /// Expired an hour ago; signed with the real key.
    Expired,
    /// The ID token of the previous sign-in again (its nonce already used).
    Replay,
}

impl Misbehave {
    fn word(self) -> &'static str {
        match self {
            Misbehave::Honest => "honest",
            Misbehave::WrongAudience => "wrong_audience",
            Misbehave::WrongSignature => "wrong_signature",
            Misbehave::Expired => "expired",
            Misbehave::Replay => "replay",
        }
    }
}

/// A running provider; stopped when dropped.
pub struct OidcProvider {
    dir: tempfile::TempDir,
    port: u16,
    certs: CertFiles,
    child: Mutex<Option<Child>>,
}

impl OidcProvider {
    /// Starts the provider on a free loopback port and waits until it listens.
    pub fn start(clients: &[OidcClient], users: &[OidcUser]) -> Result<OidcProvider, String> {
        let install =
            std::env::var("WRITEBACK_TEST_OIDC_DIR").unwrap_or_else(|_| DEFAULT_DIR.to_string());
        let modules = Path::new(&install).join("node_modules");
        if !modules.join("oidc-provider").join("package.json").exists() {
            return Err(format!(
                "oidc-provider is not installed in {install}: run `bash .ci/setup.d/oidc.sh`"
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let certs =
            TestCerts::generate(&["127.0.0.1", "localhost"])?.write_to(&dir.path().join("tls"))?;
        // Node resolves imports next to the script: put it beside a link to the install.
        let script = dir.path().join("provider.mjs");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc_provider.mjs"),
            &script,
        )
        .map_err(|e| format!("copying the provider script: {e}"))?;
        std::os::unix::fs::symlink(&modules, dir.path().join("node_modules"))
            .map_err(|e| format!("linking node_modules: {e}"))?;
        let [port] = free_ports::<1>("127.0.0.1").map_err(|e| format!("free port: {e}"))?;
        let config = json!({
            "port": port,
            "cert": certs.cert,
            "key": certs.key,
            "clients": clients.iter().map(|c| json!({
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "redirect_uris": c.redirect_uris,
            })).collect::<Vec<_>>(),
            "users": users.iter().map(|u| json!({
                "username": u.username,
                "password": u.password,
                "claims": u.claims,
            })).collect::<Vec<_>>(),
        });
        let config_file = dir.path().join("config.json");
        std::fs::write(&config_file, config.to_string())
            .map_err(|e| format!("writing {}: {e}", config_file.display()))?;
        let log = dir.path().join("provider.log");
        let node = std::env::var("WRITEBACK_TEST_NODE").unwrap_or_else(|_| "node".to_string());
        let mut command = Command::new(&node);
        command
            .arg(&script)
            .arg(&config_file)
            .current_dir(dir.path())
            .env("NODE_ENV", "test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(&log).map_err(|e| format!("provider log: {e}"))?,
            ));
        let mut child = spawn_tied(command).map_err(|e| {
            format!("cannot run {node}: {e}; install Node (>= 18) and run .ci/setup.d/oidc.sh")
        })?;
        let stdout = child.stdout.take();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = stdout.map(|o| BufReader::new(o).lines());
            let ready = lines
                .as_mut()
                .map(|l| {
                    l.map_while(Result::ok)
                        .any(|line| line.starts_with("READY "))
                })
                .unwrap_or(false);
            let _ = tx.send(ready);
            // Keep draining, so the provider never blocks on a full pipe.
            if let Some(l) = lines {
                for _ in l.map_while(Result::ok) {}
            }
        });
        if !rx.recv_timeout(Duration::from_secs(20)).unwrap_or(false) {
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            stop_child(&mut child, Duration::from_secs(1));
            return Err(format!(
                "the test OpenID Connect provider did not start: {}",
                err.trim()
            ));
        }
        Ok(OidcProvider {
            dir,
            port,
            certs,
            child: Mutex::new(Some(child)),
        })
    }

    /// The issuer URL (`https://127.0.0.1:PORT`), as in the discovery document.
    pub fn issuer(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The CA that signed the provider's certificate (the relying party's `ca_file`).
    pub fn ca_file(&self) -> &Path {
        &self.certs.ca
    }

    /// The provider's log (stderr), for diagnosing a failed test.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("provider.log")
    }

    /// An HTTP client that trusts the provider's CA.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        let pem = std::fs::read(&self.certs.ca).map_err(|e| format!("reading the CA: {e}"))?;
        let ca = reqwest::Certificate::from_pem(&pem).map_err(|e| format!("the CA: {e}"))?;
        reqwest::Client::builder()
            .add_root_certificate(ca)
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))
    }

    /// Changes what the token endpoint does to ID tokens from now on.
    pub async fn misbehave(&self, how: Misbehave) -> Result<(), String> {
        let r = self
            .client()?
            .post(format!("{}/__test/mode", self.issuer()))
            .body(how.word())
            .send()
            .await
            .map_err(|e| format!("telling the provider to misbehave: {e}"))?;
        if r.status().as_u16() != 204 {
            return Err(format!(
                "the provider answered {} to /__test/mode",
                r.status()
            ));
        }
        Ok(())
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            stop_child(&mut child, Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::browser::{Browser, BrowserOptions};
    use base64::Engine;

    /// Discovery and JWKS answer over HTTPS; a person signs in on the provider's form in
    /// a real browser and comes back to the redirect URI with a code.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_person_signs_in_and_gets_a_code() {
        // The redirect target need not answer: the browser's address bar is enough.
        let [rp_port] = free_ports::<1>("127.0.0.1").unwrap();
        let redirect = format!("https://127.0.0.1:{rp_port}/callback");
        let provider = OidcProvider::start(
            &[OidcClient {
                client_id: "portal".into(),
                client_secret: "a-long-client-secret-for-tests-0123456789".into(),
                redirect_uris: vec![redirect.clone()],
            }],
            &[OidcUser {
                username: "ada".into(),
                password: "provider-pass-1".into(),
                claims: json!({"sub": "sub-ada", "oid": "00000000-0000-0000-0000-0000000000ad",
                               "upn": "ada@example.test", "email": "ada@example.test"}),
            }],
        )
        .unwrap();
        let http = provider.client().unwrap();
        let discovery: Value = http
            .get(format!(
                "{}/.well-known/openid-configuration",
                provider.issuer()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], provider.issuer());
        let jwks: Value = http
            .get(discovery["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "RSA");

        let verifier = "a-verifier-of-at-least-forty-three-characters-long-0123";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()),
        );
        let auth = format!(
            "{}?client_id=portal&response_type=code&scope=openid%20profile%20email\
             &redirect_uri={}&state=s1&nonce=n1&code_challenge={challenge}\
             &code_challenge_method=S256",
            discovery["authorization_endpoint"].as_str().unwrap(),
            redirect.replace(':', "%3A").replace('/', "%2F"),
        );
        let browser = Browser::start(BrowserOptions::default()).await.unwrap();
        browser.goto(&auth).await.unwrap();
        browser.wait_for("#username").await.unwrap();
        browser.fill("#username", "ada").await.unwrap();
        browser.fill("#password", "wrong").await.unwrap();
        browser.click("#sign-in").await.unwrap();
        browser
            .wait_for_text("#login-error", "Wrong user name or password")
            .await
            .unwrap();
        browser.fill("#username", "ada").await.unwrap();
        browser.fill("#password", "provider-pass-1").await.unwrap();
        browser.click("#sign-in").await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let mut url = String::new();
        while std::time::Instant::now() < deadline {
            url = browser.current_url().await.unwrap_or_default();
            if url.starts_with(&redirect) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            url.starts_with(&redirect) && url.contains("code=") && url.contains("state=s1"),
            "{url}\n{}",
            std::fs::read_to_string(provider.log_file()).unwrap_or_default()
        );
        provider.misbehave(Misbehave::Expired).await.unwrap();
    }
}
