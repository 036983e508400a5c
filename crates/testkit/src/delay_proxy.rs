//! A TCP proxy that makes a server slow on demand: it listens on a free 127.0.0.1
//! port, forwards every connection to an upstream address, and can hold the server's
//! replies for a while — all of them, or only the replies to a client message that
//! contains some bytes (the DN of a write, say). Switchable at runtime, so a test
//! warms a connection pool fast and then makes only the write late, without touching
//! the server itself.
//!
//! It runs on its own thread and runtime, so the test's runtime being busy (or gone)
//! does not change when replies are let through.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A running proxy; stops (and drops every connection) when dropped.
pub struct DelayProxy {
    port: u16,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    /// Every reply is held this long (0: none).
    hold_all_ms: AtomicU64,
    /// Replies that follow a client message containing these bytes are held this long.
    trigger: Mutex<Option<(Vec<u8>, Duration)>>,
    connections: AtomicUsize,
    /// Client messages that matched the trigger.
    triggered: AtomicUsize,
}

impl DelayProxy {
    /// Starts forwarding a free loopback port to `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<DelayProxy> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("delay-proxy-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept_loop(listener, upstream, shared) => {}
                    }
                });
                // Dropping the runtime here ends every connection task.
            })?;
        Ok(DelayProxy {
            port,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Holds every reply read from the server from now on for `hold` (zero: none).
    pub fn hold_replies(&self, hold: Duration) {
        self.state
            .hold_all_ms
            .store(hold.as_millis() as u64, Ordering::SeqCst);
    }

    /// Holds, for `hold`, the replies to any client message that contains `pattern`
    /// (until that client sends its next message).
    pub fn hold_replies_to(&self, pattern: &[u8], hold: Duration) {
        *lock(&self.state.trigger) = Some((pattern.to_vec(), hold));
    }

    /// Lets every reply through at once again.
    pub fn release(&self) {
        self.hold_replies(Duration::ZERO);
        *lock(&self.state.trigger) = None;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Client messages that contained the `hold_replies_to` pattern so far.
    pub fn triggered(&self) -> usize {
        self.state.triggered.load(Ordering::SeqCst)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, state: Arc<State>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let state = state.clone();
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(upstream).await {
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                relay(client, server, state).await;
            }
        });
    }
}

/// Client → server at once; server → client through a queue that lets each chunk go
/// at the time it was read plus the hold in force then (order kept).
async fn relay(client: TcpStream, server: TcpStream, state: Arc<State>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Hold for replies on this connection decided by the client's last message.
    let hold_next_ms = Arc::new(AtomicU64::new(0));

    let upward = {
        let state = state.clone();
        let hold_next_ms = hold_next_ms.clone();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            // The end of the previous chunk, so a pattern split across reads still counts.
            let mut tail: Vec<u8> = Vec::new();
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let trigger = lock(&state.trigger).clone();
                let mut hold = 0;
                if let Some((pattern, duration)) = trigger {
                    let mut window = std::mem::take(&mut tail);
                    window.extend_from_slice(&buf[..n]);
                    if !pattern.is_empty() && contains(&window, &pattern) {
                        hold = duration.as_millis() as u64;
                        state.triggered.fetch_add(1, Ordering::SeqCst);
                    } else {
                        let keep = pattern.len().saturating_sub(1).min(window.len());
                        tail = window[window.len() - keep..].to_vec();
                    }
                }
                hold_next_ms.store(hold, Ordering::SeqCst);
                if server_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
        }
    };

    let (queue, mut queued) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let downward_read = {
        let state = state.clone();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match server_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let hold = state
                    .hold_all_ms
                    .load(Ordering::SeqCst)
                    .max(hold_next_ms.load(Ordering::SeqCst));
                let at = Instant::now() + Duration::from_millis(hold);
                if queue.send((at, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    };
    let downward_write = async move {
        while let Some((at, bytes)) = queued.recv().await {
            tokio::time::sleep_until(at).await;
            if client_write.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upward, downward_read, downward_write);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round(c: &mut TcpStream, msg: &[u8]) -> Duration {
        let started = std::time::Instant::now();
        c.write_all(msg).await.unwrap_or_else(|e| panic!("{e}"));
        let mut b = [0u8; 16];
        let n = c.read(&mut b).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&b[..n], msg);
        started.elapsed()
    }

    /// An echo server behind the proxy: replies come at once, then only after the hold.
    #[test]
    fn holds_replies_when_asked_and_only_then() {
        let echo = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap_or_else(|e| panic!("{e}"));
        let upstream = echo.local_addr().unwrap_or_else(|e| panic!("{e}"));
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for mut s in echo.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b) {
                        if n == 0 || s.write_all(&b[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = DelayProxy::start(upstream).unwrap_or_else(|e| panic!("{e}"));
        let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(async {
            let mut c = TcpStream::connect(proxy.addr())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(round(&mut c, b"fast").await < Duration::from_millis(200));
            proxy.hold_replies_to(b"slow", Duration::from_millis(400));
            assert!(round(&mut c, b"fast").await < Duration::from_millis(200));
            assert!(round(&mut c, b"slow").await >= Duration::from_millis(400));
            assert_eq!(proxy.triggered(), 1);
            proxy.release();
            proxy.hold_replies(Duration::from_millis(300));
            assert!(round(&mut c, b"any").await >= Duration::from_millis(300));
            proxy.release();
            assert!(round(&mut c, b"fast").await < Duration::from_millis(200));
        });
        assert_eq!(proxy.connections(), 1);
    }
}
