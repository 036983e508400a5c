//! One HTTP request: read the body within the size limit, verify the signature, refuse
//! replays, parse, hand to the pipeline, reply. Nothing reaches the pipeline before
//! the signature and the body have both been checked.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tracing::{debug, warn};
use writeback_core::{OutcomeCode, Submit};
use writeback_signing::{verify, Secret, WEBHOOK_ID};
use zeroize::Zeroizing;

use crate::replay::{ReplayGuard, Seen};
use crate::wire::{parse_request, Reply};

/// The path requests are POSTed to.
pub const REQUESTS_PATH: &str = "/v1/requests";
/// The pre-flight path: the same signed body as a request, answered with each rule's
/// verdict; nothing is written.
pub const POLICY_CHECK_PATH: &str = "/v1/policy-check";
/// The unauthenticated liveness path.
pub const HEALTH_PATH: &str = "/healthz";

/// A slow sender gets this long to deliver the whole body.
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Handler {
    pub source: String,
    pub secrets: Vec<Secret>,
    pub tolerance: Duration,
    pub max_body_bytes: usize,
    pub replay: ReplayGuard,
    pub pipeline: Arc<dyn Submit>,
}

type Reply200 = Response<Full<Bytes>>;

impl Handler {
    /// Routes one request. Never fails: every problem is an HTTP reply.
    pub async fn handle<B>(
        self: Arc<Self>,
        request: Request<B>,
        peer: SocketAddr,
    ) -> Result<Reply200, Infallible>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
    {
        let response = match (request.method(), request.uri().path()) {
            (&Method::POST, REQUESTS_PATH) => self.password_request(request, peer).await,
            (&Method::POST, POLICY_CHECK_PATH) => self.policy_check(request, peer).await,
            (&Method::GET, HEALTH_PATH) => json(
                StatusCode::OK,
                &serde_json::json!({ "status": "up", "source": self.source }),
            ),
            (_, REQUESTS_PATH) | (_, HEALTH_PATH) | (_, POLICY_CHECK_PATH) => {
                let mut r = refusal(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Use POST for /v1/requests and /v1/policy-check, GET for /healthz.",
                );
                let allow = if request.uri().path() == HEALTH_PATH {
                    "GET"
                } else {
                    "POST"
                };
                r.headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static(allow));
                r
            }
            _ => refusal(
                StatusCode::NOT_FOUND,
                "Unknown path: requests go to POST /v1/requests.",
            ),
        };
        Ok(response)
    }

    /// Reads, authenticates and parses a signed request: the request and its
    /// `webhook-id`, or the reply that refuses it.
    async fn authenticated<B>(
        &self,
        request: Request<B>,
        peer: SocketAddr,
    ) -> Result<(writeback_core::Request, String), Reply200>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
    {
        let (parts, body) = request.into_parts();
        // Read only for a refusal's log line: a request that passes needs no copy.
        let webhook_id = || header_text(&parts.headers, WEBHOOK_ID);
        let body = match self.read_body(&parts.headers, body).await {
            Ok(body) => body,
            Err((status, message)) => {
                warn!(source = %self.source, %peer, webhook_id = webhook_id(), status = status.as_u16(), "webhook request refused: {message}");
                return Err(reply(
                    status,
                    &Reply::refusal(None, OutcomeCode::InvalidRequest, message),
                ));
            }
        };

        let verified = match verify(
            &self.secrets,
            &parts.headers,
            &body,
            SystemTime::now(),
            self.tolerance,
        ) {
            Ok(v) => v,
            Err(why) => {
                warn!(source = %self.source, %peer, webhook_id = webhook_id(), "webhook signature refused: {why}");
                return Err(reply(
                    StatusCode::UNAUTHORIZED,
                    &Reply::refusal(
                        None,
                        OutcomeCode::Unauthorized,
                        format!("Not authenticated: {why}."),
                    ),
                ));
            }
        };

        if self.replay.check(&verified.id, &body, Instant::now()) == Seen::DifferentBody {
            warn!(source = %self.source, %peer, webhook_id = %verified.id, "replayed webhook-id with a different body refused");
            return Err(reply(
                StatusCode::CONFLICT,
                &Reply::refusal(
                    None,
                    OutcomeCode::Unauthorized,
                    "This webhook-id was already used for a different body: send each new request with a new webhook-id.",
                ),
            ));
        }

        match parse_request(&body, &self.source) {
            Ok(r) => Ok((r, verified.id.to_string())),
            Err(invalid) => {
                warn!(source = %self.source, %peer, webhook_id = %verified.id, request_id = invalid.id, "invalid request: {}", invalid.message);
                Err(reply(
                    StatusCode::BAD_REQUEST,
                    &Reply::refusal(invalid.id, OutcomeCode::InvalidRequest, invalid.message),
                ))
            }
        }
    }

    async fn password_request<B>(&self, request: Request<B>, peer: SocketAddr) -> Reply200
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
    {
        let started = Instant::now();
        let (request, webhook_id) = match self.authenticated(request, peer).await {
            Ok(x) => x,
            Err(refused) => return refused,
        };
        let request_id = request.id.to_string();
        let operation = request.operation.kind();
        let outcome = self.pipeline.submit(request).await;
        let code = outcome.code;
        let answer = Reply::from_outcome(Some(request_id.clone()), outcome);
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // Debug: the audit's "request finished" line is the request's line at info.
        debug!(
            source = %self.source,
            %peer,
            webhook_id = %webhook_id,
            request_id,
            %operation,
            outcome = %code,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "webhook request answered"
        );
        reply(status, &answer)
    }

    /// `POST /v1/policy-check`: the same signed body as a reset or change, answered
    /// with every rule's verdict and each target's lookup. Nothing is written.
    async fn policy_check<B>(&self, request: Request<B>, peer: SocketAddr) -> Reply200
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
    {
        let (request, webhook_id) = match self.authenticated(request, peer).await {
            Ok(x) => x,
            Err(refused) => return refused,
        };
        let request_id = request.id.to_string();
        let Some(password) = request.operation.new_password() else {
            return reply(
                StatusCode::BAD_REQUEST,
                &Reply::refusal(
                    Some(request_id),
                    OutcomeCode::InvalidRequest,
                    "An unlock has no password to check: send a reset or a change.",
                ),
            );
        };
        let checked = self
            .pipeline
            .preflight(&request.identity, request.operation.kind(), password)
            .await;
        match checked {
            Ok(report) => {
                let acceptable = report.failed.is_empty();
                debug!(source = %self.source, %peer, %webhook_id, request_id, acceptable, "policy check answered");
                json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "id": request_id,
                        "acceptable": acceptable,
                        "passed": report.passed,
                        "failed": report.failed,
                        "targets": report.targets.iter().map(|t| serde_json::json!({
                            "target": t.target,
                            "found": t.problem.is_none(),
                            "outcome": t.problem.as_ref().map(|o| o.code),
                            "message": t.problem.as_ref().map(|o| o.message.clone()),
                        })).collect::<Vec<_>>(),
                    }),
                )
            }
            Err(outcome) => {
                let status = StatusCode::from_u16(outcome.code.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                warn!(source = %self.source, %peer, %webhook_id, request_id, outcome = %outcome.code, "policy check could not run");
                reply(status, &Reply::from_outcome(Some(request_id), outcome))
            }
        }
    }

    /// Reads the whole body into one zeroized buffer, refusing it past the limit.
    async fn read_body<B>(
        &self,
        headers: &HeaderMap,
        mut body: B,
    ) -> Result<Zeroizing<Vec<u8>>, (StatusCode, String)>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
    {
        let too_large = || {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The body is larger than the limit of {} bytes.",
                    self.max_body_bytes
                ),
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            discard(&mut body).await;
            return Err(too_large());
        }
        // One allocation of the final size, so no unzeroized copy is left by growth.
        let capacity = declared.map_or(self.max_body_bytes, |n| n as usize);
        let mut buffer = Zeroizing::new(Vec::with_capacity(capacity));
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|_| {
                    (
                        StatusCode::BAD_REQUEST,
                        "The body could not be read.".to_string(),
                    )
                })?;
                if let Ok(data) = frame.into_data() {
                    if buffer.len() + data.len() > self.max_body_bytes {
                        return Err(too_large());
                    }
                    buffer.extend_from_slice(&data);
                }
            }
            Ok(())
        };
        match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
            Ok(Ok(())) => Ok(buffer),
            Ok(Err(e)) => {
                if e.0 == StatusCode::PAYLOAD_TOO_LARGE {
                    discard(&mut body).await;
                }
                Err(e)
            }
            Err(_) => Err((
                StatusCode::REQUEST_TIMEOUT,
                "The body did not arrive in time.".to_string(),
            )),
        }
    }
}

/// How much of a refused body is still read (and dropped) so that a client that is
/// still sending gets to read the 413 instead of a broken pipe.
const DISCARD_LIMIT: usize = 1024 * 1024;
const DISCARD_TIME: Duration = Duration::from_secs(2);

async fn discard<B>(body: &mut B)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut left = DISCARD_LIMIT;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.len() >= left {
                return;
            }
            left -= data.len();
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIME, drain).await;
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
}

fn refusal(status: StatusCode, message: &str) -> Reply200 {
    reply(
        status,
        &Reply::refusal(None, OutcomeCode::InvalidRequest, message),
    )
}

fn reply(status: StatusCode, body: &Reply) -> Reply200 {
    json(status, body)
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Reply200 {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
