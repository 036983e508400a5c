//! Issue 17's proof: the password page through the real `writeback` binary, a real
//! OpenID Connect provider (npm oidc-provider), the real slapd and a real headless
//! Chromium driving the page as a person would: sign in at the provider, see each
//! broken rule named while typing, set a good password, bind with it; refusals of bad
//! ID tokens (wrong audience, wrong signature, expired, replayed nonce), of a form post
//! without the CSRF token, of a pre-flight without a session, and of too many attempts;
//! the page without JavaScript and in German; the marker password in no output.
//!
//! Screenshots go to a temp dir, or to `$WRITEBACK_SCREENSHOTS` (docs/portal when the
//! docs' pictures are refreshed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use writeback_testkit::browser::{Browser, BrowserOptions};
use writeback_testkit::oidc::{Misbehave, OidcClient, OidcProvider, OidcUser};
use writeback_testkit::process::{free_ports, spawn_tied, stop_child};
use writeback_testkit::slapd::{self, Slapd};
use writeback_testkit::tls::TestCerts;
use writeback_tests::binary;
use writeback_tests::engine::write_secret;

use crate::support::*;

const CLIENT_SECRET: &str = "portal-client-secret-9Jx2LmQ7vR4tZ8wK";
const PROVIDER_PASSWORD: &str = "provider-pass-Ada-1";
const INITIAL: &str = "Initial-Pass-1";

/// The binary serving the page, the provider it trusts, and where their output goes.
struct PortalRun {
    dir: tempfile::TempDir,
    url: String,
    http: reqwest::Client,
    log_path: PathBuf,
    audit_path: PathBuf,
    provider: OidcProvider,
    child: std::process::Child,
}

impl Drop for PortalRun {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(5));
    }
}

struct Person {
    uid: String,
    dn: String,
}

impl PortalRun {
    /// Starts the provider with one person (`uid` as preferred_username) and the binary
    /// with the portal source, the OpenLDAP target and the basic policy. `extra` goes
    /// into the portal's table.
    async fn start(slapd: &Slapd, people: &[&str], extra: &str) -> PortalRun {
        let users: Vec<OidcUser> = people
            .iter()
            .map(|uid| OidcUser {
                username: uid.to_string(),
                password: PROVIDER_PASSWORD.into(),
                claims: json!({
                    "sub": format!("sub-{uid}"),
                    "oid": format!("0000-{uid}"),
                    "preferred_username": uid,
                    "email": format!("{uid}@example.test"),
                    "name": "Ada Lovelace",
                }),
            })
            .collect();
        PortalRun::start_with(users, extra, "", |dir| {
            format!(
                "{}{}",
                openldap_target(slapd, dir, "ldap", BY_UID),
                BASIC_POLICY
            )
        })
        .await
    }

    /// As `start`, with the provider's people, more lines for `[sources.identity]`,
    /// and the targets and policies (given the run's directory for their secrets).
    async fn start_with(
        users: Vec<OidcUser>,
        extra: &str,
        identity_extra: &str,
        targets: impl FnOnce(&Path) -> String,
    ) -> PortalRun {
        let [port] = free_ports::<1>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        let url = format!("https://127.0.0.1:{port}");
        let provider = OidcProvider::start(
            &[OidcClient {
                client_id: "portal".into(),
                client_secret: CLIENT_SECRET.into(),
                redirect_uris: vec![format!("{url}/callback")],
            }],
            &users,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let certs = TestCerts::generate(&["127.0.0.1", "localhost"])
            .and_then(|c| c.write_to(&dir.path().join("tls")))
            .unwrap_or_else(|e| panic!("{e}"));
        let secret = write_secret(dir.path(), "client-secret", CLIENT_SECRET);
        let audit_path = dir.path().join("audit.jsonl");
        let config = format!(
            "[audit]\npath = \"{audit}\"\n\n\
             [[sources]]\ntype = \"portal\"\nname = \"page\"\nlisten = \"127.0.0.1:{port}\"\n\
             public_url = \"{url}\"\ntls = {{ cert_file = \"{cert}\", key_file = \"{key}\" }}\n\
             allow_unlock = true\n{extra}\n\
             [sources.oidc]\nissuer = \"{issuer}\"\nclient_id = \"portal\"\n\
             client_secret = {{ file = \"{secret}\" }}\nca_file = \"{idp_ca}\"\n\
             provider_name = \"Test IdP\"\nmax_auth_age_seconds = 600\n\
             [sources.identity]\nusername = [\"preferred_username\"]\n{identity_extra}\n\
             [sources.branding]\norganisation = \"Example Corp\"\naccent_colour = \"#0a7d5a\"\n\
             help_url = \"mailto:helpdesk@example.test\"\nhelp_text = \"helpdesk@example.test\"\n\
             [sources.directory_labels]\nldap = \"Linux, Wi-Fi and VPN sign-in\"\n\n\
             [pipeline]\ndeadline_ms = 15000\n\n{targets}",
            audit = audit_path.display(),
            cert = certs.cert.display(),
            key = certs.key.display(),
            issuer = provider.issuer(),
            secret = secret.display(),
            idp_ca = provider.ca_file().display(),
            targets = targets(dir.path()),
        );
        let config_path = dir.path().join("writeback.toml");
        std::fs::write(&config_path, &config).unwrap_or_else(|e| panic!("{e}"));
        let log_path = dir.path().join("writeback.log");
        let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("{e}"));
        let mut command = Command::new(binary::writeback());
        command
            .args(["--log-format", "json", "run", "-c"])
            .arg(&config_path)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log);
        let child = spawn_tied(command).unwrap_or_else(|e| panic!("{e}"));
        let ca = std::fs::read(&certs.ca).unwrap_or_else(|e| panic!("{e}"));
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&ca).unwrap_or_else(|e| panic!("{e}")),
            )
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let run = PortalRun {
            dir,
            url,
            http,
            log_path,
            audit_path,
            provider,
            child,
        };
        for _ in 0..300 {
            if let Ok(r) = run.http.get(format!("{}/healthz", run.url)).send().await {
                if r.status() == 200 {
                    return run;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the password page did not answer within 15 s; its log:\n{}",
            run.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(&self.audit_path).unwrap_or_default()
    }

    /// The marker is in no output of the binary, its audit log, or the provider's log.
    fn assert_no_leak(&self, marker: &str) {
        assert!(
            !self.log().contains(marker),
            "the writeback log holds the password"
        );
        assert!(
            !self.audit().contains(marker),
            "the audit log holds the password"
        );
        let provider_log = std::fs::read_to_string(self.provider.log_file()).unwrap_or_default();
        assert!(
            !provider_log.contains(marker),
            "the provider's log holds the password"
        );
        let _ = self.dir.path();
    }
}

async fn person(slapd: &Slapd) -> Person {
    let uid = slapd.unique_uid("portal");
    let dn = slapd
        .add_user(&uid, INITIAL, &[("cn", "Ada Lovelace"), ("sn", "Lovelace")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Person { uid, dn }
}

fn screenshot_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("WRITEBACK_SCREENSHOTS") {
        Ok(d) if !d.is_empty() => (PathBuf::from(d), None),
        _ => {
            let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            (t.path().to_path_buf(), Some(t))
        }
    }
}

async fn shot(browser: &Browser, dir: &Path, name: &str) {
    browser
        .screenshot(&dir.join(name))
        .await
        .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
}

/// Signs in at the provider (its login form, unless the browser is signed in there
/// already) and waits for the password form.
async fn sign_in(browser: &Browser, run: &PortalRun, uid: &str) {
    browser
        .goto(&run.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .click("#sign-in")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if browser.find("#who").await.is_err() {
        browser
            .wait_for("#username")
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", run.log()));
        browser
            .fill("#username", uid)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        browser
            .fill("#password", PROVIDER_PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        browser
            .click("#sign-in")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    browser
        .wait_for_text("#who", uid)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", run.log()));
}

/// Types `password` into both fields and waits for "meets every rule".
async fn type_good_password(browser: &Browser, run: &PortalRun, password: &str) {
    for field in ["#new-password", "#confirm-password"] {
        browser
            .fill(field, password)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    browser
        .wait_for_text("#summary", "meets every rule")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", run.log()));
}

/// Submits the form and returns the result once it says "Done".
async fn submit_and_wait(browser: &Browser, run: &PortalRun) -> String {
    browser
        .click("#submit")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for_text("#result", "Done")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", run.log()))
}

fn browser_options() -> BrowserOptions {
    BrowserOptions {
        window: (900, 1000),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_sees_each_broken_rule_and_sets_a_password() {
    let s = slapd::shared();
    let p = person(s).await;
    let run = PortalRun::start(s, &[&p.uid], "").await;
    let (shots, _keep) = screenshot_dir();
    let browser = Browser::start(browser_options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    browser
        .goto(&run.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        browser.text("#sign-in").await.unwrap_or_default(),
        "Sign in with Test IdP"
    );
    shot(&browser, &shots, "sign-in.png").await;
    sign_in(&browser, &run, &p.uid).await;

    // A weak password: each broken rule is named while typing; nothing is written.
    browser
        .fill("#new-password", "short")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for("#verdicts li.fail[data-rule='length.min']")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", run.log()));
    browser
        .wait_for("#verdicts li.fail[data-rule='classes.min_categories']")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let verdicts = browser.text("#verdicts").await.unwrap_or_default();
    assert!(
        verdicts.contains("Use at least 10 characters."),
        "{verdicts}"
    );
    shot(&browser, &shots, "verdicts.png").await;
    assert!(
        s.can_bind(&p.dn, INITIAL).await,
        "a pre-flight wrote something"
    );

    // A good one, twice: every rule met; submit; success per directory; it binds.
    let marker = "Marker-Qz7-portal!";
    type_good_password(&browser, &run, marker).await;
    browser
        .wait_for("#verdicts li.pass[data-rule='confirm.matches']")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    shot(&browser, &shots, "ready.png").await;
    let result = submit_and_wait(&browser, &run).await;
    assert!(result.contains("Your password was updated."), "{result}");
    assert!(
        result.contains("Updated in: Linux, Wi-Fi and VPN sign-in"),
        "{result}"
    );
    shot(&browser, &shots, "success.png").await;
    assert!(
        s.can_bind(&p.dn, marker).await,
        "the new password does not bind"
    );
    assert!(!s.can_bind(&p.dn, INITIAL).await);

    // The password never travelled in a URL, and is in no output.
    let url = browser.current_url().await.unwrap_or_default();
    assert!(!url.contains("Marker"), "{url}");
    run.assert_no_leak(marker);
    let audit = run.audit();
    assert!(audit.contains("\"source\":\"page\""), "{audit}");
    // The session cookie is HttpOnly, Secure, SameSite.
    let cookies = browser.cookies().await.unwrap_or_default();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "__Host-wb-portal")
        .unwrap_or_else(|| panic!("no session cookie: {cookies:?}"));
    assert_eq!(
        (
            &session["httpOnly"],
            &session["secure"],
            &session["sameSite"]
        ),
        (&json!(true), &json!(true), &json!("Lax"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_id_tokens_are_refused() {
    let s = slapd::shared();
    let p = person(s).await;
    let run = PortalRun::start(s, &[&p.uid], "").await;
    let (shots, _keep) = screenshot_dir();
    let browser = Browser::start(browser_options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // An honest sign-in first: the provider then remembers the person, and `replay`
    // has a token to hand out again.
    sign_in(&browser, &run, &p.uid).await;
    let cases = [
        (Misbehave::WrongAudience, "for another client"),
        (Misbehave::WrongSignature, "does not verify"),
        (Misbehave::Expired, "has expired"),
        (Misbehave::Replay, "nonce does not match"),
    ];
    for (i, (how, reason)) in cases.into_iter().enumerate() {
        run.provider
            .misbehave(how)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // A new browser each time: no session from before can mask a refusal.
        let fresh = Browser::start(browser_options())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fresh.goto(&run.url).await.unwrap_or_else(|e| panic!("{e}"));
        fresh
            .click("#sign-in")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fresh
            .wait_for("#username")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fresh
            .fill("#username", &p.uid)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fresh
            .fill("#password", PROVIDER_PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fresh
            .click("#sign-in")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        fresh
            .wait_for_text("#notice", "could not be verified")
            .await
            .unwrap_or_else(|e| panic!("{how:?}: {e}\n{}", run.log()));
        assert!(
            fresh.find("#who").await.is_err(),
            "{how:?}: signed in anyway"
        );
        if i == 0 {
            shot(&fresh, &shots, "refused.png").await;
        }
        fresh.goto(&run.url).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            fresh.find("#who").await.is_err(),
            "{how:?}: a session was made"
        );
        let log = run.log();
        assert!(
            log.contains(reason),
            "{how:?}: the log does not say `{reason}`:\n{log}"
        );
    }
    run.provider
        .misbehave(Misbehave::Honest)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The session cookie and CSRF token a signed-in browser holds, for direct requests.
async fn session_of(browser: &Browser) -> (String, String) {
    let cookies = browser.cookies().await.unwrap_or_default();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "__Host-wb-portal")
        .and_then(|c| c["value"].as_str())
        .unwrap_or_else(|| panic!("no session cookie"))
        .to_string();
    let csrf = browser
        .attribute("#csrf", "value")
        .await
        .unwrap_or_default()
        .unwrap_or_else(|| panic!("no CSRF token on the page"));
    (session, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_sessions_and_rate_limits_guard_the_page() {
    let s = slapd::shared();
    let p = person(s).await;
    let run = PortalRun::start(
        s,
        &[&p.uid],
        "limits = { submits_per_account = 3, checks_per_account = 1000, sign_ins_per_address = 4 }",
    )
    .await;
    let browser = Browser::start(browser_options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sign_in(&browser, &run, &p.uid).await;
    let (session, csrf) = session_of(&browser).await;
    let cookie = format!("__Host-wb-portal={session}");
    let marker = "Marker-Csrf-9!xY";

    // The pre-flight answers nobody without a session, and not without the token.
    let r = run
        .http
        .post(format!("{}/v1/preflight", run.url))
        .header("content-type", "application/json")
        .body(json!({"password": marker}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    let r = run
        .http
        .post(format!("{}/v1/preflight", run.url))
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body(json!({"password": marker}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403);
    let r = run
        .http
        .post(format!("{}/v1/preflight", run.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .body(json!({"password": "short", "confirm": "short"}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(answer["acceptable"], false, "{answer}");
    assert!(answer.to_string().contains("length.min"), "{answer}");

    // A form post without the CSRF token (or from another origin) writes nothing.
    let form = |with_csrf: bool| {
        let mut f = format!(
            "password={m}&confirm={m}",
            m = form_urlencoded_value(marker)
        );
        if with_csrf {
            f.push_str(&format!("&csrf={csrf}"));
        }
        f
    };
    for (body, origin) in [
        (form(false), None),
        (form(true), Some("https://evil.example")),
    ] {
        let mut req = run
            .http
            .post(format!("{}/submit", run.url))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 403);
    }
    assert!(
        s.can_bind(&p.dn, INITIAL).await,
        "a refused post wrote the password"
    );

    // Too many submits for one account in the window: throttled (nothing written).
    let weak = format!("password=short&confirm=short&csrf={csrf}");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = run
            .http
            .post(format!("{}/submit", run.url))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(weak.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![422, 422, 422, 429, 429]);

    // Sign-ins from one address: the browser's was the first of four.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = run
            .http
            .get(format!("{}/login", run.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![303, 303, 303, 429]);
    run.assert_no_leak(marker);
}

fn form_urlencoded_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_without_javascript_and_in_german() {
    let s = slapd::shared();
    let p = person(s).await;
    let run = PortalRun::start(s, &[&p.uid], "").await;
    let (shots, _keep) = screenshot_dir();
    let browser = Browser::start(BrowserOptions {
        javascript: false,
        language: Some("de-DE,de".into()),
        ..browser_options()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    browser
        .goto(&run.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        browser.text("#sign-in").await.unwrap_or_default(),
        "Anmelden mit Test IdP"
    );
    sign_in(&browser, &run, &p.uid).await;
    // No script: the check button posts the form and the server names the rules.
    browser
        .fill("#new-password", "short")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .click("#check")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let verdicts = browser
        .wait_for_text("#verdicts", "Lang genug")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(verdicts.contains("nicht erfüllt"), "{verdicts}");
    // The details too, with the policy's figure (the basic policy's minimum of 10).
    assert!(
        verdicts.contains("Verwenden Sie mindestens 10 Zeichen."),
        "{verdicts}"
    );
    assert!(!verdicts.contains("Use at least"), "{verdicts}");
    shot(&browser, &shots, "verdicts-de-nojs.png").await;
    // Two different entries: refused before anything is sent to the directory.
    let marker = "Marker-Ohne-JS-7!";
    browser
        .fill("#new-password", marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#confirm-password", "Marker-Other-7!")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .click("#submit")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for_text("#verdicts", "Die beiden Eingaben sind nicht gleich.")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.can_bind(&p.dn, INITIAL).await);
    browser
        .fill("#new-password", marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#confirm-password", marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .click("#submit")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let result = browser
        .wait_for_text("#result", "Erledigt")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", run.log()));
    assert!(result.contains("Ihr Passwort wurde geändert."), "{result}");
    assert!(s.can_bind(&p.dn, marker).await);
    run.assert_no_leak(marker);
}

/// `POST /v1/policy-check` on the webhook source: the same signed body as a reset,
/// answered rule by rule against the real slapd account; nothing is written; unsigned
/// bodies are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_source_answers_a_signed_policy_check_without_writing() {
    use writeback_signing::{sign_headers, Secret};
    use writeback_tests::engine::WEBHOOK_SECRET;
    let s = slapd::shared();
    let p = person(s).await;
    let engine = writeback_tests::Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{}{}",
            openldap_target(s, dir, "ldap", BY_UID),
            BASIC_POLICY
        )
    })
    .await;
    let ca = std::fs::read(&engine.ca_file).unwrap_or_else(|e| panic!("{e}"));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap_or_else(|e| panic!("{e}")))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = Secret::parse(WEBHOOK_SECRET).unwrap_or_else(|e| panic!("{e}"));
    let check = |id: &str, password: &str, signed: bool| {
        let body = json!({
            "id": id, "operation": "reset", "new_password": password,
            "identity": {"username": p.uid},
        })
        .to_string();
        let mut req = http
            .post(format!("{}/v1/policy-check", engine.url))
            .header("content-type", "application/json");
        if signed {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let headers = sign_headers(&[&secret], &format!("msg_{id}"), now, body.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            req = req.headers(headers);
        }
        req.body(body).send()
    };
    let weak = check("pc-1", "short", true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(weak.status(), 200);
    let answer: serde_json::Value = weak.json().await.unwrap_or_default();
    assert_eq!(answer["acceptable"], false, "{answer}");
    let failed: Vec<&str> = answer["failed"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        failed.contains(&"length.min") && failed.contains(&"classes.min_categories"),
        "{answer}"
    );
    assert_eq!(answer["targets"][0]["found"], true, "{answer}");

    let marker = "Marker-Check-7!zQ";
    let good = check("pc-2", marker, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(good.status(), 200);
    let answer: serde_json::Value = good.json().await.unwrap_or_default();
    assert_eq!(answer["acceptable"], true, "{answer}");
    assert!(
        answer["passed"].to_string().contains("length.min"),
        "{answer}"
    );
    assert!(
        s.can_bind(&p.dn, INITIAL).await,
        "a policy check wrote the password"
    );
    assert!(!s.can_bind(&p.dn, marker).await);

    let unsigned = check("pc-3", marker, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unsigned.status(), 401);
    assert_no_leak(&engine, None, marker).await;
}

/// `mode = "change"`: the person also types the current password, and the directory
/// checks it; "Unlock my account" clears a lockout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_mode_checks_the_current_password_and_unlock_clears_a_lockout() {
    let s = slapd::shared();
    let p = person(s).await;
    let run = PortalRun::start(s, &[&p.uid], "mode = \"change\"").await;
    // Locked out by failed binds (pwdMaxFailure 3).
    for _ in 0..3 {
        assert_eq!(s.bind_code(&p.dn, "wrong-password").await, Ok(49));
    }
    assert!(!s.can_bind(&p.dn, INITIAL).await, "locked");
    let browser = Browser::start(browser_options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sign_in(&browser, &run, &p.uid).await;
    browser
        .click("#unlock")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for_text("#result", "Your account was unlocked.")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", run.log()));
    assert!(s.can_bind(&p.dn, INITIAL).await, "still locked");

    let marker = "Marker-Change-4!kW";
    browser
        .goto(&run.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#current-password", "Not-The-Current-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#new-password", marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#confirm-password", marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .click("#submit")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for("#result")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        browser
            .attribute("#result", "data-code")
            .await
            .unwrap_or_default()
            .as_deref(),
        Some("wrong_old_password"),
        "{}",
        browser.text("#result").await.unwrap_or_default()
    );
    assert!(
        s.can_bind(&p.dn, INITIAL).await,
        "written with a wrong current password"
    );

    browser
        .goto(&run.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#current-password", INITIAL)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#new-password", marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .fill("#confirm-password", marker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .click("#submit")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .wait_for_text("#result", "Done")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", run.log()));
    assert!(s.can_bind(&p.dn, marker).await);
    run.assert_no_leak(marker);
    run.assert_no_leak("Not-The-Current-1");
}

/// Issue 17's cloud-provisioned AD account: Entra Cloud Sync creates it with
/// `msDS-ExternalDirectoryObjectId = "User_" + <object id>` and nothing else the cloud
/// knows (here: neither the UPN nor the account name match the claims). The page maps
/// the `oid` claim to that anchor, the AD target matches on it, and the person's new
/// password binds at the real Samba DC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_provisioned_ad_account_is_found_by_its_user_oid_anchor() {
    let dc = writeback_testkit::samba::shared().unwrap_or_else(|e| panic!("{e}"));
    let initial = "Initial!Pass-AD-1";
    let sam = dc.unique_name("pcs");
    let user = dc
        .add_user(writeback_testkit::samba::NewUser::new(&sam, initial))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let oid = format!("3f2a9c1e-7d41-4b6a-9e0c-{:012}", std::process::id());
    dc.replace(
        &user.dn,
        "msDS-ExternalDirectoryObjectId",
        &[&format!("User_{oid}")],
    )
    .await
    .unwrap_or_else(|e| panic!("the test DC's schema lacks the anchor attribute: {e}"));

    // The cloud knows this person under names AD has never heard of.
    let login = format!("cloud-{sam}");
    let users = vec![OidcUser {
        username: login.clone(),
        password: PROVIDER_PASSWORD.into(),
        claims: json!({
            "sub": format!("sub-{login}"),
            "oid": oid,
            "preferred_username": format!("{login}@cloud.example"),
            "name": "Grace Hopper",
        }),
    }];
    let run = PortalRun::start_with(
        users,
        "",
        "object_id = [\"oid\"]\ncloud_sync_anchor = true",
        |dir| {
            let svc = dc.service_account();
            let secret = write_secret(dir, "ad-bind", &svc.password);
            format!(
                "[[targets]]\ntype = \"active-directory\"\nname = \"ad\"\nurl = \"{url}\"\n\
                 ca_file = \"{ca}\"\nbind_dn = \"{bind}\"\nbind_password = {{ file = \"{secret}\" }}\n\
                 base_dn = \"{base}\"\nmatch = [{{ attribute = \"msDS-ExternalDirectoryObjectId\" }}]\n\n{BASIC_POLICY}",
                url = dc.ldaps_url(),
                ca = dc.ca_file().display(),
                bind = svc.upn,
                secret = secret.display(),
                base = dc.base_dn(),
            )
        },
    )
    .await;
    let browser = Browser::start(browser_options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sign_in(&browser, &run, &login).await;

    let marker = "Anchor!Marker-Qz9-ad";
    // The pre-flight found the account: every rule met, no "no account" notice.
    type_good_password(&browser, &run, marker).await;
    let result = submit_and_wait(&browser, &run).await;
    assert!(result.contains("Your password was updated."), "{result}");
    dc.bind_as(&user.upn, marker)
        .await
        .unwrap_or_else(|e| panic!("the new password does not bind at the DC: {e:?}"));
    assert!(
        dc.bind_as(&user.upn, initial).await.is_err(),
        "the old password still binds"
    );
    run.assert_no_leak(marker);
}
