//! The LDIF a test slapd is built from: cn=config (mdb, ppolicy overlay, TLS, ACLs)
//! and the test tree (default password policy, service account, ou=people).

use std::path::Path;

use base64::Engine;
use ring::rand::SecureRandom;

pub(crate) struct Names<'a> {
    pub suffix: &'a str,
    pub admin_dn: &'a str,
    pub admin_password: &'a str,
    pub service_dn: &'a str,
    pub service_password: &'a str,
}

/// A `{SSHA}` userPassword value (salted SHA-1, what slapd's default hash is).
pub(crate) fn ssha(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| "no randomness for a salt".to_string())?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(password.as_bytes());
    ctx.update(&salt);
    let mut raw = ctx.finish().as_ref().to_vec();
    raw.extend_from_slice(&salt);
    Ok(format!(
        "{{SSHA}}{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
}

/// A random password of 24 hex characters (for the admin and service accounts).
pub(crate) fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; 12];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness for a password".to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// cn=config. The ACL is the one docs/openldap.md documents: under ou=people the
/// service account has `write` (not `manage`) on userPassword, so ppolicy checks
/// quality and history for it, `write` on the two ppolicy attributes the target sets
/// (pwdReset) and removes (pwdAccountLockedTime), and `read` on the rest.
pub(crate) fn config(
    dir: &Path,
    modules: &Path,
    schema: &Path,
    n: &Names<'_>,
) -> Result<String, String> {
    let d = dir.display();
    let admin_hash = ssha(n.admin_password)?;
    let (suffix, svc, m, s) = (n.suffix, n.service_dn, modules.display(), schema.display());
    Ok(format!(
        "dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {d}/slapd.pid
olcArgsFile: {d}/slapd.args
olcLogLevel: stats
olcTLSCACertificateFile: {d}/tls/ca.pem
olcTLSCertificateFile: {d}/tls/server.pem
olcTLSCertificateKeyFile: {d}/tls/server.key

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {m}
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://{s}/core.ldif
include: file://{s}/cosine.ldif
include: file://{s}/nis.ldif
include: file://{s}/inetorgperson.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcPasswordHash: {{SSHA}}

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcRootDN: cn=admin,cn=config
olcRootPW: {admin_hash}

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {suffix}
olcRootDN: {admin}
olcRootPW: {admin_hash}
olcDbDirectory: {d}/db
olcDbMaxSize: 268435456
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: mail eq
olcDbIndex: entryUUID eq
olcAccess: {{0}}to dn.subtree=\"{people}\" attrs=userPassword by self write by dn.exact=\"{svc}\" write by anonymous auth by * none
olcAccess: {{1}}to dn.subtree=\"{people}\" attrs=pwdReset,pwdAccountLockedTime by dn.exact=\"{svc}\" write by self read by * none
olcAccess: {{2}}to dn.subtree=\"{people}\" by dn.exact=\"{svc}\" read by self read by users read by * none
olcAccess: {{3}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{4}}to * by self read by users read by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: cn=default,ou=policies,{suffix}
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: TRUE
",
        admin = n.admin_dn,
        people = format_args!("ou=people,{suffix}"),
    ))
}

/// The test tree: the default policy of the brief, the service account, ou=people.
pub(crate) fn data(n: &Names<'_>) -> Result<String, String> {
    let suffix = n.suffix;
    let dc = suffix
        .split(',')
        .next()
        .and_then(|rdn| rdn.strip_prefix("dc="))
        .unwrap_or("example");
    Ok(format!(
        "dn: {suffix}
objectClass: dcObject
objectClass: organization
dc: {dc}
o: writeback test

dn: ou=policies,{suffix}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{suffix}
objectClass: organizationalRole
objectClass: pwdPolicy
cn: default
{policy}
dn: ou=system,{suffix}
objectClass: organizationalUnit
ou: system

dn: {svc}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: pwmgr
userPassword: {svc_hash}

dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people
",
        policy = DEFAULT_POLICY
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect::<String>(),
        svc = n.service_dn,
        svc_hash = ssha(n.service_password)?,
    ))
}

/// Appends `count` users (`uid=bulk-<i>`, no password) under ou=people.
pub(crate) fn bulk_users(ldif: &mut String, suffix: &str, count: usize) {
    use std::fmt::Write;
    ldif.reserve(count * 200);
    for i in 0..count {
        let uid = super::Slapd::bulk_uid(i);
        let _ = write!(
            ldif,
            "\ndn: uid={uid},ou=people,{suffix}\nobjectClass: inetOrgPerson\nuid: {uid}\n\
             cn: Bulk User {i}\nsn: User {i}\nmail: {uid}@example.org\n"
        );
    }
}

/// The default password policy of the test tree.
pub const DEFAULT_POLICY: [(&str, &str); 11] = [
    ("pwdAttribute", "userPassword"),
    ("pwdMinLength", "8"),
    ("pwdInHistory", "3"),
    ("pwdMaxFailure", "3"),
    ("pwdLockout", "TRUE"),
    ("pwdLockoutDuration", "0"),
    ("pwdCheckQuality", "2"),
    ("pwdMustChange", "TRUE"),
    ("pwdAllowUserChange", "TRUE"),
    ("pwdSafeModify", "FALSE"),
    ("pwdMinAge", "0"),
];
