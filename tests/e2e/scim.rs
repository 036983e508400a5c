//! Issue 8's proof: an identity provider's SCIM calls (a real HTTP client over HTTPS)
//! against the real host with the SCIM source and the OpenLDAP target on the real
//! slapd: lookups, pages, password pushes that land, refusals as SCIM errors, and the
//! community conformance checker (scim2-tester) finding nothing to complain about.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use writeback_testkit::samba::{self, NewUser};
use writeback_testkit::slapd::{self, Slapd};
use writeback_testkit::tls::TestCerts;
use writeback_tests::engine::write_secret;
use writeback_tests::Engine;

use crate::support::*;

const TOKEN: &str = "scim-e2e-token-5kq2Xv9LmP0wR7tZ";
const INITIAL: &str = "Initial-Pass-1";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An engine with a SCIM source over HTTPS on a free port, reading and writing the
/// shared slapd through the `ldap` target, with the basic policy.
struct Scim {
    engine: Engine,
    base: String,
    http: reqwest::Client,
    ca_file: PathBuf,
}

impl Scim {
    async fn start(slapd: &Slapd, extra: &str) -> Scim {
        Self::start_with(extra, |dir| {
            format!(
                "{}{}",
                openldap_target(slapd, dir, "ldap", BY_UID),
                BASIC_POLICY
            )
        })
        .await
    }

    /// `extra` goes into the SCIM source's table; `targets` gives the `[[targets]]` (one
    /// named `ldap`) and policies.
    async fn start_with(extra: &str, targets: impl FnOnce(&Path) -> String) -> Scim {
        let [port] = writeback_testkit::process::free_ports::<1>("127.0.0.1")
            .unwrap_or_else(|e| panic!("free port: {e}"));
        let mut ca_file = PathBuf::new();
        let extra = extra.to_string();
        let engine = Engine::start(|dir| {
            let scim_dir = dir.join("scim");
            std::fs::create_dir_all(&scim_dir).unwrap_or_else(|e| panic!("{e}"));
            let certs = TestCerts::generate(&["127.0.0.1", "localhost"])
                .and_then(|c| c.write_to(&scim_dir))
                .unwrap_or_else(|e| panic!("certificates: {e}"));
            ca_file = certs.ca.clone();
            let token = write_secret(dir, "scim-token", TOKEN);
            format!(
                "[[sources]]\ntype = \"scim\"\nname = \"scim\"\nlisten = \"127.0.0.1:{port}\"\n\
                 tls = {{ cert_file = \"{cert}\", key_file = \"{key}\" }}\ntoken = {{ file = \"{token}\" }}\n\
                 target = \"ldap\"\nmax_results = 50\nmax_body_bytes = 8192\n{extra}\n\n\
                 [pipeline]\ndeadline_ms = 8000\n\n{targets}",
                cert = certs.cert.display(),
                key = certs.key.display(),
                token = token.display(),
                targets = targets(dir),
            )
        })
        .await;
        let ca = std::fs::read(&ca_file).unwrap_or_else(|e| panic!("ca: {e}"));
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&ca).unwrap_or_else(|e| panic!("ca: {e}")),
            )
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        let scim = Scim {
            engine,
            base: format!("https://127.0.0.1:{port}/scim/v2"),
            http,
            ca_file,
        };
        scim.wait_ready().await;
        scim
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.request("GET", "/ServiceProviderConfig", None).await {
                if r.0 == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the SCIM source did not answer within 5 s");
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value, Option<String>), String> {
        self.send(
            method,
            path,
            body.map(|b| b.to_string().into_bytes()),
            Some(TOKEN),
        )
        .await
    }

    /// Sends raw bytes; returns status, JSON body and the Content-Type.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> Result<(u16, Value, Option<String>), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b);
        }
        let response = req.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            content_type,
        ))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, value, content_type) = self
            .request(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(
            content_type.as_deref(),
            Some("application/scim+json"),
            "{method} {path}"
        );
        (status, value)
    }

    /// The user resource found by `userName eq`.
    async fn find(&self, uid: &str) -> Value {
        let (status, list) = self
            .call(
                "GET",
                &format!("/Users?filter={}", filter_eq("userName", uid)),
                None,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["totalResults"], 1, "{list}");
        list["Resources"][0].clone()
    }
}

fn filter_eq(attribute: &str, value: &str) -> String {
    let text = format!("{attribute} eq \"{value}\"");
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn patch_password(password: &str) -> Value {
    // Okta's form: the password inside a value object, no path.
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"password": password}}]})
}

fn assert_scim_error(body: &Value, status: u16) {
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status.to_string(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

async fn user(slapd: &Slapd, prefix: &str) -> (String, String) {
    let uid = slapd.unique_uid(prefix);
    let mail = format!("{uid}@example.org");
    let dn = slapd
        .add_user(
            &uid,
            INITIAL,
            &[("mail", &mail), ("givenName", "Test"), ("sn", "Person")],
        )
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_by_user_name_and_email_with_pages() {
    let s = slapd::shared();
    let scim = Scim::start(s, "").await;
    let mut uids = Vec::new();
    for _ in 0..3 {
        uids.push(user(s, "scimpage").await.0);
    }
    let found = scim.find(&uids[0]).await;
    assert_eq!(found["userName"], uids[0].as_str());
    assert_eq!(
        found["emails"][0]["value"],
        format!("{}@example.org", uids[0])
    );
    assert_eq!(found["name"]["givenName"], "Test");
    assert!(
        found["id"].as_str().is_some_and(|id| id.len() == 36),
        "entryUUID as id: {found}"
    );
    assert!(found.get("password").is_none());

    // GET by the stable id gives the same resource.
    let id = found["id"].as_str().unwrap_or_default().to_string();
    let (status, by_id) = scim.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(by_id, found);

    // Three users by `or`, two per page: pages do not overlap and cover all three.
    let filter = format!(
        "{}%20or%20{}%20or%20{}",
        filter_eq("userName", &uids[0]),
        filter_eq("emails.value", &format!("{}@example.org", uids[1])),
        filter_eq("userName", &uids[2].to_uppercase()),
    );
    let (_, first) = scim
        .call(
            "GET",
            &format!("/Users?filter={filter}&startIndex=1&count=2"),
            None,
        )
        .await;
    let (_, second) = scim
        .call(
            "GET",
            &format!("/Users?filter={filter}&startIndex=3&count=2"),
            None,
        )
        .await;
    assert_eq!(first["totalResults"], 3, "{first}");
    assert_eq!(first["itemsPerPage"], 2);
    assert_eq!(second["itemsPerPage"], 1);
    assert_eq!(second["startIndex"], 3);
    let mut names: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|p| p["Resources"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["userName"].as_str().map(str::to_string))
        .collect();
    names.sort();
    let mut expected = uids.clone();
    expected.sort();
    assert_eq!(names, expected);

    // The unfiltered listing counts every account, and `attributes` trims resources.
    let (_, all) = scim
        .call("GET", "/Users?count=1&attributes=userName", None)
        .await;
    assert!(
        all["totalResults"].as_u64().is_some_and(|n| n >= 3),
        "{all}"
    );
    assert_eq!(all["Resources"].as_array().map(Vec::len), Some(1));
    assert!(all["Resources"][0].get("emails").is_none());
    assert!(all["Resources"][0].get("id").is_some());

    // An unknown user is an empty list, not an error.
    let (status, none) = scim
        .call(
            "GET",
            &format!("/Users?filter={}", filter_eq("userName", "nobody-here")),
            None,
        )
        .await;
    assert_eq!((status, none["totalResults"].clone()), (200, json!(0)));
    scim.engine.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_patch_and_put_land_in_the_directory() {
    let s = slapd::shared();
    let scim = Scim::start(s, "").await;

    // PATCH, Okta's value-object form.
    let (uid, dn) = user(s, "scimpatch").await;
    let id = scim.find(&uid).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let marker = "Marker-Okta-Form-8zQ!";
    let (status, body) = scim
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_password(marker)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id.as_str());
    assert!(body.get("password").is_none());
    assert!(s.can_bind(&dn, marker).await, "the pushed password binds");
    assert!(
        !s.can_bind(&dn, INITIAL).await,
        "the old one no longer does"
    );

    // The identity provider retries the same push (say its connection dropped): the
    // retry gets the first outcome, and is not written again (which history refuses).
    let (status, body) = scim
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_password(marker)),
        )
        .await;
    assert_eq!(
        status, 200,
        "a retry of a push that landed succeeds: {body}"
    );

    // PUT with the whole resource as read, plus the password.
    let (uid2, dn2) = user(s, "scimput").await;
    let mut resource = scim.find(&uid2).await;
    let id2 = resource["id"].as_str().unwrap_or_default().to_string();
    let marker2 = "Marker-Whole-Res-3wE#";
    resource["password"] = json!(marker2);
    let (status, body) = scim
        .call("PUT", &format!("/Users/{id2}"), Some(resource))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(s.can_bind(&dn2, marker2).await, "the PUT password binds");

    // PATCH, path form.
    let marker3 = "Marker-Path-Form-6tY$";
    let path_form = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "password", "value": marker3}]});
    let (status, body) = scim
        .call("PATCH", &format!("/Users/{id2}"), Some(path_form))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(s.can_bind(&dn2, marker3).await);

    for m in [marker, marker2, marker3] {
        assert_no_leak(&scim.engine, None, m).await;
    }
    scim.engine.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_conformant_scim_errors() {
    let s = slapd::shared();
    let scim = Scim::start(s, "").await;
    let (uid, dn) = user(s, "scimrefuse").await;
    let id = scim.find(&uid).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Too short and one character class: the policy refuses, nothing is written.
    let weak = "markerabc";
    let (status, e) = scim
        .call("PATCH", &format!("/Users/{id}"), Some(patch_password(weak)))
        .await;
    assert_eq!(status, 400, "{e}");
    assert_scim_error(&e, 400);
    assert_eq!(e["scimType"], "invalidValue");
    let detail = e["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("rejected_policy"), "{detail}");
    assert!(
        !detail.contains(weak),
        "the detail never repeats the password"
    );
    assert!(
        s.can_bind(&dn, INITIAL).await,
        "the old password still binds"
    );
    assert!(!s.can_bind(&dn, weak).await);

    // Changing what writeback does not write is refused by default.
    let rename = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Someone Else"}]});
    let (status, e) = scim
        .call("PATCH", &format!("/Users/{id}"), Some(rename))
        .await;
    assert_eq!(
        (status, e["scimType"].clone()),
        (400, json!("mutability")),
        "{e}"
    );

    // An invalid filter.
    let (status, e) = scim
        .call("GET", "/Users?filter=userName%20co%20%22x%22", None)
        .await;
    assert_eq!(status, 400);
    assert_scim_error(&e, 400);
    assert_eq!(e["scimType"], "invalidFilter");

    // An unknown id, for a read and for a push.
    let (status, e) = scim
        .call("GET", "/Users/00000000-0000-0000-0000-000000000000", None)
        .await;
    assert_eq!(status, 404);
    assert_scim_error(&e, 404);
    let (status, _) = scim
        .call(
            "PATCH",
            "/Users/00000000-0000-0000-0000-000000000000",
            Some(patch_password("Marker-Nobody-1aA")),
        )
        .await;
    assert_eq!(status, 404);

    // A bad token and no token.
    for token in [Some("not-the-token-at-all-0000"), None] {
        let (status, e, _) = scim
            .send("GET", "/Users", None, token)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 401);
        assert_scim_error(&e, 401);
    }

    // A body over max_body_bytes (8192).
    let oversized = patch_password(&"x".repeat(10_000)).to_string().into_bytes();
    let (status, e, _) = scim
        .send(
            "PATCH",
            &format!("/Users/{id}"),
            Some(oversized),
            Some(TOKEN),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 413);
    assert_scim_error(&e, 413);

    // Provisioning is refused clearly.
    let (status, e) = scim
        .call("POST", "/Users", Some(json!({"userName": "new"})))
        .await;
    assert_eq!(status, 501);
    assert_scim_error(&e, 501);
    let (status, _) = scim.call("DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(status, 501);
    assert!(
        s.can_bind(&dn, INITIAL).await,
        "nothing was written by any of these"
    );
    assert_no_leak(&scim.engine, None, weak).await;
    scim.engine.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activating_a_locked_user_unlocks_when_configured() {
    let s = slapd::shared();
    let scim = Scim::start(s, "unlock_on_activate = true").await;
    let (uid, dn) = user(s, "scimunlock").await;
    // Locked out by failed binds (pwdMaxFailure 3). An administrator's lock
    // (000001010000Z) is refused by the target unless it allows that (openldap_target).
    for _ in 0..3 {
        assert_eq!(s.bind_code(&dn, "wrong-password").await, Ok(49));
    }
    assert!(!s.can_bind(&dn, INITIAL).await, "locked");
    let id = scim.find(&uid).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let activate = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let (status, body) = scim
        .call("PATCH", &format!("/Users/{id}"), Some(activate))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(s.can_bind(&dn, INITIAL).await, "unlocked");
    scim.engine.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// scim2-tester (PyPI, installed by .ci/setup.d/scim.sh) and scim2-client's response
/// validation against the running endpoint: see plugins/source-scim/conformance/check.py.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_checker_finds_nothing_to_complain_about() {
    let s = slapd::shared();
    let scim = Scim::start(s, "").await;
    let (uid, _) = user(s, "scimconf").await;
    let id = scim.find(&uid).await["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let python =
        std::env::var("WRITEBACK_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/source-scim/conformance/check.py");
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&scim.base)
        .arg("-")
        .arg(&id)
        .arg(&scim.ca_file)
        .env("SCIM_TOKEN", TOKEN)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .unwrap_or_else(|_| panic!("the conformance checker did not finish in 180 s"))
        .unwrap_or_else(|e| panic!("cannot run {python} (install with .ci/setup.d/scim.sh): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the conformance checker complained (or could not run; .ci/setup.d/scim.sh installs it):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 complaints"), "{stdout}");
    assert!(
        stdout.contains("SUCCESS  service_provider_config"),
        "scim2-tester ran its checks:\n{stdout}"
    );
    scim.engine.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// The same through the `active-directory` target on the real Samba AD DC: users found by
/// UPN with their objectGUID as id, a pushed password that binds, and AD's complexity
/// refusal as a SCIM error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_ad_users_and_password_push() {
    let dc = samba::shared().unwrap_or_else(|e| panic!("samba: {e}"));
    let initial = "Scim!Initial-Pass-1";
    let user = dc
        .add_user(NewUser::new(&dc.unique_name("scimad"), initial))
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    let svc = dc.service_account();
    let attributes = "attributes = { id_identity = \"immutable_id\", userName = { directory = \"userPrincipalName\", \
                      identity = \"upn\" }, displayName = \"displayName\" }";
    let scim = Scim::start_with(attributes, |dir| {
        let secret = write_secret(dir, "ad-bind", &svc.password);
        format!(
            "[[targets]]\ntype = \"active-directory\"\nname = \"ldap\"\nurl = \"{}\"\nca_file = \"{}\"\n\
             bind_dn = \"{}\"\nbind_password = {{ file = \"{}\" }}\nbase_dn = \"{}\"\n\n",
            dc.ldaps_url(),
            dc.ca_file().display(),
            svc.upn,
            secret.display(),
            dc.base_dn()
        )
    })
    .await;
    let found = scim.find(&user.upn).await;
    let id = found["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 36, "objectGUID as id: {found}");
    let (status, by_id) = scim.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!((status, by_id["userName"].clone()), (200, json!(user.upn)));

    let marker = "Scim!Marker-AD-7pQ";
    let (status, body) = scim
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_password(marker)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    dc.bind_as(&user.upn, marker)
        .await
        .unwrap_or_else(|e| panic!("the pushed password binds: {e:?}"));

    let weak = "aaaaaaaaaa";
    let (status, e) = scim
        .call("PATCH", &format!("/Users/{id}"), Some(patch_password(weak)))
        .await;
    assert_eq!(
        (status, e["scimType"].clone()),
        (400, json!("invalidValue")),
        "{e}"
    );
    assert_scim_error(&e, 400);
    dc.bind_as(&user.upn, marker)
        .await
        .unwrap_or_else(|e| panic!("still the pushed password: {e:?}"));
    assert_no_leak(&scim.engine, None, marker).await;
    scim.engine.stop().await.unwrap_or_else(|e| panic!("{e}"));
}
