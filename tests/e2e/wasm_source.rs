//! WASM sources: examples/wasm-source (built for wasm32-wasip2 with the other guests),
//! loaded by the real host from a `[[plugins]]` entry, polls a real HTTP "cloud" on
//! loopback for pending requests; the host runs them against the real slapd and the
//! plugin posts every outcome back to the cloud. Malformed requests are refused,
//! repeats are applied once, a URL outside `allow_http` is refused and logged, and no
//! password reaches a log line, the audit log or the cloud's results.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use writeback_testkit::slapd::{self, Slapd};
use writeback_tests::{logs, Engine};

use crate::support::*;
use crate::wasm_plugins::guests;

/// The cloud side: hands out queued batches of pending requests on `GET
/// /api/pending` (one batch per poll) and keeps every result posted to
/// `/api/results/{id}`. Any other path is counted and refused.
#[derive(Clone)]
struct Cloud {
    addr: SocketAddr,
    batches: Arc<Mutex<VecDeque<Vec<Value>>>>,
    results: Arc<Mutex<Vec<(String, Value)>>>,
    elsewhere: Arc<AtomicUsize>,
}

impl Cloud {
    async fn start() -> Cloud {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cloud cannot listen: {e}"));
        let cloud = Cloud {
            addr: listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
            batches: Arc::default(),
            results: Arc::default(),
            elsewhere: Arc::default(),
        };
        let app = Router::new()
            .route("/api/pending", get(pending))
            .route("/api/results/{id}", post(result))
            .fallback(elsewhere)
            .with_state(cloud.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        cloud
    }

    fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    fn queue(&self, batch: Vec<Value>) {
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(batch);
    }

    fn results(&self) -> Vec<(String, Value)> {
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn results_for(&self, id: &str) -> Vec<Value> {
        self.results()
            .into_iter()
            .filter(|(i, _)| i == id)
            .map(|(_, v)| v)
            .collect()
    }

    /// Waits up to 20 s until every id has at least its count of results.
    async fn wait_for(&self, wanted: &[(&str, usize)]) {
        for _ in 0..400 {
            if wanted
                .iter()
                .all(|(id, n)| self.results_for(id).len() >= *n)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the cloud did not get every result {wanted:?}: {:?}",
            self.results()
        );
    }
}

async fn pending(State(cloud): State<Cloud>) -> Response {
    let batch = cloud
        .batches
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop_front();
    match batch {
        Some(requests) => Json(json!({ "requests": requests })).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn result(
    State(cloud): State<Cloud>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> StatusCode {
    cloud
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, body));
    StatusCode::OK
}

async fn elsewhere(State(cloud): State<Cloud>) -> StatusCode {
    cloud.elsewhere.fetch_add(1, Ordering::Relaxed);
    StatusCode::NOT_FOUND
}

async fn user(slapd: &Slapd, prefix: &str, password: &str) -> (String, String) {
    let uid = slapd.unique_uid(prefix);
    let dn = slapd
        .add_user(&uid, password, &[])
        .await
        .unwrap_or_else(|e| panic!("add user: {e}"));
    (uid, dn)
}

fn reset(id: &str, uid: &str, password: &str) -> Value {
    json!({
        "id": id,
        "operation": "reset",
        "identity": { "username": uid },
        "initiator": { "kind": "admin", "id": "helpdesk" },
        "new_password": password,
    })
}

fn change(id: &str, uid: &str, old: &str, new: &str) -> Value {
    json!({
        "id": id,
        "operation": "change",
        "identity": { "username": uid },
        "old_password": old,
        "new_password": new,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_source_polls_the_cloud_and_reports_every_outcome() {
    const INITIAL: &str = "Initial-Pass-1";
    let g = guests();
    let s = slapd::shared();
    let cloud = Cloud::start().await;

    let good = "Src-Marker-Good-7hT$";
    let weak = "srcmarkerweak";
    let bad_id_password = "Src-Marker-BadId-4k!";
    let old = "Src-Marker-Old-2pQ#";
    let changed = "Src-Marker-New-9zW%";
    let (reset_uid, reset_dn) = user(s, "wsrcreset", INITIAL).await;
    let (weak_uid, weak_dn) = user(s, "wsrcweak", INITIAL).await;
    let (change_uid, change_dn) = user(s, "wsrcchange", old).await;

    // One poll's batch, then the change handed over once more (a cloud that did not
    // see the first report in time, say).
    cloud.queue(vec![
        reset("src-reset-1", &reset_uid, good),
        reset("src-weak-1", &weak_uid, weak),
        reset("bad id/with spaces", &weak_uid, bad_id_password),
        change("src-change-1", &change_uid, old, changed),
    ]);
    cloud.queue(vec![change("src-change-1", &change_uid, old, changed)]);

    let e = Engine::start(|dir| {
        format!(
            "[pipeline]\ndeadline_ms = 8000\n\n{target}{policy}\
             [[plugins]]\npath = \"{plugin}\"\nallow_http = [\"{base}/\"]\ntimeout_ms = 5000\n\n\
             [[sources]]\ntype = \"cloud-poll\"\nname = \"cloud\"\npoll_interval_ms = 100\n\
             base_url = \"{base}\"\n\n\
             [[sources]]\ntype = \"cloud-poll\"\nname = \"elsewhere\"\npoll_interval_ms = 100\n\
             base_url = \"http://{addr}/other\"\n\n",
            target = openldap_target(s, dir, "ldap", BY_UID),
            policy = BASIC_POLICY,
            plugin = g.source.display(),
            base = cloud.base_url(),
            addr = cloud.addr,
        )
    })
    .await;

    cloud
        .wait_for(&[
            ("src-reset-1", 1),
            ("src-weak-1", 1),
            ("bad id/with spaces", 1),
            ("src-change-1", 2),
        ])
        .await;

    // The reset was written: the person binds with the new password.
    let r = &cloud.results_for("src-reset-1")[0];
    assert_eq!(r["outcome"], "succeeded", "{r}");
    assert_eq!(r["retryable"], false);
    assert!(s.can_bind(&reset_dn, good).await, "the new password binds");
    assert!(
        !s.can_bind(&reset_dn, INITIAL).await,
        "the old one no longer does"
    );

    // The policy refused the weak one, with its rules; nothing was written.
    let r = &cloud.results_for("src-weak-1")[0];
    assert_eq!(r["outcome"], "rejected_policy", "{r}");
    let rules: Vec<&str> = r["rules"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(rules.iter().any(|r| r.starts_with("classes.")), "{rules:?}");
    assert!(
        r.get("admin_detail").is_none(),
        "the admin detail stays on-premises"
    );

    // The id the host refused came back as invalid_request (to the id the cloud
    // gave, percent-encoded in the path); that password was never applied.
    let r = &cloud.results_for("bad id/with spaces")[0];
    assert_eq!(r["outcome"], "invalid_request", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap_or_default()
            .contains("request id"),
        "{r}"
    );
    assert!(s.can_bind(&weak_dn, INITIAL).await, "nothing was written");
    assert!(logs::text().contains("WASM source: pending request refused as invalid_request"));

    // The change handed over twice was applied once: a second apply would have
    // failed with wrong_old_password. Both reports carry the first outcome.
    let twice = cloud.results_for("src-change-1");
    assert_eq!(twice.len(), 2, "{twice:?}");
    for r in &twice {
        assert_eq!(r["outcome"], "succeeded", "{r}");
    }
    assert!(s.can_bind(&change_dn, changed).await);
    let audit = e.audit_records(4).await;
    let records: Vec<&Value> = audit
        .iter()
        .filter(|r| r["request_id"] == "src-change-1")
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().all(|r| r["source"] == "cloud"));
    assert_eq!(
        records.iter().filter(|r| r["duplicate"] == true).count(),
        1,
        "{records:?}"
    );

    // The second source's URL is not granted: each poll is refused and logged, the
    // source goes on, and nothing reached the cloud outside /api/.
    for _ in 0..100 {
        if logs::text().contains("WASM source: poll failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = logs::text();
    assert!(
        text.contains(&format!("http://{}/other/pending", cloud.addr))
            && text.contains("the URL is not in the plugin's `allow_http` list"),
        "the refusal is logged with its URL"
    );
    assert!(
        text.contains("WASM source: poll failed"),
        "the failed poll is logged"
    );
    assert_eq!(cloud.elsewhere.load(Ordering::Relaxed), 0);

    for marker in [good, weak, bad_id_password, old, changed] {
        assert_no_leak(&e, None, marker).await;
        let posted = serde_json::to_string(&cloud.results()).unwrap_or_default();
        assert!(!posted.contains(marker), "a result holds a password");
    }
    // Shutdown: both sources return and the engine stops cleanly.
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(logs::text().contains("WASM source: stopped"));
}
