//! Unit tests of the HTTP layer alone, with an in-process pipeline and directory.
//! (End-to-end tests against slapd and the real host are in tests/e2e/scim.rs.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use writeback_core::{
    Account, CloudIdentity, DirectoryTarget, Operation, OperationKind, Outcome, OutcomeCode,
    Password, Request, RuleViolation, Submit,
};

use crate::auth::BearerToken;
use crate::config::{AttributeMap, OtherAttributes};
use crate::directory::Directory;
use crate::idempotency::RetryIds;
use crate::routes::{router, ScimState, Settings};

const TOKEN: &str = "test-token-0123456789";

struct FakeDirectory {
    accounts: Vec<Account>,
}

#[async_trait]
impl DirectoryTarget for FakeDirectory {
    async fn resolve(&self, _identity: &CloudIdentity) -> Result<Account, Outcome> {
        Err(Outcome::of(OutcomeCode::NotFound))
    }
    async fn apply(&self, _account: &Account, _operation: &Operation) -> Result<(), Outcome> {
        Ok(())
    }
    async fn search(
        &self,
        query: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Account>, Outcome> {
        fn attr(q: &str) -> &str {
            match q {
                "username" => "uid",
                "object_id" => "entryuuid",
                other => other,
            }
        }
        Ok(self
            .accounts
            .iter()
            .filter(|a| match query {
                None => true,
                Some((name, value)) => a
                    .attributes
                    .get(attr(name))
                    .is_some_and(|v| v.iter().any(|x| x.eq_ignore_ascii_case(value))),
            })
            .take(limit)
            .cloned()
            .collect())
    }
}

#[derive(Default)]
struct Recorded {
    kind: Option<OperationKind>,
    request_id: String,
    identity: CloudIdentity,
    password_len: usize,
}

struct FakePipeline {
    target: Arc<FakeDirectory>,
    seen: Mutex<Vec<Recorded>>,
}

#[async_trait]
impl Submit for FakePipeline {
    async fn submit(&self, request: Request) -> Outcome {
        let password = request
            .operation
            .new_password()
            .map(Password::expose)
            .unwrap_or("")
            .to_string();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Recorded {
                kind: Some(request.operation.kind()),
                request_id: request.id.to_string(),
                identity: request.identity.clone(),
                password_len: password.len(),
            });
        if password == "weak" {
            return Outcome::rejected(vec![RuleViolation {
                rule: "length.min".into(),
                message: "Use at least 8 characters.".into(),
            }]);
        }
        if password == "down-but-valid" {
            return Outcome::of(OutcomeCode::DirectoryUnavailable);
        }
        Outcome::succeeded()
    }
    fn target(&self, name: &str) -> Option<Arc<dyn DirectoryTarget>> {
        (name == "ldap").then(|| self.target.clone() as Arc<dyn DirectoryTarget>)
    }
}

fn account(uid: &str, uuid: &str) -> Account {
    let mut attributes = BTreeMap::new();
    attributes.insert("uid".to_string(), vec![uid.to_string()]);
    attributes.insert("entryuuid".to_string(), vec![uuid.to_string()]);
    attributes.insert("mail".to_string(), vec![format!("{uid}@example.org")]);
    Account {
        dn: format!("uid={uid},ou=people,dc=example,dc=org"),
        id: Some(uuid.to_string()),
        attributes,
    }
}

fn setup(other: OtherAttributes) -> (axum::Router, Arc<FakePipeline>) {
    let accounts = (0..5)
        .map(|i| account(&format!("user{i}"), &format!("uuid-{i}")))
        .collect();
    let target = Arc::new(FakeDirectory { accounts });
    let pipeline = Arc::new(FakePipeline {
        target: target.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let state = ScimState {
        source_name: "scim".into(),
        settings: Settings {
            base_path: "/scim/v2".into(),
            public_url: None,
            max_body_bytes: 2048,
            max_results: 3,
            other_attributes: other,
            unlock_on_activate: true,
            must_change: false,
            idempotency_header: "idempotency-key".parse().unwrap_or_else(|_| unreachable!()),
            outcome_timeout: Duration::from_secs(5),
        },
        token: BearerToken::new(&Password::new(TOKEN)).unwrap_or_else(|e| panic!("{e}")),
        retry_ids: RetryIds::new(Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}")),
        pipeline: pipeline.clone(),
        directory: Directory {
            target,
            map: AttributeMap::default(),
            max_listed: 100,
        },
        tls: true,
    };
    (router(Arc::new(state)), pipeline)
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_with(app, method, uri, body, Some(TOKEN)).await
}

async fn call_with(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut builder = HttpRequest::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "scim.test");
    if let Some(t) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            builder = builder.header(header::CONTENT_TYPE, "application/scim+json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let request = builder.body(body).unwrap_or_else(|e| panic!("{e}"));
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    if status != StatusCode::NO_CONTENT {
        let ct = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert_eq!(ct, "application/scim+json", "{method} {uri}");
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn patch_password(pw: &str) -> Value {
    json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"password":pw}}]})
}

#[tokio::test]
async fn discovery_describes_what_is_supported() {
    let (app, _) = setup(OtherAttributes::Refuse);
    let (status, spc) = call(&app, "GET", "/scim/v2/ServiceProviderConfig", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 3);
    assert_eq!(spc["bulk"]["supported"], false);
    let (_, types) = call(&app, "GET", "/scim/v2/ResourceTypes", None).await;
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    let (_, schemas) = call(&app, "GET", "/scim/v2/Schemas", None).await;
    assert_eq!(schemas["Resources"][0]["id"], crate::resource::USER_SCHEMA);
    let (status, _) = call(
        &app,
        "POST",
        "/scim/v2/ServiceProviderConfig",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn token_is_required_everywhere() {
    let (app, _) = setup(OtherAttributes::Refuse);
    for uri in [
        "/scim/v2/Users",
        "/scim/v2/ServiceProviderConfig",
        "/nowhere",
    ] {
        let (status, body) =
            call_with(&app, "GET", uri, None, Some("wrong-token-0123456789")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(body["status"], "401");
        let (status, _) = call_with(&app, "GET", uri, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn list_filter_and_pages() {
    let (app, _) = setup(OtherAttributes::Refuse);
    let (status, page) = call(&app, "GET", "/scim/v2/Users?startIndex=2&count=10", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["itemsPerPage"], 3, "count is capped at max_results");
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["Resources"][0]["userName"], "user1");
    let (_, found) = call(
        &app,
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22USER3%22",
        None,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], "uuid-3");
    assert_eq!(
        found["Resources"][0]["meta"]["location"],
        "https://scim.test/scim/v2/Users/uuid-3"
    );
    let (_, two) = call(
        &app,
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22user1%22%20or%20emails%5Bvalue%20eq%20%22user2%40example.org%22%5D&attributes=userName",
        None,
    )
    .await;
    assert_eq!(two["totalResults"], 2);
    assert!(two["Resources"][0].get("emails").is_none());
    let (status, bad) = call(
        &app,
        "GET",
        "/scim/v2/Users?filter=userName%20sw%20%22u%22",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["scimType"], "invalidFilter");
    let (_, none) = call(
        &app,
        "GET",
        "/scim/v2/Users?filter=externalId%20eq%20%22x%22",
        None,
    )
    .await;
    assert_eq!(none["totalResults"], 0);
    let (_, searched) = call(
        &app,
        "POST",
        "/scim/v2/Users/.search",
        Some(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"user4\"","count":1})),
    )
    .await;
    assert_eq!(searched["Resources"][0]["id"], "uuid-4");
}

#[tokio::test]
async fn get_by_id_and_unknown_id() {
    let (app, _) = setup(OtherAttributes::Refuse);
    let (status, user) = call(&app, "GET", "/scim/v2/Users/uuid-2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["userName"], "user2");
    let (status, missing) = call(&app, "GET", "/scim/v2/Users/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["status"], "404");
}

#[tokio::test]
async fn password_patch_and_put_reach_the_pipeline() {
    let (app, pipeline) = setup(OtherAttributes::Refuse);
    let (status, user) = call(
        &app,
        "PATCH",
        "/scim/v2/Users/uuid-1",
        Some(patch_password("Marker-Good-1")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["id"], "uuid-1");
    assert!(user.get("password").is_none());
    let mut put = user.clone();
    put["password"] = json!("Marker-Good-2");
    let (status, _) = call(&app, "PUT", "/scim/v2/Users/uuid-1", Some(put)).await;
    assert_eq!(status, StatusCode::OK);
    let seen = pipeline.seen.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].kind, Some(OperationKind::Reset));
    assert_eq!(seen[0].identity.username.as_deref(), Some("user1"));
    assert_eq!(seen[0].identity.object_id.as_deref(), Some("uuid-1"));
    assert_eq!(seen[1].password_len, "Marker-Good-2".len());
}

#[tokio::test]
async fn refusals_are_scim_errors() {
    let (app, pipeline) = setup(OtherAttributes::Refuse);
    let (status, e) = call(
        &app,
        "PATCH",
        "/scim/v2/Users/uuid-1",
        Some(patch_password("weak")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["scimType"], "invalidValue");
    assert!(
        e["detail"].as_str().unwrap_or("").contains("at least 8"),
        "{e}"
    );
    let (status, e) = call(
        &app,
        "PATCH",
        "/scim/v2/Users/uuid-1",
        Some(patch_password("down-but-valid")),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    let rename = json!({"Operations":[{"op":"replace","path":"userName","value":"other"}]});
    let (status, e) = call(&app, "PATCH", "/scim/v2/Users/uuid-1", Some(rename)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["scimType"], "mutability");
    let (status, _) = call(
        &app,
        "PATCH",
        "/scim/v2/Users/nope",
        Some(patch_password("Marker-Good-3")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = call(
        &app,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName":"new"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(e["detail"]
        .as_str()
        .unwrap_or("")
        .contains("does not provision"));
    let (status, _) = call(&app, "DELETE", "/scim/v2/Users/uuid-1", None).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    let big = patch_password(&"x".repeat(4000));
    let (status, e) = call(&app, "PATCH", "/scim/v2/Users/uuid-1", Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(e["status"], "413");
    let (status, _) = call(&app, "GET", "/scim/v2/Groups", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Only the policy refusal and the unavailable directory reached the pipeline.
    assert_eq!(pipeline.seen.lock().map(|s| s.len()).unwrap_or(0), 2);
}

#[tokio::test]
async fn retries_reuse_the_request_id_and_activate_unlocks() {
    let (app, pipeline) = setup(OtherAttributes::Ignore);
    let body = patch_password("Marker-Good-4");
    call(&app, "PATCH", "/scim/v2/Users/uuid-0", Some(body.clone())).await;
    call(&app, "PATCH", "/scim/v2/Users/uuid-0", Some(body)).await;
    let both =
        json!({"Operations":[{"op":"replace","value":{"active":true,"displayName":"ignored"}}]});
    let (status, _) = call(&app, "PATCH", "/scim/v2/Users/uuid-0", Some(both)).await;
    assert_eq!(status, StatusCode::OK);
    let seen = pipeline.seen.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(seen[0].request_id, seen[1].request_id);
    assert_eq!(seen[2].kind, Some(OperationKind::Unlock));
}

#[test]
fn scrub_wipes_every_string() {
    let mut body =
        json!({"Operations": [{"op": "replace", "value": {"password": "Marker-Scrub-1"}}]});
    crate::routes::scrub(&mut body);
    assert!(!body.to_string().contains("Marker"), "{body}");
}

/// The table's checks, as `check-config` reports them.
mod config_checks {
    use writeback_core::{ConfigError, ConnectorConfig, ConnectorKind};

    use crate::config::*;

    fn config(text: &str) -> Result<ScimConfig, ConfigError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::new(e.to_string()))?;
        ScimConfig::from_connector(&ConnectorConfig::in_code(
            ConnectorKind::Source,
            "scim",
            "scim",
            table,
        ))
    }

    #[test]
    fn plain_http_needs_loopback_and_saying_so() {
        let ok = config("listen = \"127.0.0.1:0\"\nplain_http_on_loopback = true\ntoken = { env = \"T\" }\ntarget = \"ldap\"");
        assert!(ok.is_ok(), "{:?}", ok.err());
        let no_tls = config("listen = \"127.0.0.1:0\"\ntoken = { env = \"T\" }\ntarget = \"ldap\"");
        assert!(no_tls
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("tls"));
        let public = config("listen = \"0.0.0.0:8443\"\nplain_http_on_loopback = true\ntoken = { env = \"T\" }\ntarget = \"ldap\"");
        assert!(public
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("loopback"));
    }

    #[test]
    fn defaults_and_mapping() {
        let c = config(
            "listen = \"127.0.0.1:0\"\nplain_http_on_loopback = true\ntoken = { env = \"T\" }\ntarget = \"ad\"\nbase_path = \"/scim/v2/\"\n[attributes]\nuserName = { directory = \"sAMAccountName\", identity = \"username\" }\n",
        );
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.base_path, "/scim/v2");
        assert_eq!(c.attributes.user_name.directory, "samaccountname");
        assert_eq!(
            c.attributes.email.as_ref().map(|m| m.identity.as_str()),
            Some("mail")
        );
        assert_eq!(c.other_attributes, OtherAttributes::Refuse);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = config("listen = \"127.0.0.1:0\"\nplain_http_on_loopback = true\ntoken = { env = \"T\" }\ntarget = \"x\"\nbogus = 1");
        assert!(e
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("bogus"));
    }
}
