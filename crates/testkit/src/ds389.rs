//! A throwaway 389 Directory Server for tests. One configured, stopped instance (the
//! template) is built per test run with `dscreate from-file` under a private prefix
//! (`ds389/build.sh`: no systemd, 127.0.0.1 only, the test CA and a server certificate
//! with SAN 127.0.0.1, the seed tree, ACIs and policies); each [`Ds389::start`] copies
//! it, rewrites paths and ports, and runs `ns-slapd` in the foreground (about 1–2 s).
//!
//! The tree: `ou=people` under the global policy (min length 10, history 3, lockout
//! after 3 failures, expiry on, must-change off), `ou=strict` under a subtree policy
//! (must-change on, min age 1 h, min length 12), and the service account
//! `cn=pwmgr,ou=system` with an ACI granting `write` on userPassword, passwordRetryCount
//! and accountUnlockTime (not a password administrator: the policy is enforced), and
//! `read` on the account attributes, the local policies and the global policy.

mod directory;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::process::{free_ports, pid_alive, spawn_tied, stop_child};
use crate::tls::TestCerts;

const INSTALL_HINT: &str = "install 389 Directory Server and its tools: \
     `apt-get install -y 389-ds-base libnss3-tools ldap-utils` (or run `.ci/setup.d/389ds.sh` as root)";
const DIR_PREFIX: &str = "writeback-ds389-";
const INSTANCE: &str = "wb";
const BUILD_SCRIPT: &str = include_str!("ds389/build.sh");

/// The built template: where it is and what it was built with.
struct Template {
    dir: tempfile::TempDir,
    ldap_port: u16,
    ldaps_port: u16,
    dm_password: String,
    service_password: String,
    ca_pem: String,
}

/// A running test 389 DS. Killed when dropped, and when the test binary exits.
pub struct Ds389 {
    dir: tempfile::TempDir,
    ldap_port: u16,
    ldaps_port: u16,
    dm_password: String,
    service_password: String,
    ca_pem: String,
    child: Mutex<Option<Child>>,
    counter: AtomicU64,
}

/// The 389 DS every test in this binary shares, started on first use. Tests stay
/// isolated by using their own users ([`Ds389::unique_uid`]). Panics (failing the
/// test) when it cannot start, saying what to install.
pub fn shared() -> &'static Ds389 {
    static SHARED: OnceLock<Result<Ds389, String>> = OnceLock::new();
    match SHARED.get_or_init(Ds389::start) {
        Ok(ds) => ds,
        Err(e) => panic!("the test 389 Directory Server could not start: {e}"),
    }
}

fn template() -> Result<&'static Template, String> {
    static TEMPLATE: OnceLock<Result<Template, String>> = OnceLock::new();
    TEMPLATE
        .get_or_init(build_template)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_template() -> Result<Template, String> {
    if !Path::new("/usr/sbin/ns-slapd").exists() {
        return Err(format!("/usr/sbin/ns-slapd not found: {INSTALL_HINT}"));
    }
    remove_stale_dirs();
    let dir = owned_temp_dir()?;
    let certs = TestCerts::generate(&["127.0.0.1", "localhost"])?;
    let files = certs.write_to(&dir.path().join("tls"))?;
    let dm_password = format!("Dm-{}", crate::slapd::random_password()?);
    let service_password = format!("Sv-{}", crate::slapd::random_password()?);
    let prefix = dir.path().join("prefix");
    std::fs::create_dir_all(&prefix)
        .map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
    let [ldap_port, ldaps_port] = free_ports::<2>("127.0.0.1")
        .map_err(|e| format!("cannot find free loopback ports: {e}"))?;
    let script = dir.path().join("build.sh");
    std::fs::write(&script, BUILD_SCRIPT)
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let log = dir.path().join("build.log");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_file2 = log_file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let status = Command::new("bash")
        .arg(&script)
        .env("TPL", &prefix)
        .env("LDAP_PORT", ldap_port.to_string())
        .env("LDAPS_PORT", ldaps_port.to_string())
        .env("DM_PW", &dm_password)
        .env("SVC_PW", &service_password)
        .env("CA_PEM", &files.ca)
        .env("CERT_PEM", &files.cert)
        .env("KEY_PEM", &files.key)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_file2)
        .status()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the 389 DS template failed ({status}); {} ends with:\n{}\n({INSTALL_HINT})",
            log.display(),
            tail(&log, 20)
        ));
    }
    Ok(Template {
        dir,
        ldap_port,
        ldaps_port,
        dm_password,
        service_password,
        ca_pem: certs.ca_pem,
    })
}

impl Ds389 {
    /// A private instance copied from the template (built on first use, ~15 s).
    pub fn start() -> Result<Ds389, String> {
        let tpl = template()?;
        let dir = owned_temp_dir()?;
        let from = tpl.dir.path().join("prefix");
        let to = dir.path().join("prefix");
        copy_tree(&from, &to)?;
        std::fs::create_dir_all(dir.path().join("tls"))
            .map_err(|e| format!("cannot create the tls dir: {e}"))?;
        std::fs::write(dir.path().join("tls").join("ca.pem"), &tpl.ca_pem)
            .map_err(|e| format!("cannot write ca.pem: {e}"))?;
        let mut last_error = String::new();
        for _ in 0..3 {
            let [ldap_port, ldaps_port] = free_ports::<2>("127.0.0.1")
                .map_err(|e| format!("cannot find free loopback ports: {e}"))?;
            rewrite(&from, &to, tpl, ldap_port, ldaps_port)?;
            match launch(dir.path(), ldap_port, ldaps_port) {
                Ok(child) => {
                    return Ok(Ds389 {
                        dir,
                        ldap_port,
                        ldaps_port,
                        dm_password: tpl.dm_password.clone(),
                        service_password: tpl.service_password.clone(),
                        ca_pem: tpl.ca_pem.clone(),
                        child: Mutex::new(Some(child)),
                        counter: AtomicU64::new(0),
                    })
                }
                // Most likely a port taken between probing and binding: try others.
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
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
        "dc=example,dc=org"
    }

    /// `ou=people,…`: the global policy (must-change off).
    pub fn people_dn(&self) -> String {
        format!("ou=people,{}", self.base_dn())
    }

    /// `ou=strict,…`: the subtree policy (must-change on, min age 1 h, min length 12).
    pub fn strict_dn(&self) -> String {
        format!("ou=strict,{}", self.base_dn())
    }

    /// `cn=Directory Manager` (bypasses ACIs and password policy).
    pub fn admin_dn(&self) -> &str {
        "cn=Directory Manager"
    }

    pub fn admin_password(&self) -> &str {
        &self.dm_password
    }

    /// `cn=pwmgr,ou=system,…`: write on userPassword, passwordRetryCount and
    /// accountUnlockTime by ACI.
    pub fn service_dn(&self) -> String {
        format!("cn=pwmgr,ou=system,{}", self.base_dn())
    }

    pub fn service_password(&self) -> &str {
        &self.service_password
    }

    /// The instance's config dir (dse.ldif, the NSS database).
    pub fn config_dir(&self) -> PathBuf {
        self.dir
            .path()
            .join("prefix/etc/dirsrv")
            .join(format!("slapd-{INSTANCE}"))
    }

    /// ns-slapd's output, for debugging a failing test.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("ns-slapd.log")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s); the data stays.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            stop_child(&mut child, Duration::from_secs(10));
        }
    }
}

impl Drop for Ds389 {
    fn drop(&mut self) {
        if let Some(mut child) = self
            .child
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            stop_child(&mut child, Duration::from_secs(5));
        }
    }
}

/// Runs ns-slapd on the instance in `dir` and waits until both ports answer.
fn launch(dir: &Path, ldap_port: u16, ldaps_port: u16) -> Result<Child, String> {
    let log_path = dir.join("ns-slapd.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let prefix = dir.join("prefix");
    let mut command = Command::new("/usr/sbin/ns-slapd");
    command
        .arg("-D")
        .arg(prefix.join("etc/dirsrv").join(format!("slapd-{INSTANCE}")))
        .arg("-i")
        .arg(prefix.join("run").join(format!("slapd-{INSTANCE}.pid")))
        .arg("-d")
        .arg("0")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    let mut child = spawn_tied(command)
        .map_err(|e| format!("cannot run /usr/sbin/ns-slapd: {e}; {INSTALL_HINT}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "ns-slapd exited ({status}) while starting; {} ends with:\n{}",
                log_path.display(),
                tail(&log_path, 15)
            ));
        }
        if crate::slapd::answers_ldap(ldap_port) && answers_tcp(ldaps_port) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            stop_child(&mut child, Duration::from_millis(100));
            return Err(format!(
                "ns-slapd did not answer on 127.0.0.1:{ldap_port} within 30 s; log:\n{}",
                tail(&log_path, 15)
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn answers_tcp(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A temp dir marked with this process's pid, so a later run can remove it.
fn owned_temp_dir() -> Result<tempfile::TempDir, String> {
    let dir = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir()
        .map_err(|e| format!("cannot make a temp dir: {e}"))?;
    std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string())
        .map_err(|e| format!("cannot write into {}: {e}", dir.path().display()))?;
    Ok(dir)
}

/// Copies the template's files, leaving out what belongs to a running server (pid
/// file, socket, database environment regions, logs).
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        let src = entry.path();
        let dst = to.join(&name);
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot stat {}: {e}", src.display()))?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            let skip = name_text.ends_with(".pid")
                || name_text.starts_with("__db.")
                || src
                    .parent()
                    .is_some_and(|p| p.to_string_lossy().contains("/var/log/"));
            if !skip {
                std::fs::copy(&src, &dst)
                    .map_err(|e| format!("cannot copy {}: {e}", src.display()))?;
            }
        }
        // Sockets and anything else are left behind.
    }
    Ok(())
}

/// Points the copy's config at its own paths and ports.
fn rewrite(from: &Path, to: &Path, tpl: &Template, ldap: u16, ldaps: u16) -> Result<(), String> {
    let (from, to) = (from.to_string_lossy(), to.to_string_lossy());
    let conf = format!("etc/dirsrv/slapd-{INSTANCE}");
    for file in [
        format!("{conf}/dse.ldif"),
        format!("{conf}/pkcs11.txt"),
        "share/dirsrv/inf/defaults.inf".to_string(),
    ] {
        let tpl_path = Path::new(from.as_ref()).join(&file);
        let path = Path::new(to.as_ref()).join(&file);
        let text = std::fs::read_to_string(&tpl_path)
            .map_err(|e| format!("cannot read {}: {e}", tpl_path.display()))?;
        let text = text
            .replace(from.as_ref(), to.as_ref())
            .replace(
                &format!("\nnsslapd-port: {}\n", tpl.ldap_port),
                &format!("\nnsslapd-port: {ldap}\n"),
            )
            .replace(
                &format!("\nnsslapd-securePort: {}\n", tpl.ldaps_port),
                &format!("\nnsslapd-securePort: {ldaps}\n"),
            );
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    // dse.ldif.startOK/.bak are fallbacks ns-slapd may read: keep them consistent.
    for backup in ["dse.ldif.startOK", "dse.ldif.bak"] {
        let _ = std::fs::remove_file(Path::new(to.as_ref()).join(&conf).join(backup));
    }
    Ok(())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Removes the dirs of test instances whose test binary has exited.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_copy_starts_with_the_seeded_tree_and_policies() {
        let started = Instant::now();
        let ds = Ds389::start().unwrap_or_else(|e| panic!("{e}"));
        eprintln!("template + copy started in {:?}", started.elapsed());
        let again = Instant::now();
        let second = Ds389::start().unwrap_or_else(|e| panic!("{e}"));
        eprintln!("a second copy started in {:?}", again.elapsed());
        assert_ne!(ds.ldap_url(), second.ldap_url());
        drop(second);
        assert!(ds.can_bind(&ds.service_dn(), ds.service_password()).await);
        let uid = ds.unique_uid("kit");
        assert!(!uid.chars().any(|c| c.is_ascii_digit()), "{uid}");
        let people = ds
            .add_user(&uid, "Qz7#Wx9$Rv2!", &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let strict = ds
            .add_user_in(&ds.strict_dn(), &uid, "Qz7#Wx9$Rv2!", &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // ou=strict's subtree policy has must-change on: a new entry starts reset.
        let expires = ds
            .read_attr(&strict, "passwordExpirationTime")
            .await
            .unwrap_or_default();
        assert_eq!(expires, vec!["19700101000000Z".to_string()]);
        let policy = ds
            .read_attr(&strict, "pwdpolicysubentry")
            .await
            .unwrap_or_default();
        assert_eq!(policy.len(), 1, "{policy:?}");
        assert!(ds
            .read_attr(&people, "pwdpolicysubentry")
            .await
            .unwrap_or_default()
            .is_empty());
        assert!(ds.can_bind(&people, "Qz7#Wx9$Rv2!").await);
    }
}
