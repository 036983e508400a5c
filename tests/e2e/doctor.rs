//! `writeback doctor` against the real servers: a Samba AD DC whose delegations are
//! changed with `samba-tool dsacl` (each right missing in turn, an OU with inheritance
//! disabled), slapd with a service account given `manage`, an expiring certificate,
//! and the binary's table, JSON and exit code.

use std::collections::HashSet;
use std::path::Path;

use ldap3::controls::RawControl;
use ldap3::{Mod, Scope, SearchEntry};
use writeback_core::{
    BuildContext, ConnectorConfig, ConnectorFactory, ConnectorKind, DoctorOptions, Finding,
    Password, SecretRef, SecretResolver, Verdict,
};
use writeback_target_active_directory::doctor::sid_text;
use writeback_target_active_directory::ActiveDirectoryTargetFactory;
use writeback_testkit::samba::{self, seed, SambaDc, BASE_DN};

struct InlineSecrets;

impl SecretResolver for InlineSecrets {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret.value.clone().ok_or_else(|| {
            writeback_core::SecretError::Unsupported("tests use inline secrets only".into())
        })
    }
}

const USER: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
const RESET: &str = "00299570-246d-11d0-a768-00aa006e0529";
const PWD_LAST_SET: &str = "bf967a0a-0de6-11d0-a285-00aa003049e2";
const LOCKOUT_TIME: &str = "28630ebf-41d5-11d1-a9c1-0000f80367c1";

/// The delegation of LAB.md, without the rights named in `leave_out`.
fn delegation(sid: &str, leave_out: &[&str]) -> String {
    let mut sddl = String::new();
    for (kind, guid) in [("CR", RESET), ("WP", PWD_LAST_SET), ("WP", LOCKOUT_TIME)] {
        if !leave_out.contains(&guid) {
            sddl.push_str(&format!("(OA;CIIO;{kind};{guid};{USER};{sid})"));
        }
    }
    sddl.push_str(&format!("(OA;CIIO;RPLCLORC;;{USER};{sid})"));
    sddl
}

async fn service_sid(dc: &SambaDc) -> anyhow::Result<String> {
    let sid = dc
        .read_binary(&dc.service_account().dn, "objectSid")
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the service account has no objectSid"))?;
    sid_text(&sid).ok_or_else(|| anyhow::anyhow!("bad SID"))
}

/// An OU with one user in it.
async fn ou_with_user(dc: &SambaDc, dn: &str) -> anyhow::Result<()> {
    let mut admin = dc.admin().await?;
    seed::add(
        &mut admin,
        dn,
        vec![seed::attr("objectClass", &["organizationalUnit"])],
    )
    .await?;
    let sam = dc.unique_name("doc");
    seed::add_user(
        &mut admin,
        &format!("CN={sam},{dn}"),
        &sam,
        "Doctor!Initial-Pass1",
    )
    .await?;
    let _ = admin.unbind().await;
    Ok(())
}

async fn doctor(dc: &SambaDc, base_dn: &str) -> anyhow::Result<Vec<Finding>> {
    let svc = dc.service_account();
    let text = format!(
        "url = \"{}\"\nca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ value = \"{}\" }}\nbase_dn = \"{base_dn}\"\n",
        dc.ldaps_url(),
        dc.ca_file().display(),
        svc.upn,
        svc.password,
    );
    let table: toml::Table = toml::from_str(&text)?;
    let config = ConnectorConfig::in_code(
        ConnectorKind::Target,
        ActiveDirectoryTargetFactory::TYPE_NAME,
        "ad",
        table,
    );
    let ctx = BuildContext {
        secrets: &InlineSecrets,
        base_dir: Path::new("/"),
    };
    let target = ActiveDirectoryTargetFactory.build(&config, &ctx).await?;
    let findings = target.doctor(&DoctorOptions::default()).await;
    let shown = format!("{findings:?}");
    assert!(
        !shown.contains(&svc.password),
        "the bind password leaked: {shown}"
    );
    Ok(findings)
}

fn failing_rights<'a>(findings: &'a [Finding], ou: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| {
            f.check == "ad.rights" && f.verdict == Verdict::Fail && f.evidence.starts_with(ou)
        })
        .collect()
}

/// The `--sddl="…"` of a fix, to run it as the doctor says.
fn sddl_of(fix: &str) -> Option<&str> {
    let start = fix.find("--sddl=\"")? + 8;
    let end = fix[start..].find('"')? + start;
    fix.get(start..end)
}

#[tokio::test]
async fn each_missing_right_is_named_with_its_ou_and_the_fix_works() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let sid = service_sid(dc).await?;
    let root = format!("OU={},{BASE_DN}", dc.unique_name("doctor"));
    let mut admin = dc.admin().await?;
    seed::add(
        &mut admin,
        &root,
        vec![seed::attr("objectClass", &["organizationalUnit"])],
    )
    .await?;
    let _ = admin.unbind().await;
    let cases = [
        ("Full", None, ""),
        ("NoReset", Some(RESET), "Reset Password"),
        ("NoPwdLastSet", Some(PWD_LAST_SET), "write pwdLastSet"),
        ("NoLockout", Some(LOCKOUT_TIME), "write lockoutTime"),
    ];
    for (name, leave_out, _) in cases {
        let ou = format!("OU={name},{root}");
        ou_with_user(dc, &ou).await?;
        let leave: Vec<&str> = leave_out.into_iter().collect();
        dc.samba_tool(&[
            "dsacl",
            "set",
            &format!("--objectdn={ou}"),
            &format!("--sddl={}", delegation(&sid, &leave)),
        ])?;
    }

    let findings = doctor(dc, &root).await?;
    for (name, _, right) in cases {
        let ou = format!("OU={name},{root}");
        let failing = failing_rights(&findings, &ou);
        if right.is_empty() {
            assert!(failing.is_empty(), "{ou} has every right: {findings:#?}");
            continue;
        }
        assert_eq!(failing.len(), 1, "{ou}: {findings:#?}");
        let f = failing[0];
        assert!(f.evidence.contains(&format!("missing {right}")), "{f:?}");
        // Only the one right left out is named.
        for (_, _, other) in cases {
            if !other.is_empty() && other != right {
                assert!(!f.evidence.contains(other), "{f:?}");
            }
        }
        assert!(
            f.fix.contains("samba-tool dsacl set") && f.fix.contains(&sid),
            "{f:?}"
        );
        assert!(f.fix.contains(&format!("dsacls \"{ou}\"")), "{f:?}");
    }

    // Run the fix the doctor gave for OU=NoReset: the next run finds nothing wrong there.
    let no_reset = format!("OU=NoReset,{root}");
    let fix = failing_rights(&findings, &no_reset)[0].fix.clone();
    let sddl = sddl_of(&fix).ok_or_else(|| anyhow::anyhow!("no --sddl in {fix}"))?;
    dc.samba_tool(&[
        "dsacl",
        "set",
        &format!("--objectdn={no_reset}"),
        &format!("--sddl={sddl}"),
    ])?;
    let again = doctor(dc, &root).await?;
    assert!(failing_rights(&again, &no_reset).is_empty(), "{again:#?}");
    assert_eq!(
        failing_rights(&again, &format!("OU=NoLockout,{root}")).len(),
        1
    );
    Ok(())
}

/// LDAP_SERVER_SD_FLAGS with DACL_SECURITY_INFORMATION.
fn dacl_only() -> RawControl {
    RawControl {
        ctype: "1.2.840.113556.1.4.801".into(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
    }
}

/// The descriptor with SE_DACL_PROTECTED set and the inherited ACEs taken out, as
/// "Disable inheritance → Remove all inherited permissions" does.
fn protect(sd: &[u8]) -> anyhow::Result<Vec<u8>> {
    let u16_at = |at: usize| u16::from_le_bytes([sd[at], sd[at + 1]]);
    let dacl_at = u32::from_le_bytes([sd[16], sd[17], sd[18], sd[19]]) as usize;
    anyhow::ensure!(dacl_at != 0, "no DACL");
    let count = u16_at(dacl_at + 4) as usize;
    let mut at = dacl_at + 8;
    let mut kept = Vec::new();
    let mut kept_count = 0u16;
    for _ in 0..count {
        let size = u16_at(at + 2) as usize;
        if sd[at + 1] & 0x10 == 0 {
            kept.extend_from_slice(&sd[at..at + size]);
            kept_count += 1;
        }
        at += size;
    }
    let mut out = sd[..dacl_at].to_vec();
    let control = u16_at(2) | 0x1000;
    out[2..4].copy_from_slice(&control.to_le_bytes());
    out.extend_from_slice(&[sd[dacl_at], sd[dacl_at + 1]]);
    out.extend_from_slice(&((8 + kept.len()) as u16).to_le_bytes());
    out.extend_from_slice(&kept_count.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&kept);
    out.extend_from_slice(&sd[(at).min(sd.len())..]);
    Ok(out)
}

#[tokio::test]
async fn an_ou_with_inheritance_disabled_is_found() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let sid = service_sid(dc).await?;
    let root = format!("OU={},{BASE_DN}", dc.unique_name("doctor"));
    ou_with_user(dc, &root).await?;
    dc.samba_tool(&[
        "dsacl",
        "set",
        &format!("--objectdn={root}"),
        &format!("--sddl={}", delegation(&sid, &[])),
    ])?;
    let open = format!("OU=Open,{root}");
    let sealed = format!("OU=Sealed,{root}");
    ou_with_user(dc, &open).await?;
    ou_with_user(dc, &sealed).await?;

    let mut admin = dc.admin().await?;
    let (entries, _) = admin
        .with_controls(vec![dacl_only()])
        .search(
            &sealed,
            Scope::Base,
            "(objectClass=*)",
            vec!["nTSecurityDescriptor"],
        )
        .await?
        .success()?;
    let entry = SearchEntry::construct(
        entries
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no {sealed}"))?,
    );
    let sd = entry
        .bin_attrs
        .get("nTSecurityDescriptor")
        .and_then(|v| v.first())
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no descriptor"))?;
    let protected = protect(&sd)?;
    admin
        .with_controls(vec![dacl_only()])
        .modify(
            &sealed,
            vec![Mod::Replace(
                b"nTSecurityDescriptor".to_vec(),
                HashSet::from([protected]),
            )],
        )
        .await?
        .success()?;
    let _ = admin.unbind().await;

    let findings = doctor(dc, &root).await?;
    let inheritance: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.check == "ad.inheritance")
        .collect();
    assert_eq!(inheritance.len(), 1, "{findings:#?}");
    assert_eq!(inheritance[0].verdict, Verdict::Warn);
    assert!(
        inheritance[0].evidence.starts_with(&sealed),
        "{inheritance:?}"
    );
    assert!(inheritance[0].fix.contains("/P:N"), "{inheritance:?}");
    // The delegation on the parent no longer reaches it: every right is missing there.
    let failing = failing_rights(&findings, &sealed);
    assert_eq!(failing.len(), 1, "{findings:#?}");
    assert!(
        failing[0]
            .evidence
            .contains("missing Reset Password, write pwdLastSet, write lockoutTime"),
        "{failing:?}"
    );
    assert!(failing_rights(&findings, &open).is_empty(), "{findings:#?}");
    assert!(failing_rights(&findings, &root).is_empty(), "{findings:#?}");
    Ok(())
}

#[tokio::test]
async fn protected_accounts_policies_pdc_and_clock_are_reported() -> anyhow::Result<()> {
    let dc = samba::shared()?;
    let findings = doctor(dc, BASE_DN).await?;
    let get = |check: &str| {
        findings
            .iter()
            .find(|f| f.check == check)
            .ok_or_else(|| anyhow::anyhow!("no {check} in {findings:#?}"))
    };
    assert_eq!(get("ad.bind")?.verdict, Verdict::Ok);
    let protected = get("ad.protected")?;
    assert!(
        protected.evidence.contains(seed::PROTECTED_USER),
        "{protected:?}"
    );
    assert!(
        protected.evidence.contains("refused by this target"),
        "{protected:?}"
    );
    // Samba 4.17 does not support the policy hints control.
    assert_eq!(get("ad.policy_hints")?.verdict, Verdict::Warn);
    let domain = get("ad.policy")?;
    assert_eq!(
        domain.verdict,
        Verdict::Ok,
        "the fixture's domain minimum age is 0: {domain:?}"
    );
    let slow = findings
        .iter()
        .find(|f| f.check == "ad.pso" && f.evidence.contains("slow-pso"))
        .ok_or_else(|| anyhow::anyhow!("no slow-pso: {findings:#?}"))?;
    assert_eq!(slow.verdict, Verdict::Warn, "{slow:?}");
    assert!(
        slow.evidence.contains("1 day(s)") && slow.evidence.contains("rejected_min_age"),
        "{slow:?}"
    );
    assert!(slow.fix.contains("--min-pwd-age=0"), "{slow:?}");
    let strict = findings
        .iter()
        .find(|f| f.check == "ad.pso" && f.evidence.contains("strict-pso"))
        .ok_or_else(|| anyhow::anyhow!("no strict-pso: {findings:#?}"))?;
    assert_eq!(strict.verdict, Verdict::Ok, "{strict:?}");
    let pdc = get("ad.pdc")?;
    assert!(pdc.evidence.starts_with("PDC emulator: "), "{pdc:?}");
    assert_eq!(get("clock")?.verdict, Verdict::Ok);
    // OU=Other is outside the fixture's delegation: named, with its fix.
    let other = failing_rights(&findings, &samba::Ou::Other.dn());
    assert_eq!(other.len(), 1, "{findings:#?}");
    Ok(())
}

mod openldap {
    use super::*;
    use writeback_target_openldap::OpenLdapTargetFactory;
    use writeback_testkit::slapd::Slapd;

    async fn doctor(slapd: &Slapd) -> anyhow::Result<Vec<Finding>> {
        let text = format!(
            "url = \"{}\"\nca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ value = \"{}\" }}\nbase_dn = \"{}\"\n",
            slapd.ldaps_url(),
            slapd.ca_file().display(),
            slapd.service_dn(),
            slapd.service_password(),
            slapd.people_dn(),
        );
        let table: toml::Table = toml::from_str(&text)?;
        let config = ConnectorConfig::in_code(ConnectorKind::Target, "openldap", "ldap", table);
        let ctx = BuildContext {
            secrets: &InlineSecrets,
            base_dir: Path::new("/"),
        };
        let target = OpenLdapTargetFactory.build(&config, &ctx).await?;
        Ok(target.doctor(&DoctorOptions::default()).await)
    }

    /// Changes cn=config as its administrator (cn=admin,cn=config).
    async fn configure(slapd: &Slapd, dn: &str, mods: Vec<Mod<String>>) -> anyhow::Result<()> {
        let mut ldap = slapd.connect().await.map_err(anyhow::Error::msg)?;
        ldap.simple_bind("cn=admin,cn=config", slapd.admin_password())
            .await?
            .success()?;
        ldap.modify(dn, mods).await?.success()?;
        let _ = ldap.unbind().await;
        Ok(())
    }

    fn get<'a>(findings: &'a [Finding], check: &str) -> anyhow::Result<&'a Finding> {
        findings
            .iter()
            .find(|f| f.check == check)
            .ok_or_else(|| anyhow::anyhow!("no {check} in {findings:#?}"))
    }

    #[tokio::test]
    async fn a_service_account_with_manage_is_warned_about() -> anyhow::Result<()> {
        let slapd = Slapd::start().map_err(anyhow::Error::msg)?;
        // As shipped the service account cannot read cn=config: the ACL checks say so.
        let blind = doctor(&slapd).await?;
        let pw = get(&blind, "ldap.userPassword")?;
        assert_eq!(pw.verdict, Verdict::Warn, "{pw:?}");
        assert!(pw.evidence.starts_with("unknown"), "{pw:?}");
        assert_eq!(get(&blind, "ldap.bind")?.verdict, Verdict::Ok);
        let policy = get(&blind, "ldap.ppolicy")?;
        assert!(policy.evidence.contains("cn=default"), "{policy:?}");
        let clock = get(&blind, "clock")?;
        assert!(clock.evidence.starts_with("not measured"), "{clock:?}");

        // Let it read cn=config, as the fix says: `write` is found and judged right.
        let svc = slapd.service_dn().to_string();
        let set = |v: &str| HashSet::from([v.to_string()]);
        configure(
            &slapd,
            "olcDatabase={0}config,cn=config",
            vec![Mod::Add(
                "olcAccess".into(),
                set(&format!("{{0}}to * by dn.exact=\"{svc}\" read by * none")),
            )],
        )
        .await?;
        // And a monitor database it may read: slapd's clock is compared with ours.
        let mut ldap = slapd.connect().await.map_err(anyhow::Error::msg)?;
        ldap.simple_bind("cn=admin,cn=config", slapd.admin_password())
            .await?
            .success()?;
        ldap.add(
            "olcDatabase=monitor,cn=config",
            vec![
                ("objectClass".to_string(), set("olcDatabaseConfig")),
                ("olcDatabase".to_string(), set("monitor")),
                (
                    "olcAccess".to_string(),
                    set(&format!(
                        "{{0}}to dn.subtree=\"cn=Monitor\" by dn.exact=\"{svc}\" read by * none"
                    )),
                ),
            ],
        )
        .await?
        .success()?;
        let _ = ldap.unbind().await;
        let write = doctor(&slapd).await?;
        let clock = get(&write, "clock")?;
        assert_eq!(clock.verdict, Verdict::Ok, "{clock:?}");
        assert!(clock.evidence.starts_with("slapd's clock is "), "{clock:?}");
        let pw = get(&write, "ldap.userPassword")?;
        assert_eq!(pw.verdict, Verdict::Ok, "{pw:?}");
        assert!(pw.evidence.contains("`write`"), "{pw:?}");
        assert_eq!(get(&write, "ldap.pwdReset")?.verdict, Verdict::Ok);
        assert_eq!(get(&write, "ldap.hash_cleartext")?.verdict, Verdict::Ok);
        let policy = get(&write, "ldap.ppolicy")?;
        assert!(
            policy.evidence.contains("(the default policy)"),
            "{policy:?}"
        );

        // Now give it manage on userPassword: warned, with the rule and the fix.
        let people = slapd.people_dn();
        configure(
            &slapd,
            "olcDatabase={1}mdb,cn=config",
            vec![
                Mod::Delete("olcAccess".into(), set("{0}")),
                Mod::Add(
                    "olcAccess".into(),
                    set(&format!(
                        "{{0}}to dn.subtree=\"{people}\" attrs=userPassword by self write by dn.exact=\"{svc}\" manage by anonymous auth by * none"
                    )),
                ),
            ],
        )
        .await?;
        let manage = doctor(&slapd).await?;
        let pw = get(&manage, "ldap.userPassword")?;
        assert_eq!(pw.verdict, Verdict::Warn, "{pw:?}");
        assert!(
            pw.evidence.contains("`manage`") && pw.evidence.contains("skip"),
            "{pw:?}"
        );
        assert!(pw.fix.contains("write"), "{pw:?}");

        // And cleartext storage is found once hashing is turned off.
        configure(
            &slapd,
            "olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config",
            vec![Mod::Replace("olcPPolicyHashCleartext".into(), set("FALSE"))],
        )
        .await?;
        let clear = doctor(&slapd).await?;
        let hashing = get(&clear, "ldap.hash_cleartext")?;
        assert_eq!(hashing.verdict, Verdict::Fail, "{hashing:?}");
        assert!(
            hashing.fix.contains("olcPPolicyHashCleartext: TRUE"),
            "{hashing:?}"
        );
        Ok(())
    }
}

mod tls_and_cli {
    use super::*;
    use std::sync::Arc;
    use writeback_doctor::tls::{probe, Endpoint, Upgrade};
    use writeback_testkit::slapd;
    use writeback_tests::binary;

    /// A CA and a leaf for `names` that expires in `days` days (PEM: ca, cert, key).
    fn certs(names: &[&str], days: i64) -> anyhow::Result<(String, String, String)> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key)?;
        let key = KeyPair::generate()?;
        let mut leaf =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        let now = time::OffsetDateTime::now_utc();
        leaf.not_before = now - time::Duration::days(1);
        leaf.not_after = now + time::Duration::days(days);
        let cert = leaf.signed_by(&key, &ca, &ca_key)?;
        Ok((ca.pem(), cert.pem(), key.serialize_pem()))
    }

    /// A TLS server on a free loopback port that completes handshakes and closes.
    async fn tls_server(cert_pem: &str, key_pem: &str) -> anyhow::Result<u16> {
        let chain =
            rustls_pemfile::certs(&mut cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())?
            .ok_or_else(|| anyhow::anyhow!("no key"))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(tcp).await;
                });
            }
        });
        Ok(port)
    }

    fn verdict_of(findings: &[Finding], check: &str) -> Option<Verdict> {
        findings
            .iter()
            .find(|f| f.check == check)
            .map(|f| f.verdict)
    }

    #[tokio::test]
    async fn an_expiring_certificate_and_a_wrong_name_are_reported() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (ca, cert, key) = certs(&["127.0.0.1"], 10)?;
        std::fs::write(dir.path().join("ca.pem"), &ca)?;
        let port = tls_server(&cert, &key).await?;
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port,
            upgrade: Upgrade::Immediate,
            ca_file: Some(dir.path().join("ca.pem")),
        };
        let found = probe(&endpoint, &DoctorOptions::default()).await;
        assert_eq!(
            verdict_of(&found, "tls.chain"),
            Some(Verdict::Ok),
            "{found:#?}"
        );
        assert_eq!(
            verdict_of(&found, "tls.hostname"),
            Some(Verdict::Ok),
            "{found:#?}"
        );
        let expiry = found
            .iter()
            .find(|f| f.check == "tls.expiry")
            .ok_or_else(|| anyhow::anyhow!("{found:#?}"))?;
        assert_eq!(expiry.verdict, Verdict::Warn, "{expiry:?}");
        assert!(
            expiry.evidence.contains("expires in 9 day")
                || expiry.evidence.contains("expires in 10 day"),
            "{expiry:?}"
        );
        let protocol = found
            .iter()
            .find(|f| f.check == "tls.protocol")
            .ok_or_else(|| anyhow::anyhow!("{found:#?}"))?;
        assert!(protocol.evidence.contains("TLS 1.3"), "{protocol:?}");

        // A certificate for another name: the chain is fine, the name is not.
        let (ca, cert, key) = certs(&["other.example"], 90)?;
        std::fs::write(dir.path().join("ca2.pem"), &ca)?;
        let port = tls_server(&cert, &key).await?;
        let found = probe(
            &Endpoint {
                port,
                ca_file: Some(dir.path().join("ca2.pem")),
                ..endpoint.clone()
            },
            &DoctorOptions::default(),
        )
        .await;
        assert_eq!(
            verdict_of(&found, "tls.chain"),
            Some(Verdict::Ok),
            "{found:#?}"
        );
        assert_eq!(
            verdict_of(&found, "tls.hostname"),
            Some(Verdict::Fail),
            "{found:#?}"
        );
        assert_eq!(
            verdict_of(&found, "tls.expiry"),
            Some(Verdict::Ok),
            "{found:#?}"
        );
        // Trusting the wrong CA: the chain fails.
        let found = probe(&Endpoint { port, ..endpoint }, &DoctorOptions::default()).await;
        assert_eq!(
            verdict_of(&found, "tls.chain"),
            Some(Verdict::Fail),
            "{found:#?}"
        );
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_binary_prints_json_and_exits_by_the_worst_verdict() -> anyhow::Result<()> {
        let s = slapd::shared();
        let dir = tempfile::tempdir()?;
        let (_, cert, key) = certs(&["127.0.0.1"], 5)?;
        std::fs::write(dir.path().join("server.pem"), &cert)?;
        std::fs::write(dir.path().join("server.key"), &key)?;
        let config = format!(
            "[audit]\npath = \"{audit}\"\n\n[[sources]]\ntype = \"webhook\"\nname = \"cloud\"\nlisten = \"0.0.0.0:0\"\n\
             tls = {{ cert_file = \"server.pem\", key_file = \"server.key\" }}\n\
             secret = {{ file = \"{secret}\" }}\n\n{target}",
            audit = dir.path().join("audit.jsonl").display(),
            secret = writeback_tests::engine::write_secret(dir.path(), "webhook", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").display(),
            target = crate::support::openldap_target(s, dir.path(), "ldap", crate::support::BY_UID),
        );
        let path = dir.path().join("writeback.toml");
        std::fs::write(&path, config)?;
        let (code, json) = doctor_json(&path)?;
        let findings = |part: &str| -> Vec<serde_json::Value> {
            json["sections"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["part"].as_str().is_some_and(|p| p.starts_with(part)))
                .flat_map(|s| s["findings"].as_array().cloned().unwrap_or_default())
                .collect()
        };
        let check = |part: &str, name: &str| {
            findings(part)
                .into_iter()
                .find(|f| f["check"] == name)
                .unwrap_or_else(|| panic!("no {name} in {part}: {json:#}"))
        };
        let expiry = check("source cloud", "tls.expiry");
        assert_eq!(expiry["verdict"], "warn", "{expiry}");
        assert_eq!(check("target ldap", "tls.chain")["verdict"], "ok");
        assert_eq!(check("target ldap", "ldap.bind")["verdict"], "ok");
        assert_eq!(check("host", "paths.audit")["verdict"], "ok");
        assert!(
            !json.to_string().contains("MfKQ9r8"),
            "a secret leaked: {json}"
        );
        // The worst is a warning (the certificate, cn=config unreadable): exit code 1.
        assert_eq!(json["worst"], "warn", "{json:#}");
        assert_eq!(code, Some(1));

        // The table for people says the same.
        let ran = binary::run(["doctor".as_ref(), "-c".as_ref(), path.as_os_str()]);
        let table = ran.stdout;
        assert!(table.contains("[WARN] tls.expiry"), "{table}");
        assert!(table.contains("fix: renew the certificate"), "{table}");
        assert_eq!(ran.code, Some(1));
        Ok(())
    }

    /// Runs `writeback doctor --json` on a config and returns (exit code, JSON).
    fn doctor_json(path: &Path) -> anyhow::Result<(Option<i32>, serde_json::Value)> {
        let ran = binary::run([
            "doctor".as_ref(),
            "--json".as_ref(),
            "-c".as_ref(),
            path.as_os_str(),
        ]);
        let json =
            serde_json::from_str(&ran.stdout).map_err(|e| anyhow::anyhow!("{e}: {}", ran.text))?;
        Ok((ran.code, json))
    }

    fn finding(json: &serde_json::Value, part: &str, check: &str) -> serde_json::Value {
        json["sections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["part"].as_str().is_some_and(|p| p.starts_with(part)))
            .flat_map(|s| s["findings"].as_array().cloned().unwrap_or_default())
            .find(|f| f["check"] == check)
            .unwrap_or_else(|| panic!("no {check} in {part}: {json:#}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn smtp_starttls_and_login_are_checked_without_sending() -> anyhow::Result<()> {
        let s = slapd::shared();
        let smtp = writeback_testkit::smtp::SmtpServer::start().map_err(anyhow::Error::msg)?;
        let dir = tempfile::tempdir()?;
        let write = |password: &str| -> anyhow::Result<std::path::PathBuf> {
            let secret = writeback_tests::engine::write_secret(dir.path(), "smtp", password);
            let config = format!(
                "{target}[[notifiers]]\ntype = \"smtp\"\nname = \"mail\"\nhost = \"{host}\"\nport = {port}\n\
                 tls = \"starttls\"\nca_file = \"{ca}\"\nusername = \"{user}\"\npassword = {{ file = \"{secret}\" }}\n\
                 from = \"Writeback <writeback@example.org>\"\nto = [\"helpdesk@example.org\"]\ntimeout_ms = 3000\n",
                target = crate::support::openldap_target(s, dir.path(), "ldap", crate::support::BY_UID),
                host = smtp.host(),
                port = smtp.port(),
                ca = smtp.ca_file().display(),
                user = smtp.user(),
                secret = secret.display(),
            );
            let path = dir.path().join("writeback.toml");
            std::fs::write(&path, config)?;
            Ok(path)
        };
        let (_, json) = doctor_json(&write(smtp.password())?)?;
        assert_eq!(
            finding(&json, "notifier mail", "tls.chain")["verdict"],
            "ok",
            "{json:#}"
        );
        let protocol = finding(&json, "notifier mail", "tls.protocol");
        assert!(
            protocol["evidence"]
                .as_str()
                .is_some_and(|e| e.contains("TLS 1.")),
            "{protocol}"
        );
        let session = finding(&json, "notifier mail", "smtp.session");
        assert_eq!(session["verdict"], "ok", "{session}");

        let (code, json) = doctor_json(&write("Wrong!Smtp-Marker9")?)?;
        let session = finding(&json, "notifier mail", "smtp.session");
        assert_eq!(session["verdict"], "fail", "{session}");
        assert!(
            !json.to_string().contains("Wrong!Smtp-Marker9"),
            "the password leaked: {json:#}"
        );
        assert_eq!(code, Some(2));
        assert!(
            smtp.messages().is_empty(),
            "the doctor sent mail: {:?}",
            smtp.messages()
        );
        Ok(())
    }
}
