//! A real SMTP server on loopback for notification tests: aiosmtpd (PyPI) with STARTTLS
//! required (or implicit TLS) and AUTH, run by `/usr/bin/python3` (or `$WRITEBACK_TEST_PYTHON`) from
//! `crates/testkit/smtp_server.py`. Every message it accepts lands in a directory as
//! JSON; [`SmtpServer::messages`] reads them back decoded. `stop` and `restart` (same
//! port) simulate an outage. Install with `.ci/setup.d/smtp.sh`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::process::{free_ports, spawn_tied, stop_child};
use crate::tls::{CertFiles, TestCerts};

/// The interpreter the test kit runs; `.ci/setup.d/smtp.sh` installs aiosmtpd into it.
pub const DEFAULT_PYTHON: &str = "/usr/bin/python3";

/// One message as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    pub mail_from: String,
    /// The envelope recipients (To and Cc alike).
    pub rcpt_tos: Vec<String>,
    pub tls: bool,
    pub authenticated: bool,
    pub subject: String,
    pub to: String,
    pub cc: String,
    pub message_id: String,
    /// The decoded text/plain part.
    pub text: String,
    /// The decoded text/html part.
    pub html: String,
    /// The message as sent (headers and encoded body).
    pub raw: String,
}

pub struct SmtpServer {
    dir: tempfile::TempDir,
    port: u16,
    certs: CertFiles,
    user: String,
    password: String,
    implicit_tls: bool,
    child: Mutex<Option<Child>>,
}

impl SmtpServer {
    /// Starts a server with STARTTLS required and AUTH as [`SmtpServer::user`].
    pub fn start() -> Result<SmtpServer, String> {
        SmtpServer::start_with(false)
    }

    /// Starts a server that speaks TLS from the first byte (port-465 style), with AUTH.
    pub fn start_implicit_tls() -> Result<SmtpServer, String> {
        SmtpServer::start_with(true)
    }

    fn start_with(implicit_tls: bool) -> Result<SmtpServer, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let certs =
            TestCerts::generate(&["127.0.0.1", "localhost"])?.write_to(&dir.path().join("tls"))?;
        std::fs::create_dir_all(dir.path().join("mail")).map_err(|e| format!("mail dir: {e}"))?;
        let [port] = free_ports::<1>("127.0.0.1").map_err(|e| format!("free port: {e}"))?;
        let server = SmtpServer {
            dir,
            port,
            certs,
            user: "writeback-notify".into(),
            password: format!("smtp-{}", std::process::id()),
            implicit_tls,
            child: Mutex::new(None),
        };
        server.restart()?;
        Ok(server)
    }

    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server's certificate (for `ca_file`).
    pub fn ca_file(&self) -> &Path {
        &self.certs.ca
    }

    /// The AUTH user name and password the server accepts.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's stderr (aiosmtpd's warnings), for diagnosing a failed test.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("smtp.log")
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Stops the server (an outage); messages already received stay readable.
    pub fn stop(&self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            stop_child(&mut child, Duration::from_secs(2));
        }
    }

    /// Starts the server again on the same port (or the first time); returns once it
    /// listens.
    pub fn restart(&self) -> Result<(), String> {
        self.stop();
        let python =
            std::env::var("WRITEBACK_TEST_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp_server.py");
        let mut command = Command::new(&python);
        command
            .arg(&script)
            .arg(self.host())
            .arg(self.port.to_string())
            .arg(self.mail_dir())
            .arg(&self.certs.cert)
            .arg(&self.certs.key)
            .env("SMTP_TEST_USER", &self.user)
            .env("SMTP_TEST_PASSWORD", &self.password)
            .env(
                "SMTP_TEST_IMPLICIT_TLS",
                if self.implicit_tls { "1" } else { "0" },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // A file, not a pipe: nobody drains a pipe, and a full one would stall the server.
            .stderr(Stdio::from(
                std::fs::File::create(self.log_file())
                    .map_err(|e| format!("SMTP server log: {e}"))?,
            ));
        let mut child = spawn_tied(command).map_err(|e| {
            format!("cannot run {python}: {e}; install Python 3 and run .ci/setup.d/smtp.sh")
        })?;
        // Wait for READY on a helper thread, so a server that hangs cannot hang the test.
        let stdout = child.stdout.take();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ready = stdout
                .map(|out| {
                    BufReader::new(out)
                        .lines()
                        .map_while(Result::ok)
                        .any(|line| line.trim() == "READY")
                })
                .unwrap_or(false);
            let _ = tx.send(ready);
        });
        let ready = rx.recv_timeout(Duration::from_secs(20)).unwrap_or(false);
        if !ready {
            let err = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the test SMTP server (aiosmtpd under {python}) did not start: {}; \
                 run .ci/setup.d/smtp.sh to install it",
                err.trim()
            ));
        }
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        Ok(())
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.mail_dir())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "json"));
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|text| parse_record(&text))
            .collect()
    }

    /// Waits until at least `count` messages arrived (or `timeout`), then returns all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= count || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn parse_record(text: &str) -> Option<ReceivedMail> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let s = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Some(ReceivedMail {
        mail_from: s("mail_from"),
        rcpt_tos: v
            .get("rcpt_tos")?
            .as_array()?
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        tls: v.get("tls").and_then(|x| x.as_bool()).unwrap_or(false),
        authenticated: v
            .get("authenticated")
            .and_then(|x| x.as_bool())
            .unwrap_or(false),
        subject: s("subject"),
        to: s("to"),
        cc: s("cc"),
        message_id: s("message_id"),
        text: s("text"),
        html: s("html"),
        raw: s("raw"),
    })
}
