//! The listener: accepts connections (TLS or plain), serves HTTP/1.1 on each, and on
//! shutdown stops accepting, lets in-flight requests finish, then returns.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use writeback_core::Shutdown;

use crate::handler::Handler;

/// A client gets this long to finish the TLS handshake, and to send request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After shutdown, how long in-flight requests get before the source gives up on them
/// (longer than any pipeline deadline, which answers every request first).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Server {
    pub listener: TcpListener,
    pub tls: Option<TlsAcceptor>,
    pub handler: Arc<Handler>,
    pub max_connections: usize,
}

impl Server {
    pub async fn serve(self, shutdown: Shutdown) {
        let connections = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(self.max_connections));
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
                        warn!("webhook source: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let handler = self.handler.clone();
            let tls = self.tls.clone();
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                serve_connection(stream, peer, tls, handler, shutdown).await;
                drop(permit);
            });
        }
        drop(self.listener);
        connections.close();
        info!(source = %self.handler.source, in_flight = connections.len(), "webhook source stopped accepting; draining");
        if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
            .await
            .is_err()
        {
            warn!(source = %self.handler.source, "webhook source: connections still open after the drain timeout");
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    handler: Arc<Handler>,
    shutdown: Shutdown,
) {
    match tls {
        None => serve_http(stream, peer, handler, shutdown).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => r,
            };
            match handshake {
                Ok(Ok(tls_stream)) => serve_http(tls_stream, peer, handler, shutdown).await,
                Ok(Err(e)) => debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<S>(stream: S, peer: SocketAddr, handler: Arc<Handler>, shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handler.clone().handle(request, peer));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
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
}
