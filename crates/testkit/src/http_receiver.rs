//! A real HTTP receiver for webhook notifications, on loopback: it verifies the
//! Standard Webhooks signature (`writeback-signing`), refuses bad ones with 401,
//! deduplicates by `webhook-id` (a repeat gets 200 but is not recorded twice) and keeps
//! every accepted delivery for the test to read. It runs on its own thread and runtime,
//! so it outlives any one test's runtime; `stop`/`restart` (same port) simulate an
//! outage, `fail_next` makes it answer 503 a number of times, and `set_delay` makes it
//! hold each request before answering (a slow receiver).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use writeback_signing::{verify, Secret, DEFAULT_TOLERANCE};

/// Largest body accepted.
const MAX_BODY: usize = 1 << 20;

/// One accepted, first-seen delivery.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The `webhook-id` header.
    pub id: String,
    pub path: String,
    pub body: String,
}

#[derive(Default)]
struct State {
    seen: BTreeSet<String>,
    deliveries: Vec<Delivery>,
    duplicates: u32,
    rejected: u32,
}

struct Shared {
    secret: Secret,
    state: Mutex<State>,
    fail_next: AtomicU32,
    /// Milliseconds each request is held before it is looked at.
    delay_ms: AtomicU64,
    /// Every request that arrived, counted before the delay.
    arrived: AtomicU32,
}

pub struct HttpReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    running: Mutex<
        Option<(
            std::thread::JoinHandle<()>,
            tokio::sync::oneshot::Sender<()>,
        )>,
    >,
}

impl HttpReceiver {
    /// Starts a receiver that accepts messages signed with `secret` (`whsec_…`).
    pub fn start(secret: &str) -> Result<HttpReceiver, String> {
        let secret = Secret::parse(secret).map_err(|e| format!("receiver secret: {e}"))?;
        let [port] =
            crate::process::free_ports::<1>("127.0.0.1").map_err(|e| format!("free port: {e}"))?;
        let receiver = HttpReceiver {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            shared: Arc::new(Shared {
                secret,
                state: Mutex::new(State::default()),
                fail_next: AtomicU32::new(0),
                delay_ms: AtomicU64::new(0),
                arrived: AtomicU32::new(0),
            }),
            running: Mutex::new(None),
        };
        receiver.restart()?;
        Ok(receiver)
    }

    /// `http://127.0.0.1:PORT/hook`
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answers 503 to the next `n` requests (before checking them).
    pub fn fail_next(&self, n: u32) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// Holds every later request this long before checking and answering it.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Requests that arrived so far (answered or still held), duplicates included.
    pub fn arrived(&self) -> u32 {
        self.shared.arrived.load(Ordering::SeqCst)
    }

    /// First-seen deliveries, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    /// Requests with an id seen before (answered 200, not recorded again).
    pub fn duplicates(&self) -> u32 {
        self.lock().duplicates
    }

    /// Requests refused for a missing or wrong signature.
    pub fn rejected(&self) -> u32 {
        self.lock().rejected
    }

    /// Waits until at least `count` deliveries arrived (or `timeout`), then returns all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.deliveries();
            if got.len() >= count || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops listening: connections are refused until [`HttpReceiver::restart`].
    pub fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((thread, stop)) = running {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }

    /// Listens again on the same port (or the first time).
    pub fn restart(&self) -> Result<(), String> {
        self.stop();
        let listener = std::net::TcpListener::bind(self.addr)
            .map_err(|e| format!("bind {}: {e}", self.addr))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("listener: {e}"))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let shared = self.shared.clone();
        let thread = std::thread::Builder::new()
            .name("testkit-http-receiver".into())
            .spawn(move || serve(listener, shared, stop_rx))
            .map_err(|e| format!("receiver thread: {e}"))?;
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some((thread, stop_tx));
        Ok(())
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = &mut stop => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let reply = |status: StatusCode, text: &str| {
        let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
        *r.status_mut() = status;
        Ok(r)
    };
    shared.arrived.fetch_add(1, Ordering::SeqCst);
    let delay = shared.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = shared
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return reply(StatusCode::SERVICE_UNAVAILABLE, "try again later");
    }
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large or broken"),
    };
    let verified = verify(
        std::slice::from_ref(&shared.secret),
        &headers,
        &body,
        SystemTime::now(),
        DEFAULT_TOLERANCE,
    );
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    match verified {
        Err(e) => {
            state.rejected += 1;
            reply(StatusCode::UNAUTHORIZED, &e.to_string())
        }
        Ok(v) if !state.seen.insert(v.id.clone()) => {
            state.duplicates += 1;
            reply(StatusCode::OK, "duplicate")
        }
        Ok(v) => {
            state.deliveries.push(Delivery {
                id: v.id,
                path,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            reply(StatusCode::OK, "ok")
        }
    }
}
