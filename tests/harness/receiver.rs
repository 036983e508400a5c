//! A real HTTP server that receives notifier webhooks, verifies their Standard
//! Webhooks signature and keeps the bodies.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use writeback_signing::{verify, Secret, DEFAULT_TOLERANCE};

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub secret: String,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
    bad_signatures: Arc<Mutex<u32>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("receiver cannot listen: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let receiver = Receiver {
            addr,
            secret,
            received: Arc::default(),
            bad_signatures: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn bad_signatures(&self) -> u32 {
        *self
            .bad_signatures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a notification for `request_id` arrived (or 10 s passed).
    pub async fn wait_for(&self, request_id: &str) -> Option<serde_json::Value> {
        for _ in 0..200 {
            if let Some(b) = self
                .bodies()
                .into_iter()
                .find(|b| b["request_id"] == request_id)
            {
                return Some(b);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Ok(secret) = Secret::parse(&r.secret) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    let now = std::time::SystemTime::now();
    if verify(&[secret], &headers, &body, now, DEFAULT_TOLERANCE).is_err() {
        *r.bad_signatures.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        return StatusCode::UNAUTHORIZED;
    }
    match serde_json::from_slice(&body) {
        Ok(v) => {
            r.received.lock().unwrap_or_else(|p| p.into_inner()).push(v);
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}
