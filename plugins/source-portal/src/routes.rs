//! The HTTP surface: sign-in (`/login`, `/callback`), the password form (`/`), the
//! no-JavaScript check (`POST /check`), the pre-flight for the page's script
//! (`POST /v1/preflight`), the write (`POST /submit`), unlock, sign-out, and the static
//! script and stylesheet. Every response carries the CSP and the other safety headers.
//!
//! The rules every handler keeps: a form post needs the session's CSRF token (and a
//! same-origin `Origin` when the browser sends one); the pre-flight and the write only
//! ever judge the signed-in person's own account; every path that can be used to guess
//! is rate-limited per account and per client address; a password is read from a POST
//! body only, into wiped buffers, and never logged.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::Value;
use tracing::{debug, info, warn};
use writeback_core::{
    CloudIdentity, Initiator, InitiatorKind, Operation, OperationKind, Outcome, OutcomeCode,
    Password, Request, RequestId, Submit,
};
use zeroize::Zeroizing;

use crate::config::{Branding, IdentityMapping, Mode, RateLimits};
use crate::i18n::{texts, Lang};
use crate::oidc::{now_secs, Claims, Provider};
use crate::page::{self, FormState, Frame, Verdicts};
use crate::session::{
    random_token, same, Pending, RateLimiter, Session, Store, LOGIN_COOKIE, SESSION_COOKIE,
};
use crate::wire::{cookie, CallbackQuery, Form};

/// The largest form or JSON body read (three passwords and a token fit many times).
const MAX_BODY: usize = 16 * 1024;

/// The client's address, as the listener saw it.
#[derive(Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// What the handlers need at run time.
pub struct Portal {
    pub name: String,
    pub provider: Provider,
    pub store: Store,
    pub limiter: RateLimiter,
    pub limits: RateLimits,
    pub pipeline: Arc<dyn Submit>,
    pub mode: Mode,
    pub allow_unlock: bool,
    pub public_url: String,
    pub mapping: IdentityMapping,
    pub branding: Branding,
    pub provider_name: String,
    pub labels: BTreeMap<String, String>,
    pub css: String,
    pub session_for: Duration,
}

type Shared = Arc<Portal>;

pub fn router(portal: Shared) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/check", post(check_form))
        .route("/v1/preflight", post(preflight_json))
        .route("/submit", post(submit))
        .route("/unlock", post(unlock))
        .route("/logout", post(logout))
        .route("/assets/portal.js", get(script))
        .route("/assets/portal.css", get(stylesheet))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(portal)
}

/// The CSP: scripts and styles only from this site (no inline ones), no framing,
/// forms post only here.
const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `Referrer-Policy: same-origin`, not `no-referrer`: with the latter browsers send
/// `Origin: null` on form posts, and the origin check would refuse every one.
async fn secure_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "strict-transport-security",
        HeaderValue::from_static("max-age=31536000"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

impl Portal {
    fn lang(&self, headers: &HeaderMap) -> Lang {
        Lang::negotiate(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    }

    fn frame(&self, lang: Lang) -> Frame<'_> {
        Frame {
            lang,
            branding: &self.branding,
            provider_name: &self.provider_name,
        }
    }

    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, SESSION_COOKIE)?;
        self.store.get(&id).map(|s| (id, s))
    }

    fn redirect_uri(&self) -> String {
        format!("{}/callback", self.public_url)
    }

    fn label(&self, target: &str) -> String {
        self.labels
            .get(target)
            .cloned()
            .unwrap_or_else(|| target.to_string())
    }

    /// A form post is ours: the browser's `Origin` (when sent) is this site.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => origin == self.public_url_origin(),
        }
    }

    fn public_url_origin(&self) -> &str {
        let after_scheme = self.public_url.find("://").map(|i| i + 3).unwrap_or(0);
        match self.public_url[after_scheme..].find('/') {
            Some(i) => &self.public_url[..after_scheme + i],
            None => &self.public_url,
        }
    }

    /// Counts one attempt against the account and the address; false when either is
    /// over its limit.
    fn allow(
        &self,
        what: &str,
        account: Option<&str>,
        peer: &Peer,
        per_account: u32,
        per_address: u32,
    ) -> bool {
        let by_address = self
            .limiter
            .allow(&format!("{what}:ip:{}", peer.0.ip()), per_address);
        let by_account = account
            .map(|a| self.limiter.allow(&format!("{what}:acct:{a}"), per_account))
            .unwrap_or(true);
        by_address && by_account
    }

    fn identity_from(&self, claims: &Claims) -> CloudIdentity {
        let first = |names: &[String]| {
            names.iter().find_map(|n| {
                claims
                    .get(n)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            })
        };
        let m = &self.mapping;
        let mut identity = CloudIdentity {
            object_id: first(&m.object_id),
            upn: first(&m.upn),
            mail: first(&m.mail),
            username: first(&m.username),
            display_name: first(&m.display_name),
            ..Default::default()
        };
        if m.cloud_sync_anchor {
            if let Some(oid) = &identity.object_id {
                identity
                    .extra
                    .insert("cloud_anchor".into(), format!("User_{oid}"));
            }
        }
        identity
    }

    fn auth_too_old(&self, session: &Session) -> bool {
        let Some(max) = self.provider.requirements.max_auth_age else {
            return false;
        };
        let max = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
        session
            .auth_time
            .is_none_or(|t| now_secs().saturating_sub(t) > max)
    }

    async fn verdicts(
        &self,
        session: &Session,
        password: &Password,
        confirm: &Password,
    ) -> Result<Verdicts, Outcome> {
        let operation = match self.mode {
            Mode::Reset => OperationKind::Reset,
            Mode::Change => OperationKind::Change,
        };
        let preflight = self
            .pipeline
            .preflight(&session.identity, operation, password)
            .await?;
        let confirm_matches = if confirm.is_empty() {
            None
        } else {
            Some(password.ct_eq(confirm))
        };
        Ok(Verdicts {
            preflight,
            confirm_matches,
        })
    }
}

fn set_cookie(name: &str, value: &str, max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn html(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn json(status: StatusCode, value: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(value.to_string()))
        .unwrap_or_default()
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .unwrap_or_default()
}

/// Reads a body of at most [`MAX_BODY`] bytes into a buffer wiped on drop.
async fn read_body(body: Body) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .ok()?
        .to_bytes();
    Some(Zeroizing::new(Vec::from(bytes)))
}

async fn home(State(p): State<Shared>, headers: HeaderMap) -> Response {
    let lang = p.lang(&headers);
    match p.session(&headers) {
        Some((_, s)) => html(
            StatusCode::OK,
            page::password_form(
                &p.frame(lang),
                &s.identity.label(),
                &s.csrf,
                p.mode,
                p.allow_unlock,
                &FormState::default(),
            ),
        ),
        None => html(StatusCode::OK, p.frame(lang).sign_in(None, false)),
    }
}

async fn login(
    State(p): State<Shared>,
    headers: HeaderMap,
    Extension(peer): Extension<Peer>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = p.lang(&headers);
    let t = texts(lang);
    let limit = p.limits.sign_ins_per_address;
    if !p.allow("signin", None, &peer, limit, limit) {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            p.frame(lang).message(t.too_many),
        );
    }
    let tokens = (
        random_token(),
        random_token(),
        random_token(),
        random_token(),
    );
    let (Ok(state), Ok(nonce), Ok(verifier), Ok(binding)) = tokens else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            p.frame(lang).message(t.sign_in_failed),
        );
    };
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let fresh = q.contains_key("fresh");
    let url = match p
        .provider
        .authorize_url(
            &p.redirect_uri(),
            &state,
            &nonce,
            &challenge,
            fresh,
            lang.code(),
        )
        .await
    {
        Ok(u) => u,
        Err(e) => {
            warn!(source = %p.name, "sign-in cannot start: {e}");
            return html(
                StatusCode::BAD_GATEWAY,
                p.frame(lang).sign_in(Some(t.sign_in_failed), false),
            );
        }
    };
    p.store.start_login(
        state,
        Pending {
            binding: binding.clone(),
            nonce,
            verifier,
            started: Instant::now(),
        },
    );
    let mut r = redirect(&url);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_COOKIE,
            &binding,
            crate::session::PENDING_FOR.as_secs(),
        ),
    );
    r
}

async fn callback(
    State(p): State<Shared>,
    headers: HeaderMap,
    Extension(peer): Extension<Peer>,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = p.lang(&headers);
    let t = texts(lang);
    let limit = p.limits.sign_ins_per_address;
    // Its own counter: one sign-in is a /login and a /callback; the limit counts sign-ins.
    if !p.allow("callback", None, &peer, limit, limit) {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            p.frame(lang).message(t.too_many),
        );
    }
    let refuse = |why: String| {
        warn!(source = %p.name, client = %peer.0.ip(), "sign-in refused: {why}");
        let mut r = html(
            StatusCode::BAD_REQUEST,
            p.frame(lang).sign_in(Some(t.sign_in_failed), false),
        );
        r.headers_mut()
            .append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "gone", 0));
        r
    };
    let (code, state) = match CallbackQuery::parse(query.as_deref()) {
        CallbackQuery::Code { code, state } => (code, state),
        CallbackQuery::ProviderError(error) => {
            return refuse(format!("the provider answered `{error}`"))
        }
        CallbackQuery::Unusable(why) => return refuse(why.into()),
    };
    let Some(binding) = cookie(&headers, LOGIN_COOKIE) else {
        return refuse("the browser has no sign-in under way (no login cookie)".into());
    };
    let Some(pending) = p.store.finish_login(&state, &binding) else {
        return refuse("unknown, used, expired or another browser's state".into());
    };
    let claims = match p
        .provider
        .exchange(&code, &pending.verifier, &p.redirect_uri(), &pending.nonce)
        .await
    {
        Ok(c) => c,
        Err(e) => return refuse(e.to_string()),
    };
    let identity = p.identity_from(&claims);
    if let Err(why) = identity.validate() {
        return refuse(format!(
            "the ID token's claims give no usable identity ({why}); check [identity] in the config"
        ));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (Ok(id), Ok(csrf)) = (random_token(), random_token()) else {
        return refuse("the system random generator failed".into());
    };
    info!(source = %p.name, user = %identity.label(), "signed in");
    p.store.create(
        id.clone(),
        Session {
            identity,
            subject,
            csrf,
            started: Instant::now(),
            auth_time: claims.get("auth_time").and_then(Value::as_i64),
        },
    );
    let mut r = redirect("/");
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, p.session_for.as_secs()),
    );
    h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "gone", 0));
    r
}

/// The checks every form post shares: a session, the CSRF token, the same origin.
/// The error is the response to send.
async fn form_post(
    p: &Portal,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, Session, Form), Response> {
    let lang = p.lang(headers);
    let t = texts(lang);
    let Some((id, session)) = p.session(headers) else {
        return Err(html(
            StatusCode::UNAUTHORIZED,
            p.frame(lang).sign_in(Some(t.session_expired), false),
        ));
    };
    let Some(bytes) = read_body(body).await else {
        return Err(html(
            StatusCode::BAD_REQUEST,
            p.frame(lang).message(t.bad_form),
        ));
    };
    let form = Form::parse(&bytes);
    if !p.same_origin(headers) || !same(form.get("csrf"), &session.csrf) {
        warn!(source = %p.name, user = %session.identity.label(), "form post refused: CSRF token or origin wrong");
        return Err(html(
            StatusCode::FORBIDDEN,
            p.frame(lang).message(t.bad_form),
        ));
    }
    Ok((id, session, form))
}

/// Which rate limit a form post counts against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Limit {
    Check,
    Submit,
}

/// [`form_post`], then the post counted against its limits per account and per client
/// address; over either, the "too many attempts" page.
async fn limited_form_post(
    p: &Portal,
    headers: &HeaderMap,
    peer: &Peer,
    body: Body,
    limit: Limit,
) -> Result<(Session, Form), Response> {
    let (_, session, form) = form_post(p, headers, body).await?;
    let (what, per_account, per_address) = match limit {
        Limit::Check => (
            "check",
            p.limits.checks_per_account,
            p.limits.checks_per_address,
        ),
        Limit::Submit => (
            "submit",
            p.limits.submits_per_account,
            p.limits.submits_per_address,
        ),
    };
    if !p.allow(what, Some(&session.subject), peer, per_account, per_address) {
        if limit == Limit::Submit {
            warn!(source = %p.name, user = %session.identity.label(), client = %peer.0.ip(), "password submits throttled");
        }
        let lang = p.lang(headers);
        return Err(html(
            StatusCode::TOO_MANY_REQUESTS,
            p.frame(lang).message(texts(lang).too_many),
        ));
    }
    Ok((session, form))
}

async fn check_form(
    State(p): State<Shared>,
    headers: HeaderMap,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let lang = p.lang(&headers);
    let (session, form) = match limited_form_post(&p, &headers, &peer, body, Limit::Check).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (password, confirm) = (form.password("password"), form.password("confirm"));
    render_verdicts(&p, lang, &session, &password, &confirm, None).await
}

async fn render_verdicts(
    p: &Portal,
    lang: Lang,
    session: &Session,
    password: &Password,
    confirm: &Password,
    notice: Option<String>,
) -> Response {
    let frame = p.frame(lang);
    match p.verdicts(session, password, confirm).await {
        Ok(v) => {
            let status = if v.acceptable() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let state = FormState {
                verdicts: Some(&v),
                notice,
            };
            html(
                status,
                page::password_form(
                    &frame,
                    &session.identity.label(),
                    &session.csrf,
                    p.mode,
                    p.allow_unlock,
                    &state,
                ),
            )
        }
        Err(outcome) => {
            warn!(source = %p.name, code = %outcome.code, detail = outcome.admin_detail.as_deref().unwrap_or(""), "pre-flight failed");
            let state = FormState {
                verdicts: None,
                notice: Some(message_for(lang, &outcome)),
            };
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                page::password_form(
                    &frame,
                    &session.identity.label(),
                    &session.csrf,
                    p.mode,
                    p.allow_unlock,
                    &state,
                ),
            )
        }
    }
}

fn message_for(lang: Lang, outcome: &Outcome) -> String {
    match lang {
        Lang::En => outcome.message.clone(),
        Lang::De => crate::i18n::outcome_de(outcome.code).to_string(),
    }
}

/// `POST /v1/preflight`: `{"password": "...", "confirm": "..."}` with the CSRF token in
/// `X-CSRF-Token`; answers the verdicts as JSON. Writes nothing.
async fn preflight_json(
    State(p): State<Shared>,
    headers: HeaderMap,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let lang = p.lang(&headers);
    let t = texts(lang);
    let Some((_, session)) = p.session(&headers) else {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "unauthorized", "message": t.session_expired}),
        );
    };
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !p.same_origin(&headers) || !same(token, &session.csrf) {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({"error": "forbidden", "message": t.bad_form}),
        );
    }
    if !p.allow(
        "check",
        Some(&session.subject),
        &peer,
        p.limits.checks_per_account,
        p.limits.checks_per_address,
    ) {
        return json(
            StatusCode::TOO_MANY_REQUESTS,
            serde_json::json!({"error": "too_many_requests", "message": t.too_many}),
        );
    }
    let Some(bytes) = read_body(body).await else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_request", "message": t.bad_form}),
        );
    };
    #[derive(serde::Deserialize)]
    struct Input {
        password: Password,
        #[serde(default)]
        confirm: Option<Password>,
    }
    let Ok(input) = serde_json::from_slice::<Input>(&bytes) else {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_request", "message": t.bad_form}),
        );
    };
    let password = input.password;
    let confirm = input.confirm.unwrap_or_else(|| Password::new(""));
    match p.verdicts(&session, &password, &confirm).await {
        Ok(v) => json(StatusCode::OK, v.to_json(lang)),
        Err(outcome) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": outcome.code.as_str(), "message": message_for(lang, &outcome)}),
        ),
    }
}

async fn submit(
    State(p): State<Shared>,
    headers: HeaderMap,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let lang = p.lang(&headers);
    let t = texts(lang);
    let (session, form) = match limited_form_post(&p, &headers, &peer, body, Limit::Submit).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if p.auth_too_old(&session) {
        return html(
            StatusCode::UNAUTHORIZED,
            p.frame(lang).sign_in(Some(t.sign_in_again_for_age), true),
        );
    }
    let (password, confirm) = (form.password("password"), form.password("confirm"));
    // The same verdicts as while typing; nothing is sent to the directories while a
    // rule is broken or the two entries differ.
    let verdicts = match p.verdicts(&session, &password, &confirm).await {
        Ok(v) => v,
        // No pre-flight here (an edge in front of agents) or it failed: the pipeline
        // still runs every policy before it writes, so the write may go ahead.
        Err(outcome) => {
            warn!(source = %p.name, code = %outcome.code, "no pre-flight before the submit; the pipeline checks the rules");
            Verdicts {
                preflight: Default::default(),
                confirm_matches: (!confirm.is_empty()).then(|| password.ct_eq(&confirm)),
            }
        }
    };
    if !verdicts.acceptable() {
        let confirm_missing = verdicts.confirm_matches.is_none();
        return render_verdicts(
            &p,
            lang,
            &session,
            &password,
            &confirm,
            confirm_missing.then(|| t.confirm_differs.to_string()),
        )
        .await;
    }
    let operation = match p.mode {
        Mode::Reset => Operation::Reset {
            new_password: password,
            must_change: false,
        },
        Mode::Change => Operation::Change {
            old_password: form.password("current"),
            new_password: password,
        },
    };
    run(&p, lang, &session, operation, &verdicts).await
}

async fn unlock(
    State(p): State<Shared>,
    headers: HeaderMap,
    Extension(peer): Extension<Peer>,
    body: Body,
) -> Response {
    let lang = p.lang(&headers);
    let t = texts(lang);
    if !p.allow_unlock {
        return html(StatusCode::NOT_FOUND, p.frame(lang).message(t.bad_form));
    }
    let (session, _) = match limited_form_post(&p, &headers, &peer, body, Limit::Submit).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if p.auth_too_old(&session) {
        return html(
            StatusCode::UNAUTHORIZED,
            p.frame(lang).sign_in(Some(t.sign_in_again_for_age), true),
        );
    }
    let verdicts = Verdicts {
        preflight: Default::default(),
        confirm_matches: None,
    };
    run(&p, lang, &session, Operation::Unlock, &verdicts).await
}

/// Hands the request to the pipeline and shows its outcome per directory.
async fn run(
    p: &Portal,
    lang: Lang,
    session: &Session,
    operation: Operation,
    verdicts: &Verdicts,
) -> Response {
    let Ok(id) = RequestId::parse(&format!("portal-{}", uuid::Uuid::new_v4())) else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            p.frame(lang).message(texts(lang).bad_form),
        );
    };
    let kind = operation.kind();
    let request = Request {
        id,
        source: p.name.clone(),
        operation,
        identity: session.identity.clone(),
        initiator: Initiator {
            kind: InitiatorKind::User,
            id: Some(session.subject.clone()),
        },
    };
    let outcome = p.pipeline.submit(request).await;
    // Debug: the audit's "request finished" line is the request's line at info.
    debug!(source = %p.name, user = %session.identity.label(), operation = %kind, code = %outcome.code, "password page request finished");
    let found: Vec<String> = verdicts
        .preflight
        .targets
        .iter()
        .filter(|l| l.problem.is_none())
        .map(|l| p.label(&l.target))
        .collect();
    let missing: Vec<String> = verdicts
        .preflight
        .targets
        .iter()
        .filter(|l| {
            l.problem
                .as_ref()
                .is_some_and(|o| o.code == OutcomeCode::NotFound)
        })
        .map(|l| p.label(&l.target))
        .collect();
    let mut shown = outcome.clone();
    if kind == OperationKind::Unlock && shown.is_success() && lang == Lang::En {
        shown.message = texts(lang).unlocked.to_string();
    }
    let status = if outcome.is_success() {
        StatusCode::OK
    } else {
        StatusCode::from_u16(outcome.code.http_status()).unwrap_or(StatusCode::BAD_GATEWAY)
    };
    html(
        status,
        page::result(&p.frame(lang), &shown, &found, &missing),
    )
}

async fn logout(State(p): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let (id, _, _) = match form_post(&p, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    p.store.end(&id);
    let mut r = redirect("/");
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "gone", 0));
    r
}

async fn script() -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(Body::from(include_str!("../assets/portal.js")))
        .unwrap_or_default()
}

async fn stylesheet(State(p): State<Shared>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(Body::from(p.css.clone()))
        .unwrap_or_default()
}
