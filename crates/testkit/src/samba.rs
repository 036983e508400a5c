//! A throwaway Samba AD domain controller (realm EXAMPLE.TEST) for tests.
//!
//! [`shared()`] provisions one per test binary (about 5 s) and keeps it for every test;
//! [`SambaDc::start()`] makes a private one. The DC listens only on a loopback address
//! it leases (127.0.0.2 first), serves LDAPS and StartTLS with a certificate from its
//! own CA ([`SambaDc::ca_file`]), and runs as one process (`-M single`, LDAP only) that
//! dies with the test binary. If Samba is missing or fails, the error says what to
//! install: tests fail, they never skip.
//!
//! Fixtures (see [`seed`]): OU=Staff and OU=Other with users, a service account with
//! Reset Password delegated on OU=Staff only, a fine-grained policy for the
//! "Strict Passwords" group (≥ 14 characters) and one for "Slow Changers" (one-day
//! minimum age), a protected account (Domain Admins), lockout after 3 bad passwords.
//! The domain's minimum password age is 0 and the old password stops working at once
//! after a reset (`old password allowed period = 0`).

mod client;
mod process;
mod provision;
pub mod seed;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub use client::unicode_pwd;
use ldap3::{Ldap, Mod, Scope, SearchEntry};
pub use provision::{ADMIN_PASSWORD, BASE_DN, DOMAIN, REALM};
use rustls::ClientConfig;

use process::{spawn_kept, KeptChild};
use provision::LoopbackLease;

/// Why the DC could not be started or a helper failed.
#[derive(Clone, Debug)]
pub struct SambaError(String);

impl SambaError {
    fn new(message: impl Into<String>) -> Self {
        SambaError(message.into())
    }

    fn io(what: &str, path: &Path, e: std::io::Error) -> Self {
        SambaError(format!("{what} {}: {e}", path.display()))
    }
}

impl fmt::Display for SambaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SambaError {}

/// A name and password to bind with (test fixtures, not secrets).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub dn: String,
    pub upn: String,
    pub password: String,
}

/// Where a new user goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ou {
    /// OU=Staff: the service account may reset passwords here.
    Staff,
    /// OU=Other: outside the service account's delegation.
    Other,
}

impl Ou {
    pub fn dn(self) -> String {
        match self {
            Ou::Staff => format!("OU=Staff,{BASE_DN}"),
            Ou::Other => format!("OU=Other,{BASE_DN}"),
        }
    }
}

/// A user to create with [`SambaDc::add_user`].
#[derive(Clone, Debug)]
pub struct NewUser {
    pub sam: String,
    pub ou: Ou,
    pub password: String,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    pub proxy_addresses: Vec<String>,
    /// Group DNs to add the user to.
    pub groups: Vec<String>,
}

impl NewUser {
    /// A user in OU=Staff named `sam` (≤ 20 characters), with that password.
    pub fn new(sam: &str, password: &str) -> Self {
        NewUser {
            sam: sam.to_string(),
            ou: Ou::Staff,
            password: password.to_string(),
            mail: None,
            display_name: None,
            proxy_addresses: Vec::new(),
            groups: Vec::new(),
        }
    }

    pub fn in_ou(mut self, ou: Ou) -> Self {
        self.ou = ou;
        self
    }

    pub fn mail(mut self, mail: &str) -> Self {
        self.mail = Some(mail.to_string());
        self
    }

    pub fn display_name(mut self, name: &str) -> Self {
        self.display_name = Some(name.to_string());
        self
    }

    pub fn proxy_address(mut self, address: &str) -> Self {
        self.proxy_addresses.push(address.to_string());
        self
    }

    pub fn member_of(mut self, group_dn: &str) -> Self {
        self.groups.push(group_dn.to_string());
        self
    }
}

/// A user the DC holds.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub dn: String,
    pub sam: String,
    pub upn: String,
    pub password: String,
    /// objectGUID as stored (16 bytes, mixed-endian).
    pub object_guid: Vec<u8>,
}

/// Why a bind failed: the LDAP result code and the server's text (AD puts the reason
/// in it as `data 52e`, `data 773`, `data 775` …).
#[derive(Clone, Debug)]
pub struct BindRefused {
    pub rc: u32,
    pub text: String,
}

impl BindRefused {
    /// The hex code after `data ` in the diagnostic (`"773"`: must change, `"775"`:
    /// locked out, `"52e"`: bad password).
    pub fn data_code(&self) -> Option<String> {
        let at = self.text.find("data ")? + 5;
        let code: String = self.text[at..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        (!code.is_empty()).then(|| code.to_ascii_lowercase())
    }
}

impl fmt::Display for BindRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bind refused: rc={} {}", self.rc, self.text)
    }
}

impl std::error::Error for BindRefused {}

/// A running test DC. Dropping it kills the server and deletes its directory.
pub struct SambaDc {
    ip: Ipv4Addr,
    conf: PathBuf,
    ca_file: PathBuf,
    ca_pem: String,
    tls: Arc<ClientConfig>,
    service: Credentials,
    // Field order is drop order: the server dies before its directory is removed.
    _server: KeptChild,
    dir: tempfile::TempDir,
    _lease: LoopbackLease,
}

/// The DC shared by every test of this test binary, provisioned on first use.
pub fn shared() -> Result<&'static SambaDc, SambaError> {
    static SHARED: OnceLock<Result<SambaDc, SambaError>> = OnceLock::new();
    SHARED
        .get_or_init(SambaDc::start)
        .as_ref()
        .map_err(Clone::clone)
}

static NAME_COUNTER: AtomicU32 = AtomicU32::new(0);

impl SambaDc {
    /// Provisions, starts and seeds a private DC. Blocks for a few seconds; callable
    /// from inside an async test (the work runs on its own thread).
    pub fn start() -> Result<SambaDc, SambaError> {
        std::thread::spawn(start_blocking)
            .join()
            .map_err(|_| SambaError::new("the Samba provisioning thread panicked"))?
    }

    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// `ldaps://127.0.0.x:636`
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://{}:636", self.ip)
    }

    /// `ldap://127.0.0.x:389` (for StartTLS, or to show plain LDAP is refused).
    pub fn ldap_url(&self) -> String {
        format!("ldap://{}:389", self.ip)
    }

    /// The PEM file of the CA that signed the DC's certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }

    /// The smb.conf, for `samba-tool … -s <conf>`.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The server's log (debug level 1).
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("log/samba.log")
    }

    pub fn admin_credentials(&self) -> Credentials {
        Credentials {
            dn: format!("CN=Administrator,CN=Users,{BASE_DN}"),
            upn: "Administrator@example.test".into(),
            password: ADMIN_PASSWORD.into(),
        }
    }

    /// The service account with Reset Password delegated on OU=Staff only.
    pub fn service_account(&self) -> &Credentials {
        &self.service
    }

    /// The DN of a seeded group (`seed::STRICT_GROUP`, `seed::MIN_AGE_GROUP`, …).
    pub fn group_dn(&self, group: &str) -> String {
        format!("CN={group},CN=Users,{BASE_DN}")
    }

    /// The seeded protected account (member of Domain Admins, in OU=Staff).
    pub fn protected_user_dn(&self) -> String {
        format!("CN={},OU=Staff,{BASE_DN}", seed::PROTECTED_USER)
    }

    /// A sAMAccountName unique in this DC: `prefix` + a counter (keep `prefix` ≤ 14).
    pub fn unique_name(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}",
            NAME_COUNTER.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// An unbound LDAPS connection verified against the test CA.
    pub async fn connect(&self) -> Result<Ldap, SambaError> {
        client::connect(self.ip, self.tls.clone(), false)
            .await
            .map_err(|e| SambaError::new(format!("connecting to {}: {e}", self.ldaps_url())))
    }

    /// A connection bound as Administrator.
    pub async fn admin(&self) -> Result<Ldap, SambaError> {
        let creds = self.admin_credentials();
        let mut ldap = self.connect().await?;
        ldap.simple_bind(&creds.upn, &creds.password)
            .await
            .and_then(|r| r.success())
            .map_err(seed::ldap_err("binding as Administrator"))?;
        Ok(ldap)
    }

    /// Binds as `name` (a DN or a UPN) with `password` on a fresh LDAPS connection.
    pub async fn bind_as(&self, name: &str, password: &str) -> Result<(), BindRefused> {
        let mut ldap = self.connect().await.map_err(|e| BindRefused {
            rc: 0,
            text: e.to_string(),
        })?;
        let result = ldap.simple_bind(name, password).await;
        let _ = ldap.unbind().await;
        match result {
            Ok(r) if r.rc == 0 => Ok(()),
            Ok(r) => Err(BindRefused {
                rc: r.rc,
                text: r.text,
            }),
            Err(e) => Err(BindRefused {
                rc: 0,
                text: e.to_string(),
            }),
        }
    }

    /// Creates a user (as Administrator) and returns it with its objectGUID.
    pub async fn add_user(&self, user: NewUser) -> Result<TestUser, SambaError> {
        let mut admin = self.admin().await?;
        let dn = format!("CN={},{}", user.sam, user.ou.dn());
        let mut extra = Vec::new();
        if let Some(mail) = &user.mail {
            extra.push(seed::attr("mail", &[mail]));
        }
        if let Some(name) = &user.display_name {
            extra.push(seed::attr("displayName", &[name]));
        }
        if !user.proxy_addresses.is_empty() {
            let values: Vec<&str> = user.proxy_addresses.iter().map(String::as_str).collect();
            extra.push(seed::attr("proxyAddresses", &values));
        }
        seed::add_user_with(&mut admin, &dn, &user.sam, &user.password, extra).await?;
        for group in &user.groups {
            seed::add_member(&mut admin, group, &dn).await?;
        }
        let object_guid = self
            .read_binary(&dn, "objectGUID")
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| SambaError::new(format!("{dn} has no objectGUID")))?;
        let _ = admin.unbind().await;
        Ok(TestUser {
            upn: format!("{}@example.test", user.sam),
            sam: user.sam,
            dn,
            password: user.password,
            object_guid,
        })
    }

    /// Reads string attributes of one entry as Administrator (attribute names as the
    /// server spells them). Operational ones such as `msDS-ResultantPSO` must be named.
    pub async fn read(
        &self,
        dn: &str,
        attrs: &[&str],
    ) -> Result<BTreeMap<String, Vec<String>>, SambaError> {
        let entry = self.read_entry(dn, attrs).await?;
        Ok(entry.attrs.into_iter().collect())
    }

    /// The first value of one attribute, if any.
    pub async fn read_one(&self, dn: &str, attr: &str) -> Result<Option<String>, SambaError> {
        let mut attrs = self.read(dn, &[attr]).await?;
        let key = attrs.keys().find(|k| k.eq_ignore_ascii_case(attr)).cloned();
        Ok(key
            .and_then(|k| attrs.remove(&k))
            .and_then(|v| v.into_iter().next()))
    }

    /// The values of a binary attribute (objectGUID, objectSid …).
    pub async fn read_binary(&self, dn: &str, attr: &str) -> Result<Vec<Vec<u8>>, SambaError> {
        let mut entry = self.read_entry(dn, &[attr]).await?;
        let key = entry
            .bin_attrs
            .keys()
            .find(|k| k.eq_ignore_ascii_case(attr))
            .cloned();
        Ok(key
            .and_then(|k| entry.bin_attrs.remove(&k))
            .unwrap_or_default())
    }

    async fn read_entry(&self, dn: &str, attrs: &[&str]) -> Result<SearchEntry, SambaError> {
        let mut admin = self.admin().await?;
        let (entries, _) = admin
            .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .and_then(|r| r.success())
            .map_err(|e| SambaError::new(format!("reading {dn}: {e}")))?;
        let _ = admin.unbind().await;
        entries
            .into_iter()
            .next()
            .map(SearchEntry::construct)
            .ok_or_else(|| SambaError::new(format!("{dn} not found")))
    }

    /// Applies modifications as Administrator.
    pub async fn modify(&self, dn: &str, mods: Vec<Mod<Vec<u8>>>) -> Result<(), SambaError> {
        let mut admin = self.admin().await?;
        seed::modify(&mut admin, dn, mods).await?;
        let _ = admin.unbind().await;
        Ok(())
    }

    /// Replaces one attribute's values as Administrator.
    pub async fn replace(&self, dn: &str, attr: &str, values: &[&str]) -> Result<(), SambaError> {
        let values: HashSet<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        self.modify(dn, vec![Mod::Replace(attr.as_bytes().to_vec(), values)])
            .await
    }

    pub async fn add_to_group(&self, member_dn: &str, group_dn: &str) -> Result<(), SambaError> {
        let mut admin = self.admin().await?;
        seed::add_member(&mut admin, group_dn, member_dn).await?;
        let _ = admin.unbind().await;
        Ok(())
    }

    /// Runs `samba-tool <args> -s <conf>` against this DC's database; returns its output.
    pub fn samba_tool(&self, args: &[&str]) -> Result<String, SambaError> {
        let mut command = Command::new(provision::samba_tool());
        command.args(args).arg("-s").arg(&self.conf);
        provision::run_logged(
            command,
            &self.dir.path().join("log/samba-tool.log"),
            "samba-tool",
        )
    }
}

fn start_blocking() -> Result<SambaDc, SambaError> {
    let samba = provision::samba_binary();
    if !samba.is_file() {
        return Err(SambaError::new(
            "Samba is not installed (no `samba` binary): run `bash .ci/setup.d/samba.sh` or \
             `apt-get install samba samba-ad-dc winbind krb5-user smbclient ldb-tools`",
        ));
    }
    remove_stale_dirs();
    let lease = provision::lease_loopback()?;
    let ip = lease.ip;
    let dir = tempfile::Builder::new()
        .prefix(&format!("writeback-samba-{}-", std::process::id()))
        .tempdir()
        .map_err(|e| SambaError::new(format!("creating a temp dir: {e}")))?;
    let certs = provision::make_certificates(dir.path(), ip)?;
    let conf = provision::provision(dir.path(), ip, &certs)?;
    let tls = client::tls_config(&certs.ca_der)?;

    let log_path = dir.path().join("log/samba.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| SambaError::io("creating", &log_path, e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| SambaError::io("opening", &log_path, e))?;
    let mut command = Command::new(&samba);
    command
        .args(["-F", "-M", "single", "--debug-stdout", "-d", "1", "-s"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    let child = spawn_kept(command)
        .map_err(|e| SambaError::new(format!("starting {}: {e}", samba.display())))?;
    let mut server = KeptChild(child);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SambaError::new(format!("tokio runtime: {e}")))?;
    let service = runtime.block_on(async {
        wait_until_ready(ip, &tls, &mut server, &log_path).await?;
        let mut admin = client::connect(ip, tls.clone(), false)
            .await
            .map_err(seed::ldap_err("connecting as Administrator"))?;
        admin
            .simple_bind("Administrator@example.test", ADMIN_PASSWORD)
            .await
            .and_then(|r| r.success())
            .map_err(seed::ldap_err("binding as Administrator"))?;
        seed::seed(&mut admin, &conf, &dir.path().join("log")).await?;
        let _ = admin.unbind().await;
        Ok::<_, SambaError>(Credentials {
            dn: format!("CN={},CN=Users,{BASE_DN}", seed::SERVICE_ACCOUNT),
            upn: format!("{}@example.test", seed::SERVICE_ACCOUNT),
            password: seed::SERVICE_PASSWORD.into(),
        })
    })?;
    Ok(SambaDc {
        ip,
        conf,
        ca_file: certs.ca_file,
        ca_pem: certs.ca_pem,
        tls,
        service,
        _server: server,
        dir,
        _lease: lease,
    })
}

/// LDAPS answers about a second after start (two the first time).
async fn wait_until_ready(
    ip: Ipv4Addr,
    tls: &Arc<ClientConfig>,
    server: &mut KeptChild,
    log: &Path,
) -> Result<(), SambaError> {
    let started = Instant::now();
    let mut last_error = String::new();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = server.0.try_wait() {
            return Err(SambaError::new(format!(
                "samba exited at start ({status}); log {}:\n{}",
                log.display(),
                tail(log)
            )));
        }
        match client::connect(ip, tls.clone(), false).await {
            Ok(mut ldap) => match ldap
                .search("", Scope::Base, "(objectClass=*)", vec!["dnsHostName"])
                .await
            {
                Ok(_) => {
                    let _ = ldap.unbind().await;
                    return Ok(());
                }
                Err(e) => last_error = e.to_string(),
            },
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(SambaError::new(format!(
        "samba did not answer LDAPS on {ip}:636 within 60 s (last error: {last_error}); log {}:\n{}",
        log.display(),
        tail(log)
    )))
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Directories of test binaries that were killed (their Drop never ran).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("writeback-samba-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
