//! Checks of this machine and of the config itself: the audit and outbox paths
//! writable with room to spare, and each source's exposure (a plain listener on a
//! non-loopback address), certificate expiry and secret strength.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use writeback_core::{BuildContext, ConnectorConfig, DoctorOptions, Finding, SecretRef};

/// Below this much free space (bytes) on the disk of a state file, warn.
const LOW_DISK: u64 = 512 * 1024 * 1024;

/// `paths.<what>`: the directory of `file` exists, a file can be created in it (or the
/// file appended to), and its disk has room.
pub fn writable(what: &str, file: &Path) -> Vec<Finding> {
    let check = format!("paths.{what}");
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return vec![Finding::fail(
            &check,
            format!(
                "{}: the directory {} does not exist",
                file.display(),
                dir.display()
            ),
        )
        .with_fix(format!(
            "mkdir -p {} and give it to the user writeback runs as",
            dir.display()
        ))];
    }
    let probe = if file.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(file)
            .map(|_| ())
    } else {
        // Create and remove a sibling, so the file itself is not made here.
        let name = dir.join(format!(".writeback-doctor-{}", std::process::id()));
        std::fs::File::create(&name).and_then(|_| std::fs::remove_file(&name))
    };
    let mut out = vec![match probe {
        Ok(()) => Finding::ok(&check, format!("{} is writable", file.display())),
        Err(e) => Finding::fail(&check, format!("{}: cannot write: {e}", file.display())).with_fix(
            format!(
                "chown the directory {} to the user writeback runs as",
                dir.display()
            ),
        ),
    }];
    out.push(disk_space(&format!("disk.{what}"), &dir));
    out
}

/// Free space on the file system holding `dir`.
fn disk_space(check: &str, dir: &Path) -> Finding {
    let Some(free) = free_bytes(dir) else {
        return Finding::warn(
            check,
            format!("cannot read the free space of {}", dir.display()),
        );
    };
    let mib = free / (1024 * 1024);
    if free < LOW_DISK {
        Finding::warn(check, format!("{}: only {mib} MiB free", dir.display())).with_fix(
            "free space or move the file to a larger disk: a full disk stops the audit trail",
        )
    } else {
        Finding::ok(check, format!("{}: {mib} MiB free", dir.display()))
    }
}

// unsafe: statvfs(3) has no safe wrapper in std; the two blocks below say why each holds.
#[allow(unsafe_code)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path and `stat` a writable statvfs buffer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// The checks of one `[[sources]]` table that need only the config and local files.
pub fn source(
    config: &ConnectorConfig,
    ctx: &BuildContext<'_>,
    options: &DoctorOptions,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let table = &config.table;
    let tls = table.get("tls").and_then(|v| v.as_table());
    if let Some(listen) = table.get("listen").and_then(|v| v.as_str()) {
        out.push(exposure(listen, tls.is_some(), config));
    }
    if let Some(cert) = tls
        .and_then(|t| t.get("cert_file"))
        .and_then(|v| v.as_str())
    {
        out.push(certificate_file(&ctx.path(Path::new(cert)), options));
    }
    for key in ["secret", "token"] {
        if let Some(v) = table.get(key) {
            out.push(secret_strength(config, ctx, key, v));
        }
    }
    if let Some(list) = table.get("secrets").and_then(|v| v.as_array()) {
        for (i, v) in list.iter().enumerate() {
            out.push(secret_strength(config, ctx, &format!("secrets[{i}]"), v));
        }
    }
    out
}

fn exposure(listen: &str, tls: bool, config: &ConnectorConfig) -> Finding {
    let Ok(addr) = listen.parse::<SocketAddr>() else {
        return Finding::warn("listener", format!("`{listen}` is not an IP:port"));
    };
    if tls {
        return Finding::ok("listener", format!("{addr}: HTTPS"));
    }
    if addr.ip().is_loopback() {
        return Finding::ok(
            "listener",
            format!("{addr}: plain HTTP on loopback only (reachable from this machine only)"),
        );
    }
    Finding::warn(
        "listener",
        format!(
            "{addr}: plain HTTP on a non-loopback address: passwords cross the network in clear \
             unless a TLS proxy in front is the only way in"
        ),
    )
    .with_fix(format!(
        "add `tls = {{ cert_file = \"…\", key_file = \"…\" }}` to {}, or listen on 127.0.0.1 behind the proxy",
        config.key_path
    ))
}

/// `tls.expiry` of the first certificate of a PEM file.
pub fn certificate_file(path: &Path, options: &DoctorOptions) -> Finding {
    let at = path.display().to_string();
    let pem = match std::fs::read(path) {
        Ok(p) => p,
        Err(e) => return Finding::fail("tls.expiry", format!("{at}: cannot read: {e}")),
    };
    let first = rustls_pemfile::certs(&mut &pem[..]).next();
    match first {
        Some(Ok(der)) => crate::tls::expiry(&at, der.as_ref(), options.expiry_warn_days),
        _ => Finding::fail("tls.expiry", format!("{at}: no PEM certificate in it")),
    }
}

/// `secret`: long enough to resist guessing. The value is read, measured and dropped;
/// it is never shown.
fn secret_strength(
    config: &ConnectorConfig,
    ctx: &BuildContext<'_>,
    key: &str,
    value: &toml::Value,
) -> Finding {
    let check = format!("secret.{key}");
    let secret: SecretRef = match value.clone().try_into() {
        Ok(s) => s,
        Err(e) => return Finding::fail(&check, format!("not a secret reference: {e}")),
    };
    let password = match ctx.secret(config, key, &secret) {
        Ok(p) => p,
        Err(e) => {
            return Finding::fail(&check, format!("cannot be read: {}", e.message))
                .with_fix("set the environment variable or create the file the config names")
        }
    };
    let text = password.expose();
    let bytes = match text.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(|b| b.len())
            .unwrap_or(0),
        None => text.len(),
    };
    let distinct = {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        chars.len()
    };
    let fix = "generate one with `openssl rand -base64 32` (as `whsec_…` for a webhook secret) \
               and give it to both sides";
    if bytes < 16 || distinct < 8 {
        Finding::fail(
            &check,
            format!("weak: {bytes} bytes, {distinct} distinct characters"),
        )
        .with_fix(fix)
    } else if bytes < 24 {
        Finding::warn(
            &check,
            format!("short: {bytes} bytes (32 random bytes advised)"),
        )
        .with_fix(fix)
    } else {
        Finding::ok(&check, format!("{bytes} bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::{ConnectorKind, Password, SecretResolver, Verdict};

    struct Inline;
    impl SecretResolver for Inline {
        fn resolve(&self, s: &SecretRef) -> Result<Password, writeback_core::SecretError> {
            s.value
                .clone()
                .ok_or_else(|| writeback_core::SecretError::Unsupported("inline only".into()))
        }
    }

    fn source_of(text: &str) -> Vec<Finding> {
        let table: toml::Table = toml::from_str(text).unwrap();
        let c = ConnectorConfig::in_code(ConnectorKind::Source, "webhook", "cloud", table);
        let ctx = BuildContext {
            secrets: &Inline,
            base_dir: Path::new("/"),
        };
        source(&c, &ctx, &DoctorOptions::default())
    }

    #[test]
    fn plain_listener_off_loopback_and_weak_secrets_are_named() {
        let f = source_of(
            "listen = \"0.0.0.0:8080\"\nsecret = { value = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\" }",
        );
        assert_eq!(f[0].verdict, Verdict::Warn, "{f:?}");
        assert!(f[0].fix.contains("tls"), "{f:?}");
        assert_eq!(f[1].verdict, Verdict::Fail, "{f:?}");
        assert!(!f[1].evidence.contains("aaaa"), "{f:?}");
        let f = source_of(
            "listen = \"127.0.0.1:8080\"\nsecret = { value = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2I=\" }",
        );
        assert_eq!(f[0].verdict, Verdict::Ok, "{f:?}");
        assert_eq!(f[1].verdict, Verdict::Warn, "{f:?}");
    }

    #[test]
    fn paths_report_missing_directories_and_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let f = writable("audit", &dir.path().join("audit.jsonl"));
        assert_eq!(f[0].verdict, Verdict::Ok, "{f:?}");
        assert!(f[1].evidence.contains("MiB free"), "{f:?}");
        let f = writable("audit", &dir.path().join("missing/audit.jsonl"));
        assert_eq!(f[0].verdict, Verdict::Fail, "{f:?}");
        assert!(f[0].fix.starts_with("mkdir -p"), "{f:?}");
    }
}
