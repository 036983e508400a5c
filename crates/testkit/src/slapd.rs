//! A throwaway OpenLDAP server for tests: its own temp dir, free loopback ports,
//! ppolicy with the test tree's default policy, LDAPS with a fresh CA, and a service
//! account that has `write` (not `manage`) on userPassword.
//!
//! ```no_run
//! # async fn t() {
//! let slapd = writeback_testkit::slapd::shared();
//! let uid = slapd.unique_uid("alice");
//! let dn = slapd.add_user(&uid, "Initial-Pass-1", &[]).await.unwrap();
//! assert!(slapd.can_bind(&dn, "Initial-Pass-1").await);
//! # }
//! ```

mod directory;
mod ldif;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::process::{free_ports, pid_alive, spawn_tied, stop_child};
use crate::tls::TestCerts;

pub(crate) use ldif::random_password;
pub use ldif::DEFAULT_POLICY;

const INSTALL_HINT: &str =
    "install OpenLDAP's server and tools: `apt-get install -y slapd ldap-utils` \
     (or run `.ci/setup.d/ldap.sh` as root)";
const DIR_PREFIX: &str = "writeback-slapd-";

/// How a private instance is built ([`Slapd::start_with`]).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Write to disk with fsync, as a production slapd does. The default
    /// (`olcDbNoSync`) keeps tests fast and hides the directory's real write cost.
    pub fsync: bool,
    /// Users loaded with slapadd before the server starts: `uid=`[`Slapd::bulk_uid`]`(i)`
    /// under ou=people for i in 0..bulk_users, without a password (a reset sets one).
    pub bulk_users: usize,
}

/// A running (or stopped) test slapd. Killed when dropped, and when the test binary
/// exits in any way.
pub struct Slapd {
    dir: tempfile::TempDir,
    slapd_bin: PathBuf,
    ldap_port: u16,
    ldaps_port: u16,
    base_dn: String,
    admin_dn: String,
    admin_password: String,
    service_dn: String,
    service_password: String,
    ca_pem: String,
    child: Mutex<Option<Child>>,
    counter: AtomicU64,
}

/// The slapd every test in this binary shares, started on first use. Tests stay
/// isolated by using their own users ([`Slapd::unique_uid`]). Panics (failing the
/// test rather than letting it pass) when slapd cannot start, saying what to install.
pub fn shared() -> &'static Slapd {
    static SHARED: OnceLock<Result<Slapd, String>> = OnceLock::new();
    match SHARED.get_or_init(Slapd::start) {
        Ok(slapd) => slapd,
        Err(e) => panic!("the test slapd could not start: {e}"),
    }
}

impl Slapd {
    /// Builds and starts a private instance (about a second). Use it for tests that
    /// stop the server; others use [`shared`].
    pub fn start() -> Result<Slapd, String> {
        Slapd::start_with(&Options::default())
    }

    /// A private instance built with `options` (benchmarks: fsync on, a bulk-loaded
    /// tree of [`Slapd::bulk_uid`] users).
    pub fn start_with(options: &Options) -> Result<Slapd, String> {
        let tools = Tools::find()?;
        remove_stale_dirs();
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .map_err(|e| format!("cannot make a temp dir: {e}"))?;
        std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string())
            .map_err(|e| format!("cannot write into {}: {e}", dir.path().display()))?;
        let base_dn = "dc=example,dc=org".to_string();
        let admin_dn = format!("cn=admin,{base_dn}");
        let service_dn = format!("cn=pwmgr,ou=system,{base_dn}");
        let admin_password = ldif::random_password()?;
        let service_password = ldif::random_password()?;
        let certs = TestCerts::generate(&["127.0.0.1", "localhost"])?;
        certs.write_to(&dir.path().join("tls"))?;
        let names = ldif::Names {
            suffix: &base_dn,
            admin_dn: &admin_dn,
            admin_password: &admin_password,
            service_dn: &service_dn,
            service_password: &service_password,
        };
        build_database(&tools, dir.path(), &names, options)?;

        let mut slapd = Slapd {
            dir,
            slapd_bin: tools.slapd.clone(),
            ldap_port: 0,
            ldaps_port: 0,
            base_dn,
            admin_dn,
            admin_password,
            service_dn,
            service_password,
            ca_pem: certs.ca_pem,
            child: Mutex::new(None),
            counter: AtomicU64::new(0),
        };
        let mut last_error = String::new();
        for _ in 0..3 {
            let [ldap_port, ldaps_port] = free_ports::<2>("127.0.0.1")
                .map_err(|e| format!("cannot find free loopback ports: {e}"))?;
            slapd.ldap_port = ldap_port;
            slapd.ldaps_port = ldaps_port;
            match slapd.launch() {
                Ok(()) => return Ok(slapd),
                // Most likely a port taken between probing and binding: try others.
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s); the data stays.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            stop_child(&mut child, Duration::from_secs(5));
        }
    }

    /// Starts the server again on the same ports with the same data.
    pub fn start_again(&self) -> Result<(), String> {
        self.stop();
        self.launch()
    }

    /// Whether the server process is running.
    pub fn is_running(&self) -> bool {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        matches!(guard.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The uid of bulk-loaded user `i` ([`Options::bulk_users`]).
    pub fn bulk_uid(i: usize) -> String {
        format!("bulk-{i}")
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    pub fn ldap_port(&self) -> u16 {
        self.ldap_port
    }

    pub fn ldaps_port(&self) -> u16 {
        self.ldaps_port
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls").join("ca.pem")
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// `dc=example,dc=org`.
    pub fn base_dn(&self) -> &str {
        &self.base_dn
    }

    /// `ou=people,dc=example,dc=org`, where [`Slapd::add_user`] puts users.
    pub fn people_dn(&self) -> String {
        format!("ou=people,{}", self.base_dn)
    }

    /// The rootdn (bypasses ACLs and password policy).
    pub fn admin_dn(&self) -> &str {
        &self.admin_dn
    }

    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// `cn=pwmgr,ou=system,…`: `write` on userPassword, pwdReset and
    /// pwdAccountLockedTime, `read` elsewhere.
    pub fn service_dn(&self) -> &str {
        &self.service_dn
    }

    pub fn service_password(&self) -> &str {
        &self.service_password
    }

    /// The server's own log (`-d stats`), for debugging a failing test.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("slapd.log")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn launch(&self) -> Result<(), String> {
        let log_path = self.log_file();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let mut command = Command::new(&self.slapd_bin);
        command
            .arg("-d")
            .arg("stats")
            .arg("-F")
            .arg(self.dir.path().join("slapd.d"))
            .arg("-h")
            .arg(format!("{}/ {}/", self.ldap_url(), self.ldaps_url()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let mut child = spawn_tied(command).map_err(|e| {
            format!(
                "cannot run {}: {e}; {INSTALL_HINT}",
                self.slapd_bin.display()
            )
        })?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "slapd exited ({status}) while starting; its log {} ends with:\n{}",
                    log_path.display(),
                    tail(&log_path, 15)
                ));
            }
            if answers_ldap(self.ldap_port) {
                break;
            }
            if Instant::now() > deadline {
                stop_child(&mut child, Duration::from_millis(100));
                return Err(format!(
                    "slapd did not answer on 127.0.0.1:{} within 10 s; log:\n{}",
                    self.ldap_port,
                    tail(&log_path, 15)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        Ok(())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(mut child) = self
            .child
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            stop_child(&mut child, Duration::from_secs(2));
        }
    }
}

/// The OpenLDAP programs and files a test slapd needs.
struct Tools {
    slapd: PathBuf,
    slapadd: PathBuf,
    modules: PathBuf,
    schema: PathBuf,
}

impl Tools {
    fn find() -> Result<Tools, String> {
        let first = |candidates: &[&str]| candidates.iter().map(PathBuf::from).find(|p| p.exists());
        let slapd = first(&[
            "/usr/sbin/slapd",
            "/usr/local/sbin/slapd",
            "/usr/local/libexec/slapd",
        ])
        .ok_or_else(|| format!("slapd not found in /usr/sbin or /usr/local: {INSTALL_HINT}"))?;
        let slapadd = first(&["/usr/sbin/slapadd", "/usr/local/sbin/slapadd"])
            .ok_or_else(|| format!("slapadd not found: {INSTALL_HINT}"))?;
        let modules = first(&["/usr/lib/ldap", "/usr/lib64/openldap", "/usr/local/libexec/openldap"])
            .filter(|d| d.join("ppolicy.so").exists() || d.join("ppolicy.la").exists())
            .ok_or_else(|| format!("the slapd modules (back_mdb, ppolicy) were not found in /usr/lib/ldap: {INSTALL_HINT}"))?;
        let schema = first(&[
            "/etc/ldap/schema",
            "/etc/openldap/schema",
            "/usr/local/etc/openldap/schema",
        ])
        .filter(|d| d.join("inetorgperson.ldif").exists())
        .ok_or_else(|| {
            format!("the OpenLDAP schema files were not found in /etc/ldap/schema: {INSTALL_HINT}")
        })?;
        Ok(Tools {
            slapd,
            slapadd,
            modules,
            schema,
        })
    }
}

/// Writes the LDIF and loads it with slapadd (cn=config, then the data).
fn build_database(
    tools: &Tools,
    dir: &Path,
    names: &ldif::Names<'_>,
    options: &Options,
) -> Result<(), String> {
    for sub in ["slapd.d", "db"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("cannot create {sub}: {e}"))?;
    }
    let mut config = ldif::config(dir, &tools.modules, &tools.schema, names)?;
    if options.fsync {
        config = config.replace("olcDbNoSync: TRUE\n", "");
    }
    if options.bulk_users > 10_000 {
        // About 2 KB per entry with its indices; the map is sparse on disk.
        config = config.replace("olcDbMaxSize: 268435456", "olcDbMaxSize: 2147483648");
    }
    let mut data = ldif::data(names)?;
    ldif::bulk_users(&mut data, names.suffix, options.bulk_users);
    for (n, name, text) in [("0", "config.ldif", config), ("1", "data.ldif", data)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let out = Command::new(&tools.slapadd)
            .args(["-q", "-n", n, "-F"])
            .arg(dir.join("slapd.d"))
            .arg("-l")
            .arg(&path)
            .output()
            .map_err(|e| {
                format!(
                    "cannot run {}: {e}; {INSTALL_HINT}",
                    tools.slapadd.display()
                )
            })?;
        if !out.status.success() {
            return Err(format!(
                "slapadd -n{n} {} failed ({}): {}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// Whether something on the port answers an anonymous LDAP bind with success.
pub(crate) fn answers_ldap(port: u16) -> bool {
    use std::io::{Read, Write};
    // BindRequest, message id 1, version 3, empty name, empty simple password.
    const ANONYMOUS_BIND: [u8; 14] = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ];
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(&ANONYMOUS_BIND).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        // BindResponse (0x61) with resultCode ENUMERATED 0.
        Ok(n) if n >= 10 => {
            buf[..n].windows(3).any(|w| w == [0x0a, 0x01, 0x00]) && buf[..n].contains(&0x61)
        }
        _ => false,
    }
}

/// The last `lines` lines of a log file.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Removes temp dirs of test slapds whose test binary has exited (the shared instance
/// lives in a static and is never dropped).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let owner = std::fs::read_to_string(entry.path().join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        if let Some(pid) = owner {
            if !pid_alive(pid) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}
