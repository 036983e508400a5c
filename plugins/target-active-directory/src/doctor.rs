//! `writeback doctor` for Active Directory / Samba AD: the service account's effective
//! rights on every container holding accounts the matching rules reach (from the
//! DACLs, deny entries and disabled inheritance included), protected accounts, the
//! policy hints control, the domain's and each PSO's policy, the PDC emulator and the
//! clock skew. Read-only: it searches, it never writes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use writeback_core::{DoctorOptions, Finding};
use writeback_ldap::dn::parent;
use writeback_ldap::escape::filter_value;
use writeback_ldap::ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use writeback_ldap::ldap3::{Scope, SearchEntry};
use writeback_ldap::Session;

use crate::acl::{self, Decision, Descriptor};
use crate::errors::{self, Right};
use crate::probe::{self, binary, sd_flags_dacl};
use crate::target::ActiveDirectoryTarget;

/// The rights a write needs on user objects, in the order they are reported.
const NEEDED: [Right; 3] = [
    Right::ResetPassword,
    Right::WritePwdLastSet,
    Right::WriteLockoutTime,
];

/// Accounts read to find the containers (beyond this the sample is partial, and says so).
const MAX_ACCOUNTS: usize = 20_000;

pub async fn run(target: &ActiveDirectoryTarget, options: &DoctorOptions) -> Vec<Finding> {
    let config = target.config();
    let mut out = Vec::new();
    let mut session = match target.pool().get().await {
        Ok(s) => s,
        Err(f) => {
            let outcome = errors::service_bind_outcome(&f, &config.server.bind_dn);
            out.push(
                Finding::fail(
                    "ad.bind",
                    outcome.admin_detail.unwrap_or_else(|| f.to_string()),
                )
                .with_fix("check bind_dn and bind_password, and that the account is enabled"),
            );
            return out;
        }
    };
    out.push(Finding::ok(
        "ad.bind",
        format!("bound as {}", config.server.bind_dn),
    ));
    let root = target.root_dse().await.ok().cloned();
    out.push(match root.as_ref().and_then(|r| r.policy_hints_oid()) {
        Some(oid) => Finding::ok(
            "ad.policy_hints",
            format!("the DC supports LDAP_SERVER_POLICY_HINTS ({oid}): history applies to resets"),
        ),
        None => Finding::warn(
            "ad.policy_hints",
            "the DC does not advertise LDAP_SERVER_POLICY_HINTS: resets skip the password \
             history check (as an administrator's reset does); a person may reuse an old password",
        )
        .with_fix(
            "Windows Server 2012 or later supports it (Samba does not); otherwise rely on a \
             `directory` or `breached` policy to refuse reused passwords",
        ),
    });
    out.push(clock(&mut session, options).await);
    let naming_context = root
        .as_ref()
        .and_then(|r| r.default_naming_context.clone())
        .unwrap_or_else(|| config.base_dn.clone());
    out.extend(rights(&mut session, target, &naming_context, options).await);
    out.push(protected(&mut session, target, &naming_context).await);
    out.extend(policies(&mut session, &naming_context).await);
    out.push(pdc(&mut session, &naming_context).await);
    out
}

/// One attribute's first value.
fn first(entry: &SearchEntry, name: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .cloned()
}

/// `ad.rights` per container with a problem (or one `ok` for all), and
/// `ad.inheritance` per container with inheritance disabled.
async fn rights(
    session: &mut Session,
    target: &ActiveDirectoryTarget,
    naming_context: &str,
    options: &DoctorOptions,
) -> Vec<Finding> {
    let config = target.config();
    let mut sids = match probe::token(session, config).await {
        Ok(s) => s,
        Err(why) => {
            return vec![Finding::fail(
                "ad.rights",
                format!("cannot read the service account's token: {why}"),
            )]
        }
    };
    let who = service_account(session, target, naming_context).await;
    // Windows leaves the account's own SID out of the rootDSE tokenGroups, and the
    // self-test's lookup only searches base_dn: ACEs naming the account itself count.
    if let Some(own) = &who.sid_bytes {
        if !sids.contains(own) {
            sids.push(own.clone());
        }
    }
    // The containers the matching rules reach: those holding accounts of user_filter.
    let mut containers: BTreeMap<String, usize> = BTreeMap::new();
    let mut partial = false;
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(500)),
    ];
    let timeout = session.timeout();
    let listed = tokio::time::timeout(timeout * 6, async {
        let mut stream = session
            .ldap()
            .streaming_search_with(
                adapters,
                &config.base_dn,
                Scope::Subtree,
                &config.user_filter,
                vec!["1.1"],
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut seen = 0;
        while let Some(entry) = stream.next().await.map_err(|e| e.to_string())? {
            let dn = SearchEntry::construct(entry).dn;
            if let Some(p) = parent(&dn) {
                *containers.entry(p.to_string()).or_default() += 1;
            }
            seen += 1;
            if seen >= MAX_ACCOUNTS {
                partial = true;
                break;
            }
        }
        Ok::<_, String>(())
    })
    .await;
    match listed {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            return vec![Finding::fail(
                "ad.rights",
                format!("cannot list the accounts under {}: {why}", config.base_dn),
            )]
        }
        Err(_) => {
            return vec![Finding::fail(
                "ad.rights",
                format!(
                    "listing the accounts under {} took too long",
                    config.base_dn
                ),
            )]
        }
    }
    if partial {
        // The search stopped early: that connection must not be reused.
        session.mark_broken();
    }
    if containers.is_empty() {
        return vec![Finding::warn(
            "ad.rights",
            format!(
                "no account under {} matches user_filter {}: nothing to check",
                config.base_dn, config.user_filter
            ),
        )
        .with_fix(
            "check base_dn and user_filter, and that the service account may read the accounts",
        )];
    }
    let total = containers.len();
    let sampled: Vec<(String, usize)> = containers
        .into_iter()
        .take(options.max_containers)
        .collect();
    let mut out = Vec::new();
    let mut good = 0;
    for (dn, accounts) in &sampled {
        let found = probe::search(
            session,
            dn,
            Scope::Base,
            "(objectClass=*)",
            &["nTSecurityDescriptor"],
            vec![sd_flags_dacl()],
        )
        .await;
        let descriptor = match found {
            Ok(entries) => entries
                .first()
                .and_then(|e| binary(e, "nTSecurityDescriptor").into_iter().next()),
            Err(why) => {
                out.push(Finding::fail(
                    "ad.rights",
                    format!("{dn}: cannot read its security descriptor: {why}"),
                ));
                continue;
            }
        };
        let Some(sd) = descriptor.as_deref().and_then(Descriptor::parse) else {
            out.push(
                Finding::fail("ad.rights", format!("{dn}: no readable security descriptor (the service account needs Read Permissions on it)"))
                    .with_fix(fix_lines(dn, &who, &[], true)),
            );
            continue;
        };
        let mut missing = Vec::new();
        let mut denied = Vec::new();
        for right in NEEDED {
            match acl::decide(&sd.aces, &sids, &probe::wanted(right)) {
                Decision::Allowed => {}
                Decision::Denied => denied.push(right),
                Decision::Missing => missing.push(right),
            }
        }
        if sd.inheritance_disabled() {
            out.push(
                Finding::warn(
                    "ad.inheritance",
                    format!(
                        "{dn} ({accounts} account(s)): inheritance is disabled, so rights delegated on the \
                         containers above it do not reach it{}",
                        if missing.is_empty() && denied.is_empty() { " (it has the rights itself today)" } else { "" }
                    ),
                )
                .with_fix(format!(
                    "re-enable inheritance (Windows: dsacls \"{dn}\" /P:N, or Security > Advanced > Enable inheritance), \
                     or delegate on this OU itself (the ad.rights fix)"
                )),
            );
        }
        if missing.is_empty() && denied.is_empty() {
            good += 1;
            continue;
        }
        let mut what = Vec::new();
        if !missing.is_empty() {
            what.push(format!("missing {}", names(&missing)));
        }
        if !denied.is_empty() {
            what.push(format!("denied by a deny entry: {}", names(&denied)));
        }
        let mut fix = String::new();
        if !denied.is_empty() {
            fix.push_str(&format!(
                "remove the deny entries for {} on {dn} (or on the container it inherits them from)\n",
                names(&denied)
            ));
        }
        let all: Vec<Right> = missing.iter().chain(&denied).copied().collect();
        fix.push_str(&fix_lines(dn, &who, &all, false));
        out.push(
            Finding::fail(
                "ad.rights",
                format!(
                    "{dn} ({accounts} account(s)): {} for {}",
                    what.join("; "),
                    who.label
                ),
            )
            .with_fix(fix),
        );
    }
    let mut scope = format!("{good} of {} container(s) holding accounts", sampled.len());
    if sampled.len() < total {
        scope.push_str(&format!(" (sampled of {total})"));
    }
    if partial {
        scope.push_str(&format!(" (the first {MAX_ACCOUNTS} accounts only)"));
    }
    if good == sampled.len() {
        out.insert(
            0,
            Finding::ok(
                "ad.rights",
                format!("{scope}: {} all granted to {}", names(&NEEDED), who.label),
            ),
        );
    }
    out
}

fn names(rights: &[Right]) -> String {
    rights
        .iter()
        .map(|r| r.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who the service account is, for evidence and fix lines.
struct Who {
    label: String,
    sid: Option<String>,
    sid_bytes: Option<Vec<u8>>,
    /// `DOMAIN\name` or a UPN, as dsacls takes it.
    account: String,
}

/// The service account is looked up in the whole domain: it usually lives outside
/// `base_dn` (CN=Users, an OU for service accounts).
async fn service_account(
    session: &mut Session,
    target: &ActiveDirectoryTarget,
    naming_context: &str,
) -> Who {
    let config = target.config();
    let bind = &config.server.bind_dn;
    let (base, scope, filter) = if bind.contains('=') {
        (bind.clone(), Scope::Base, "(objectClass=*)".to_string())
    } else {
        (
            naming_context.to_string(),
            Scope::Subtree,
            format!("(userPrincipalName={})", filter_value(bind)),
        )
    };
    let found = session
        .search(
            &base,
            scope,
            &filter,
            &["objectSid", "sAMAccountName", "userPrincipalName"],
            1,
        )
        .await;
    let entry = found.ok().and_then(|f| f.entries.into_iter().next());
    let sid_bytes = entry.as_ref().and_then(|e| {
        e.bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("objectSid"))
            .and_then(|(_, v)| v.first().cloned())
    });
    let sid = sid_bytes.as_deref().and_then(sid_text);
    let upn = entry.as_ref().and_then(|e| first(e, "userPrincipalName"));
    let account = upn.clone().unwrap_or_else(|| bind.clone());
    Who {
        label: format!(
            "{bind}{}",
            sid.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
        ),
        sid,
        sid_bytes,
        account,
    }
}

/// `S-1-5-21-…` from the binary SID.
pub fn sid_text(sid: &[u8]) -> Option<String> {
    let revision = *sid.first()?;
    let count = *sid.get(1)? as usize;
    let authority = sid
        .get(2..8)?
        .iter()
        .fold(0u64, |a, b| (a << 8) | u64::from(*b));
    let mut text = format!("S-{revision}-{authority}");
    for i in 0..count {
        let at = 8 + 4 * i;
        let sub = u32::from_le_bytes(sid.get(at..at + 4)?.try_into().ok()?);
        text.push_str(&format!("-{sub}"));
    }
    Some(text)
}

/// The `samba-tool dsacl set` and `dsacls` lines that grant `rights` on user objects
/// below `dn` (and read, when `read` is set).
fn fix_lines(dn: &str, who: &Who, rights: &[Right], read: bool) -> String {
    let sid = who
        .sid
        .clone()
        .unwrap_or_else(|| "<service account SID>".into());
    let mut sddl: String = rights
        .iter()
        .map(|r| {
            let kind = if *r == Right::ResetPassword || *r == Right::ChangePassword {
                "CR"
            } else {
                "WP"
            };
            format!("(OA;CIIO;{kind};{};{};{sid})", r.guid(), acl::USER_CLASS)
        })
        .collect();
    if read {
        sddl.push_str(&format!(
            "(OA;CIIO;RPLCLORC;;{};{sid})(A;;RPLCLORC;;;{sid})",
            acl::USER_CLASS
        ));
    }
    let mut lines = format!("samba-tool dsacl set --objectdn=\"{dn}\" --sddl=\"{sddl}\"");
    for r in rights {
        let grant = match r {
            Right::ResetPassword => "CA;Reset Password;user".to_string(),
            Right::ChangePassword => "CA;Change Password;user".to_string(),
            Right::WritePwdLastSet => "WP;pwdLastSet;user".to_string(),
            Right::WriteLockoutTime => "WP;lockoutTime;user".to_string(),
        };
        lines.push_str(&format!(
            "\ndsacls \"{dn}\" /I:S /G \"{}:{grant}\"",
            who.account
        ));
    }
    if read {
        lines.push_str(&format!("\ndsacls \"{dn}\" /I:T /G \"{}:GR\"", who.account));
    }
    lines
}

/// `ad.protected`: accounts in scope that the target refuses (or, with
/// `protected_accounts = "allow"`, that AdminSDHolder may lock the rights out of).
async fn protected(
    session: &mut Session,
    target: &ActiveDirectoryTarget,
    naming_context: &str,
) -> Finding {
    let config = target.config();
    let privileged = match crate::protected::Privileged::discover(session, naming_context).await {
        Ok(p) => p,
        Err(f) => {
            return Finding::warn(
                "ad.protected",
                format!("cannot find the privileged groups: {f}"),
            )
        }
    };
    let mut any = String::from("(adminCount=1)");
    for (_, group) in &privileged.groups {
        any.push_str(&format!(
            "(memberOf:1.2.840.113556.1.4.1941:={})",
            filter_value(group)
        ));
    }
    let filter = format!("(&{}(|{any}))", config.user_filter);
    let found = match session
        .search(
            &config.base_dn,
            Scope::Subtree,
            &filter,
            &["sAMAccountName"],
            1000,
        )
        .await
    {
        Ok(f) => f,
        Err(f) => {
            return Finding::warn(
                "ad.protected",
                format!("cannot search for protected accounts: {f}"),
            )
        }
    };
    let names: Vec<String> = found
        .entries
        .iter()
        .map(|e| first(e, "sAMAccountName").unwrap_or_else(|| e.dn.clone()))
        .collect();
    let count = if found.truncated {
        format!("more than {}", names.len())
    } else {
        names.len().to_string()
    };
    let shown: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
    let list = if names.is_empty() {
        String::new()
    } else {
        format!(
            ": {}{}",
            shown.join(", "),
            if names.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )
    };
    let policy = match config.protected_accounts {
        crate::config::Protected::Refuse => "refused by this target (protected_accounts = \"refuse\")",
        crate::config::Protected::Allow => {
            "allowed by this target; AdminSDHolder replaces their ACL hourly on Windows, so delegated rights do not reach them"
        }
    };
    Finding::ok(
        "ad.protected",
        format!("{count} protected account(s) in scope, {policy}{list}"),
    )
}

/// 100-ns intervals (AD's negative durations) as a readable duration.
fn interval(value: &str) -> Option<Duration> {
    let v: i64 = value.parse().ok()?;
    if v == i64::MIN {
        return Some(Duration::MAX);
    }
    Some(Duration::from_secs(v.unsigned_abs() / 10_000_000))
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    // Remainders named: the workspace's MSRV (1.85) predates `is_multiple_of`.
    let (past_day, past_hour) = (s % 86_400, s % 3600);
    if d == Duration::MAX {
        "never".into()
    } else if s == 0 {
        "none".into()
    } else if past_day == 0 {
        format!("{} day(s)", s / 86_400)
    } else if past_hour == 0 {
        format!("{} hour(s)", s / 3600)
    } else {
        format!("{} minute(s)", s / 60)
    }
}

/// `ad.policy` for the domain and each PSO it may read, with `warn` where a minimum age
/// refuses a person's own change right after a reset.
async fn policies(session: &mut Session, naming_context: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let attrs = [
        "minPwdAge",
        "maxPwdAge",
        "minPwdLength",
        "pwdHistoryLength",
        "lockoutThreshold",
        "pwdProperties",
    ];
    match session
        .search(naming_context, Scope::Base, "(objectClass=*)", &attrs, 1)
        .await
    {
        Ok(found) => {
            if let Some(e) = found.entries.first() {
                let get = |k: &str| first(e, k).unwrap_or_default();
                let min_age = interval(&get("minPwdAge")).unwrap_or_default();
                let text = format!(
                    "domain {naming_context}: length ≥ {}, history {}, minimum age {}, maximum age {}, lockout after {} bad password(s), complexity {}",
                    get("minPwdLength"),
                    get("pwdHistoryLength"),
                    human(min_age),
                    interval(&get("maxPwdAge")).map(human).unwrap_or_default(),
                    get("lockoutThreshold"),
                    if get("pwdProperties").parse::<u32>().unwrap_or(0) & 1 == 1 { "on" } else { "off" }
                );
                out.push(min_age_finding(
                    text,
                    min_age,
                    "the domain policy",
                    "samba-tool domain passwordsettings set --min-pwd-age=0",
                ));
            }
        }
        Err(f) => out.push(Finding::warn(
            "ad.policy",
            format!("cannot read the domain policy: {f}"),
        )),
    }
    let container = format!("CN=Password Settings Container,CN=System,{naming_context}");
    let pso_attrs = [
        "cn",
        "msDS-PasswordSettingsPrecedence",
        "msDS-MinimumPasswordAge",
        "msDS-MinimumPasswordLength",
        "msDS-PasswordHistoryLength",
        "msDS-LockoutThreshold",
        "msDS-PSOAppliesTo",
    ];
    match session.search(&container, Scope::OneLevel, "(objectClass=msDS-PasswordSettings)", &pso_attrs, 500).await {
        Ok(found) if found.entries.is_empty() => out.push(Finding::ok(
            "ad.pso",
            "no fine-grained password policy (PSO) visible to the service account: the domain policy applies to all \
             (if PSOs exist, grant the account read on the Password Settings Container to check them)",
        )),
        Ok(found) => {
            for e in &found.entries {
                let get = |k: &str| first(e, k).unwrap_or_default();
                let min_age = interval(&get("msDS-MinimumPasswordAge")).unwrap_or_default();
                let applies = e
                    .attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("msDS-PSOAppliesTo"))
                    .map(|(_, v)| v.join("; "))
                    .unwrap_or_default();
                let name = get("cn");
                let text = format!(
                    "PSO {name} (precedence {}): length ≥ {}, history {}, minimum age {}, lockout after {}; applies to {}",
                    get("msDS-PasswordSettingsPrecedence"),
                    get("msDS-MinimumPasswordLength"),
                    get("msDS-PasswordHistoryLength"),
                    human(min_age),
                    get("msDS-LockoutThreshold"),
                    if applies.is_empty() { "nobody".to_string() } else { applies },
                );
                out.push(min_age_finding(
                    text,
                    min_age,
                    &format!("PSO {name}"),
                    &format!("samba-tool domain passwordsettings pso set {name} --min-pwd-age=0"),
                ));
            }
        }
        Err(f) => out.push(Finding::warn("ad.pso", format!("cannot read the PSOs: {f}"))),
    }
    out
}

fn min_age_finding(text: String, min_age: Duration, whose: &str, fix: &str) -> Finding {
    let check = if whose.starts_with("PSO") {
        "ad.pso"
    } else {
        "ad.policy"
    };
    if min_age.is_zero() {
        Finding::ok(check, text)
    } else {
        Finding::warn(
            check,
            format!(
                "{text}. A person's own change within {} of a reset is refused (rejected_min_age)",
                human(min_age)
            ),
        )
        .with_fix(format!(
            "if people change their password right after a reset, lower the minimum age of {whose}: {fix}"
        ))
    }
}

/// `ad.pdc`: the DC holding the PDC emulator role (password changes reach it first).
async fn pdc(session: &mut Session, naming_context: &str) -> Finding {
    let owner = session
        .search(
            naming_context,
            Scope::Base,
            "(objectClass=*)",
            &["fSMORoleOwner"],
            1,
        )
        .await
        .ok()
        .and_then(|f| f.entries.into_iter().next())
        .and_then(|e| first(&e, "fSMORoleOwner"));
    let Some(owner) = owner else {
        return Finding::warn(
            "ad.pdc",
            "cannot read fSMORoleOwner of the domain: the PDC emulator is unknown",
        );
    };
    let server = parent(&owner).unwrap_or(&owner).to_string();
    let host = session
        .search(&server, Scope::Base, "(objectClass=*)", &["dNSHostName"], 1)
        .await
        .ok()
        .and_then(|f| f.entries.into_iter().next())
        .and_then(|e| first(&e, "dNSHostName"));
    Finding::ok(
        "ad.pdc",
        format!(
            "PDC emulator: {}{} (password changes replicate to it urgently; point `url` at it for the fastest lockout and expiry effects)",
            server.split(',').next().unwrap_or(&server).trim_start_matches("CN="),
            host.map(|h| format!(" ({h})")).unwrap_or_default()
        ),
    )
}

pub use writeback_ldap::clock::generalized_time;

/// `clock`: the DC's `currentTime` against this host's clock.
async fn clock(session: &mut Session, options: &DoctorOptions) -> Finding {
    let before = SystemTime::now();
    let found = session
        .search("", Scope::Base, "(objectClass=*)", &["currentTime"], 1)
        .await;
    let theirs = found
        .ok()
        .and_then(|f| f.entries.into_iter().next())
        .and_then(|e| first(&e, "currentTime"))
        .and_then(|t| generalized_time(&t));
    let Some(theirs) = theirs else {
        return Finding::warn(
            "clock",
            "the DC did not give its currentTime: clock skew unknown",
        );
    };
    writeback_ldap::clock::skew(
        "the DC's",
        theirs,
        before,
        options.max_clock_skew_secs,
        "synchronise both with NTP (the PDC emulator is the domain's time source): Kerberos \
         allows 5 minutes, and lockout windows and expiry reminders use these clocks",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_times_and_sids() {
        assert_eq!(parent("DC=e"), None);
        assert_eq!(generalized_time("19700101000000.0Z"), Some(0));
        assert_eq!(generalized_time("20261204011500.0Z"), Some(1_796_346_900));
        assert_eq!(generalized_time("2026120401150"), None);
        assert_eq!(generalized_time("20261304011500.0Z"), None);
        let sid = [1u8, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0];
        assert_eq!(sid_text(&sid).as_deref(), Some("S-1-5-32-544"));
        assert_eq!(sid_text(&sid[..10]), None);
        assert_eq!(
            interval("-864000000000").map(human).as_deref(),
            Some("1 day(s)")
        );
        assert_eq!(interval("0").map(human).as_deref(), Some("none"));
    }
}
