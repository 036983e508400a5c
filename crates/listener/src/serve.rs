//! The accept loop: a connection cap, TLS with a handshake timeout, HTTP/1.1 with a
//! header-read timeout and a body-read timeout, and on shutdown: stop accepting, let
//! each connection finish its request in flight, give up after the drain timeout.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body as HttpBody, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::body::TimedBody;
use crate::Body;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How much a listener gives each client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// A client gets this long to finish the TLS handshake …
    pub handshake_timeout: Duration,
    /// … to send a request's headers …
    pub header_timeout: Duration,
    /// … and to send its body, counted from the end of the headers.
    pub body_timeout: Duration,
    /// After shutdown, how long in-flight requests get before the listener gives up on
    /// them (longer than any pipeline deadline, which answers every request first).
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(60),
        }
    }
}

/// A bound socket, ready to serve.
pub struct Listener {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    name: String,
}

impl Listener {
    /// Binds `addr`. `name` says in logs which endpoint this is (`SCIM source "scim"`).
    pub async fn bind(
        addr: SocketAddr,
        tls: Option<TlsAcceptor>,
        limits: Limits,
        name: impl Into<String>,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Listener::from_tcp(listener, tls, limits, name))
    }

    /// Serves on a socket bound by the caller.
    pub fn from_tcp(
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        limits: Limits,
        name: impl Into<String>,
    ) -> Self {
        Listener {
            listener,
            tls,
            limits,
            name: name.into(),
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown`, serving each with the service
    /// `make_service` returns for its peer; then drains (see [`Limits::drain_timeout`]).
    pub async fn serve<F, S, B>(self, make_service: F, shutdown: CancellationToken)
    where
        F: Fn(SocketAddr) -> S,
        S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: HttpBody + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let connections = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(self.limits.max_connections.max(1)));
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, go on.
                        warn!(listener = %self.name, "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let service = WithTimedBody {
                inner: make_service(peer),
                limit: self.limits.body_timeout,
            };
            let (tls, limits, shutdown) = (self.tls.clone(), self.limits, shutdown.clone());
            connections.spawn(async move {
                let _slot = permit;
                let stream = match tls {
                    None => Either::Left(stream),
                    Some(acceptor) => {
                        let handshake = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            r = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)) => r,
                        };
                        match handshake {
                            Ok(Ok(tls_stream)) => Either::Right(tls_stream),
                            Ok(Err(e)) => return debug!(%peer, "TLS handshake failed: {e}"),
                            Err(_) => return debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                };
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(connection);
                let result = tokio::select! {
                    r = connection.as_mut() => r,
                    _ = shutdown.cancelled() => {
                        // Finish the request in flight (if any), then close.
                        connection.as_mut().graceful_shutdown();
                        connection.as_mut().await
                    }
                };
                if let Err(e) = result {
                    debug!(%peer, "connection ended: {e}");
                }
            });
        }
        drop(self.listener);
        connections.close();
        info!(listener = %self.name, in_flight = connections.len(), "stopped accepting; draining");
        if tokio::time::timeout(self.limits.drain_timeout, connections.wait())
            .await
            .is_err()
        {
            warn!(listener = %self.name, "connections still open after the drain timeout");
        }
    }
}

/// The caller's service, given bodies with the body-read timeout.
struct WithTimedBody<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<Request<Incoming>> for WithTimedBody<S>
where
    S: Service<Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let limit = self.limit;
        self.inner
            .call(request.map(|body| TimedBody::new(body, limit)))
    }
}
