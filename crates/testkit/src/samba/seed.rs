//! What the test DC holds besides the defaults: two OUs, a service account with Reset
//! Password delegated on OU=Staff only, two fine-grained password policies each applied
//! to one group, a protected account, and a lockout threshold.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use ldap3::{Ldap, Mod, Scope, SearchEntry};

use super::client::{sid_to_string, unicode_pwd};
use super::provision::{run_logged, samba_tool, BASE_DN};
use super::SambaError;

/// The delegated service account (CN=Users): Reset Password, write lockoutTime, write
/// pwdLastSet and read on user objects in OU=Staff only.
pub const SERVICE_ACCOUNT: &str = "svc-writeback";
pub const SERVICE_PASSWORD: &str = "Svc!Writeback-Pass1";

/// Members get the "strict" PSO: at least 14 characters.
pub const STRICT_GROUP: &str = "Strict Passwords";
pub const STRICT_MIN_LENGTH: u32 = 14;
/// Members get the "slow" PSO: a one-day minimum password age.
pub const MIN_AGE_GROUP: &str = "Slow Changers";

/// A member of Domain Admins in OU=Staff (so the delegated ACEs reach it: only the
/// protected-account check stands between the service account and it).
pub const PROTECTED_USER: &str = "it-admin";

/// The domain's lockout threshold (bad passwords before lockout).
pub const LOCKOUT_THRESHOLD: u32 = 3;

/// The object ACEs from LAB.md, inherited by user objects (class bf967aba-…) only.
/// `OA` (object ACE) matters: `A` would grant every extended right on every child.
const DELEGATION_SDDL: &str =
    "(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})\
(OA;CIIO;WP;28630ebf-41d5-11d1-a9c1-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})\
(OA;CIIO;WP;bf967a0a-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})\
(OA;CIIO;RPLCLORC;;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})";

/// Read (and list) the Password Settings Container and, inherited, every PSO in it.
const PSO_READ_SDDL: &str = "(A;CI;RPLCLORC;;;{SID})";

/// 100-nanosecond intervals, negative as AD stores durations.
pub const ONE_DAY: i64 = -864_000_000_000;
const THIRTY_MINUTES: i64 = -18_000_000_000;
const FORTY_TWO_DAYS: i64 = 42 * ONE_DAY;

pub fn ldap_err(what: &str) -> impl Fn(ldap3::LdapError) -> SambaError + '_ {
    move |e| SambaError::new(format!("{what}: {e}"))
}

pub async fn seed(admin: &mut Ldap, conf: &Path, log_dir: &Path) -> Result<(), SambaError> {
    // Domain policy: AD defaults except a zero minimum age (so self-service changes work
    // right after a reset) and a lockout threshold for the unlock tests.
    modify(
        admin,
        BASE_DN,
        vec![
            replace("minPwdAge", "0"),
            replace("lockoutThreshold", &LOCKOUT_THRESHOLD.to_string()),
            replace("lockoutDuration", &THIRTY_MINUTES.to_string()),
            replace("lockOutObservationWindow", &THIRTY_MINUTES.to_string()),
        ],
    )
    .await?;
    for ou in ["Staff", "Other"] {
        add(
            admin,
            &format!("OU={ou},{BASE_DN}"),
            vec![attr("objectClass", &["organizationalUnit"])],
        )
        .await?;
    }
    for (group, sam) in [
        (STRICT_GROUP, "strict-passwords"),
        (MIN_AGE_GROUP, "slow-changers"),
    ] {
        add(
            admin,
            &format!("CN={group},CN=Users,{BASE_DN}"),
            vec![
                attr("objectClass", &["group"]),
                attr("sAMAccountName", &[sam]),
            ],
        )
        .await?;
    }
    add_pso(admin, "strict-pso", 10, STRICT_MIN_LENGTH, 0, STRICT_GROUP).await?;
    add_pso(admin, "slow-pso", 20, 7, ONE_DAY, MIN_AGE_GROUP).await?;

    let service_dn = format!("CN={SERVICE_ACCOUNT},CN=Users,{BASE_DN}");
    add_user(admin, &service_dn, SERVICE_ACCOUNT, SERVICE_PASSWORD).await?;
    let sid = object_sid(admin, &service_dn).await?;
    delegate_reset_password(conf, &sid, log_dir)?;
    // The `directory` policy reads PSOs with the same account; by default only
    // administrators may read the Password Settings Container.
    dsacl(
        conf,
        &format!("CN=Password Settings Container,CN=System,{BASE_DN}"),
        &PSO_READ_SDDL.replace("{SID}", &sid),
        log_dir,
    )?;

    add_user(
        admin,
        &format!("CN=alice,OU=Staff,{BASE_DN}"),
        "alice",
        "Alice!Initial-Pass1",
    )
    .await?;
    add_user(
        admin,
        &format!("CN=bob,OU=Other,{BASE_DN}"),
        "bob",
        "Bob!Initial-Pass1",
    )
    .await?;
    let protected_dn = format!("CN={PROTECTED_USER},OU=Staff,{BASE_DN}");
    add_user(
        admin,
        &protected_dn,
        PROTECTED_USER,
        "ItAdmin!Initial-Pass1",
    )
    .await?;
    add_member(
        admin,
        &format!("CN=Domain Admins,CN=Users,{BASE_DN}"),
        &protected_dn,
    )
    .await?;
    Ok(())
}

fn delegate_reset_password(conf: &Path, sid: &str, log_dir: &Path) -> Result<(), SambaError> {
    dsacl(
        conf,
        &format!("OU=Staff,{BASE_DN}"),
        &DELEGATION_SDDL.replace("{SID}", sid),
        log_dir,
    )
}

fn dsacl(conf: &Path, object_dn: &str, sddl: &str, log_dir: &Path) -> Result<(), SambaError> {
    let mut command = Command::new(samba_tool());
    command
        .args(["dsacl", "set", "-s"])
        .arg(conf)
        .arg(format!("--objectdn={object_dn}"))
        .arg(format!("--sddl={sddl}"));
    run_logged(command, &log_dir.join("dsacl.log"), "samba-tool dsacl set")?;
    Ok(())
}

async fn add_pso(
    admin: &mut Ldap,
    name: &str,
    precedence: u32,
    min_length: u32,
    min_age: i64,
    group: &str,
) -> Result<(), SambaError> {
    let dn = format!("CN={name},CN=Password Settings Container,CN=System,{BASE_DN}");
    let group_dn = format!("CN={group},CN=Users,{BASE_DN}");
    add(
        admin,
        &dn,
        vec![
            attr("objectClass", &["msDS-PasswordSettings"]),
            attr(
                "msDS-PasswordSettingsPrecedence",
                &[&precedence.to_string()],
            ),
            attr("msDS-PasswordReversibleEncryptionEnabled", &["FALSE"]),
            attr("msDS-PasswordHistoryLength", &["24"]),
            attr("msDS-PasswordComplexityEnabled", &["TRUE"]),
            attr("msDS-MinimumPasswordLength", &[&min_length.to_string()]),
            attr("msDS-MinimumPasswordAge", &[&min_age.to_string()]),
            attr("msDS-MaximumPasswordAge", &[&FORTY_TWO_DAYS.to_string()]),
            attr("msDS-LockoutThreshold", &[&LOCKOUT_THRESHOLD.to_string()]),
            attr(
                "msDS-LockoutObservationWindow",
                &[&THIRTY_MINUTES.to_string()],
            ),
            attr("msDS-LockoutDuration", &[&THIRTY_MINUTES.to_string()]),
            attr("msDS-PSOAppliesTo", &[&group_dn]),
        ],
    )
    .await
}

/// Adds an enabled user with a password (the DC checks it against the policy).
pub async fn add_user(
    admin: &mut Ldap,
    dn: &str,
    sam: &str,
    password: &str,
) -> Result<(), SambaError> {
    add_user_with(admin, dn, sam, password, Vec::new()).await
}

pub async fn add_user_with(
    admin: &mut Ldap,
    dn: &str,
    sam: &str,
    password: &str,
    extra: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
) -> Result<(), SambaError> {
    let mut attrs = vec![
        attr("objectClass", &["user"]),
        attr("sAMAccountName", &[sam]),
        attr("userPrincipalName", &[&format!("{sam}@example.test")]),
        attr("userAccountControl", &["512"]),
    ];
    attrs.push((
        b"unicodePwd".to_vec(),
        HashSet::from([unicode_pwd(password)]),
    ));
    attrs.extend(extra);
    add(admin, dn, attrs).await
}

pub async fn add_member(
    admin: &mut Ldap,
    group_dn: &str,
    member_dn: &str,
) -> Result<(), SambaError> {
    let m = Mod::Add(
        b"member".to_vec(),
        HashSet::from([member_dn.as_bytes().to_vec()]),
    );
    modify(admin, group_dn, vec![m]).await
}

async fn object_sid(admin: &mut Ldap, dn: &str) -> Result<String, SambaError> {
    let (entries, _) = admin
        .search(dn, Scope::Base, "(objectClass=*)", vec!["objectSid"])
        .await
        .and_then(|r| r.success())
        .map_err(ldap_err("reading the service account's objectSid"))?;
    entries
        .into_iter()
        .map(SearchEntry::construct)
        .find_map(|e| {
            e.bin_attrs
                .get("objectSid")
                .and_then(|v| v.first())
                .and_then(|s| sid_to_string(s))
        })
        .ok_or_else(|| SambaError::new(format!("{dn} has no readable objectSid")))
}

pub fn attr(name: &str, values: &[&str]) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (
        name.as_bytes().to_vec(),
        values.iter().map(|v| v.as_bytes().to_vec()).collect(),
    )
}

pub fn replace(name: &str, value: &str) -> Mod<Vec<u8>> {
    Mod::Replace(
        name.as_bytes().to_vec(),
        HashSet::from([value.as_bytes().to_vec()]),
    )
}

pub async fn add(
    admin: &mut Ldap,
    dn: &str,
    attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)>,
) -> Result<(), SambaError> {
    admin
        .add(dn, attrs)
        .await
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| SambaError::new(format!("adding {dn}: {e}")))
}

pub async fn modify(admin: &mut Ldap, dn: &str, mods: Vec<Mod<Vec<u8>>>) -> Result<(), SambaError> {
    admin
        .modify(dn, mods)
        .await
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| SambaError::new(format!("modifying {dn}: {e}")))
}
