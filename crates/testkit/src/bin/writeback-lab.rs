//! `writeback-lab`: throwaway servers for demos and manual tries, from the test kit.
//!
//! `writeback-lab slapd DIR` starts a slapd with ppolicy and TLS on free loopback
//! ports, adds the user `alice` (password `Initial-Pass-1`), makes a certificate for a
//! webhook source on 127.0.0.1, and writes into DIR:
//!   lab.env          shell variables: LAB_LDAPS_URL, LAB_CA_FILE, LAB_PEOPLE_DN, …
//!   bind.secret      the service account's password (mode 0600)
//!   webhook-tls/     ca.pem, server.pem, server.key for the webhook source
//! It runs until SIGINT or SIGTERM, then stops slapd (which also dies with it).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use writeback_testkit::slapd::Slapd;
use writeback_testkit::tls::TestCerts;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some("slapd"), Some(dir)) = (args.get(1).map(String::as_str), args.get(2)) else {
        eprintln!("usage: writeback-lab slapd DIR");
        std::process::exit(2);
    };
    if let Err(e) = run(Path::new(dir)) {
        eprintln!("writeback-lab: {e}");
        std::process::exit(1);
    }
}

fn run(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let slapd = Slapd::start()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let alice = runtime.block_on(slapd.add_user(
        "alice",
        "Initial-Pass-1",
        &[("cn", "Alice Anders"), ("mail", "alice@example.org")],
    ))?;

    let secret = dir.join("bind.secret");
    std::fs::write(&secret, slapd.service_password()).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    let webhook =
        TestCerts::generate(&["127.0.0.1", "localhost"])?.write_to(&dir.join("webhook-tls"))?;

    let env = [
        ("LAB_LDAPS_URL", slapd.ldaps_url()),
        ("LAB_CA_FILE", path(&slapd.ca_file())),
        ("LAB_BASE_DN", slapd.base_dn().to_string()),
        ("LAB_PEOPLE_DN", slapd.people_dn()),
        ("LAB_SERVICE_DN", slapd.service_dn().to_string()),
        ("LAB_BIND_SECRET_FILE", path(&secret)),
        ("LAB_USER_DN", alice),
        ("LAB_WEBHOOK_CA", path(&webhook.ca)),
        ("LAB_WEBHOOK_CERT", path(&webhook.cert)),
        ("LAB_WEBHOOK_KEY", path(&webhook.key)),
        ("LAB_SLAPD_LOG", path(&slapd.log_file())),
    ];
    let text: String = env.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
    let tmp = dir.join("lab.env.tmp");
    std::fs::write(&tmp, text).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, dir.join("lab.env")).map_err(|e| e.to_string())?;
    eprintln!(
        "writeback-lab: slapd on {} (CA {}); stop with Ctrl-C",
        slapd.ldaps_url(),
        slapd.ca_file().display()
    );

    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    });
    slapd.stop();
    Ok(())
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
