//! Provisioning a throwaway Samba AD DC into a directory: a free loopback address, our
//! own CA and server certificate (Samba's own has no SAN, so a verifying client would
//! refuse it), and `samba-tool domain provision` with every path inside the directory.

use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::SambaError;

pub const REALM: &str = "EXAMPLE.TEST";
pub const DOMAIN: &str = "EXAMPLE";
pub const BASE_DN: &str = "DC=example,DC=test";
/// The Administrator's password at provision time (a test fixture, not a secret).
pub const ADMIN_PASSWORD: &str = "Adm1n!Passw0rd-Test";

/// A loopback address this process holds: the lock file is held open (flock) for the
/// life of the value, so two test binaries never provision on the same address.
pub struct LoopbackLease {
    pub ip: Ipv4Addr,
    _lock: File,
}

/// Takes the first address from 127.0.0.2 on whose LDAP ports nothing listens and that
/// no other test binary holds. Samba's LDAP ports are fixed (389, 636, 3268, 3269), so
/// separate instances need separate addresses.
pub fn lease_loopback() -> Result<LoopbackLease, SambaError> {
    for last in 2u8..=60 {
        let ip = Ipv4Addr::new(127, 0, 0, last);
        let path = std::env::temp_dir().join(format!("writeback-testkit-samba-{ip}.lock"));
        let Ok(file) = File::create(&path) else {
            continue;
        };
        // SAFETY: flock on a file descriptor we own.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            continue;
        }
        let free = [389u16, 636, 3268, 3269]
            .iter()
            .all(|port| TcpListener::bind((IpAddr::V4(ip), *port)).is_ok());
        if free {
            return Ok(LoopbackLease { ip, _lock: file });
        }
    }
    Err(SambaError::new(
        "no free loopback address for the Samba DC between 127.0.0.2 and 127.0.0.60 \
         (ports 389/636 are taken: is a system slapd or samba listening on 0.0.0.0? \
         run .ci/setup.d/samba.sh to stop them)",
    ))
}

/// The PEM files the DC and the clients use.
pub struct Certificates {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

pub fn make_certificates(dir: &Path, ip: Ipv4Addr) -> Result<Certificates, SambaError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| SambaError::new(format!("making the test certificates: {e}"));
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name
        .push(DnType::CommonName, "writeback test CA (samba)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;

    let leaf_key = KeyPair::generate().map_err(err)?;
    let names = vec![
        ip.to_string(),
        "dc.example.test".to_string(),
        "localhost".to_string(),
    ];
    let mut leaf = CertificateParams::new(names).map_err(err)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "dc.example.test");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).map_err(err)?;

    let tls = dir.join("tls");
    fs::create_dir_all(&tls).map_err(|e| SambaError::io("creating", &tls, e))?;
    let certs = Certificates {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().to_vec(),
        ca_file: tls.join("ca.pem"),
        cert_file: tls.join("cert.pem"),
        key_file: tls.join("key.pem"),
    };
    write(&certs.ca_file, &certs.ca_pem)?;
    write(&certs.cert_file, &leaf_cert.pem())?;
    write(&certs.key_file, &leaf_key.serialize_pem())?;
    // Samba refuses a key file readable by others.
    fs::set_permissions(&certs.key_file, fs::Permissions::from_mode(0o600))
        .map_err(|e| SambaError::io("chmod", &certs.key_file, e))?;
    Ok(certs)
}

fn write(path: &Path, text: &str) -> Result<(), SambaError> {
    fs::write(path, text).map_err(|e| SambaError::io("writing", path, e))
}

/// Runs `samba-tool domain provision`; returns the path of the generated smb.conf.
pub fn provision(dir: &Path, ip: Ipv4Addr, certs: &Certificates) -> Result<PathBuf, SambaError> {
    for sub in ["run", "log"] {
        let p = dir.join(sub);
        fs::create_dir_all(&p).map_err(|e| SambaError::io("creating", &p, e))?;
    }
    // An EMPTY base config: otherwise samba-tool merges Debian's /etc/samba/smb.conf.
    let empty = dir.join("empty-base.conf");
    write(&empty, "")?;
    let d = dir.display();
    let options = [
        // `127.0.0.2` alone makes smbd panic; the /8 form binds only that address.
        format!("interfaces = {ip}/8"),
        "bind interfaces only = yes".into(),
        "netbios name = WBTESTDC".into(),
        format!("pid directory = {d}/run"),
        format!("ncalrpc dir = {d}/run/ncalrpc"),
        format!("winbindd socket directory = {d}/run/winbindd"),
        format!("ntp signd socket directory = {d}/run/ntp_signd"),
        format!("log file = {d}/log/log.%m"),
        "panic action = ".into(),
        // One process serving LDAP only: ~50 MB, starts in under a second.
        "server services = ldap".into(),
        format!("tls keyfile = {}", certs.key_file.display()),
        format!("tls certfile = {}", certs.cert_file.display()),
        format!("tls cafile = {}", certs.ca_file.display()),
    ];
    let mut command = Command::new(samba_tool());
    command
        .arg("domain")
        .arg("provision")
        .arg("-s")
        .arg(&empty)
        .arg(format!("--realm={REALM}"))
        .arg(format!("--domain={DOMAIN}"))
        .arg("--server-role=dc")
        .arg("--dns-backend=NONE")
        .arg(format!("--adminpass={ADMIN_PASSWORD}"))
        .arg(format!("--targetdir={d}"))
        .arg(format!("--host-ip={ip}"));
    for option in &options {
        command.arg(format!("--option={option}"));
    }
    run_logged(
        command,
        &dir.join("log/provision.log"),
        "samba-tool domain provision",
    )?;
    let conf = dir.join("etc/smb.conf");
    // After a reset the old password would keep working for 60 minutes; tests check
    // that it stops at once. provision drops this option, so it is added here.
    let text = fs::read_to_string(&conf).map_err(|e| SambaError::io("reading", &conf, e))?;
    let text = text.replacen(
        "[global]\n",
        "[global]\n\told password allowed period = 0\n",
        1,
    );
    write(&conf, &text)?;
    add_cloud_sync_anchor(dir)?;
    Ok(conf)
}

/// `msDS-ExternalDirectoryObjectId` as Windows Server 2016's schema defines it (from
/// Samba's own copy, ad-schema/AD_DS_Attributes__Windows_Server_2016.ldf), then
/// `schemaUpdateNow` so the next change can name it.
const ANCHOR_ATTRIBUTE: &str = "\
dn: CN=ms-DS-External-Directory-Object-Id,CN=Schema,CN=Configuration,DC=example,DC=test
changetype: add
objectClass: top
objectClass: attributeSchema
cn: ms-DS-External-Directory-Object-Id
attributeID: 1.2.840.113556.1.4.2310
attributeSyntax: 2.5.5.12
isSingleValued: TRUE
rangeUpper: 256
showInAdvancedViewOnly: FALSE
adminDisplayName: ms-DS-External-Directory-Object-Id
adminDescription: ms-DS-External-Directory-Object-Id
oMSyntax: 64
searchFlags: 9
lDAPDisplayName: msDS-ExternalDirectoryObjectId
schemaIDGUID:: kL8pva1m4UCIexDfBwQZpg==
attributeSecurityGUID:: hri1d0qU0RGuvQAA+ANnwQ==
systemOnly: FALSE
isMemberOfPartialAttributeSet: TRUE

dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-
";

/// 2016's schema lets every mail recipient (users included) hold the anchor.
const ANCHOR_ON_USERS: &str = "\
dn: CN=Mail-Recipient,CN=Schema,CN=Configuration,DC=example,DC=test
changetype: modify
add: mayContain
mayContain: msDS-ExternalDirectoryObjectId
-

dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-
";

/// Samba 4.17 provisions the 2012 R2 schema, which lacks the attribute Entra Cloud Sync
/// anchors its accounts with (`User_<object id>`); neither `provision --base-schema`
/// nor `domain schemaupgrade --schema` goes past 2012 R2 in 4.17 (both refuse `2019`).
/// So the one attribute is added offline to the fresh database: two `ldbmodify` runs,
/// under a second each.
fn add_cloud_sync_anchor(dir: &Path) -> Result<(), SambaError> {
    let sam = dir.join("private/sam.ldb");
    // Two runs: a class can name the new attribute only once the schema has reloaded.
    for (name, ldif) in [
        ("anchor-attribute", ANCHOR_ATTRIBUTE),
        ("anchor-on-users", ANCHOR_ON_USERS),
    ] {
        let file = dir.join(format!("{name}.ldif"));
        write(&file, ldif)?;
        let mut command =
            Command::new(which("ldbmodify").unwrap_or_else(|| PathBuf::from("/usr/bin/ldbmodify")));
        command
            .arg("-H")
            .arg(&sam)
            .arg("--option=dsdb:schema update allowed=true")
            .arg(&file);
        run_logged(
            command,
            &dir.join(format!("log/{name}.log")),
            "ldbmodify (adding msDS-ExternalDirectoryObjectId to the schema)",
        )?;
    }
    Ok(())
}

pub fn samba_tool() -> PathBuf {
    which("samba-tool").unwrap_or_else(|| PathBuf::from("/usr/bin/samba-tool"))
}

pub fn samba_binary() -> PathBuf {
    which("samba").unwrap_or_else(|| PathBuf::from("/usr/sbin/samba"))
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs a command to completion with its output in `log`; on failure the error quotes
/// the log's tail.
pub fn run_logged(mut command: Command, log: &Path, what: &str) -> Result<String, SambaError> {
    let output = command.output().map_err(|e| {
        SambaError::new(format!(
            "cannot run {what} ({e}): install Samba with `bash .ci/setup.d/samba.sh` \
             (packages samba samba-ad-dc winbind krb5-user smbclient ldb-tools)"
        ))
    })?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let _ = fs::write(log, &text);
    if output.status.success() {
        Ok(text)
    } else {
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(SambaError::new(format!(
            "{what} failed ({}); log {}:\n{}",
            output.status,
            log.display(),
            tail.join("\n")
        )))
    }
}
