//! Password expiry for reminders: 389 DS keeps each account's expiry in
//! `passwordExpirationTime` (set on every password write while the policy has
//! `passwordExp` on), so one paged search filtered on the server finds the accounts
//! inside the window. `19700101000000Z` is 389 DS's must-change mark, not a date, and
//! is left out.

use std::time::{Duration, SystemTime};

use writeback_core::{Account, Outcome, OutcomeCode};
use writeback_ldap::ds389::MUST_CHANGE_MARK;
use writeback_ldap::gentime;
use writeback_ldap::ldap3::adapters::{EntriesOnly, PagedResults};
use writeback_ldap::ldap3::SearchEntry;

use crate::target::{account_of, Ds389Target, ACCOUNT_ATTRIBUTES};

const PAGE: i32 = 500;
const EXPIRY: &str = "passwordExpirationTime";

pub(crate) async fn password_expiries(
    target: &Ds389Target,
    within: Duration,
) -> Result<Vec<(Account, SystemTime)>, Outcome> {
    let mut session = target.pool.get().await.map_err(|f| f.to_outcome())?;
    let server = session.server().to_string();
    let cutoff = gentime::format(SystemTime::now() + within);
    let filter = format!(
        "(&{}({EXPIRY}<={cutoff})(!({EXPIRY}={MUST_CHANGE_MARK})))",
        target.template.object_class_filter()
    );
    let mut attributes: Vec<&str> = ACCOUNT_ATTRIBUTES.to_vec();
    attributes.push(EXPIRY);
    let adapters: Vec<Box<dyn writeback_ldap::ldap3::adapters::Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE)),
    ];
    let fail = |e: String| {
        Outcome::of(OutcomeCode::DirectoryUnavailable).with_admin_detail(format!(
            "{server}: searching {EXPIRY} under {}: {e}",
            target.base_dn
        ))
    };
    let timeout = Duration::from_secs(30).max(session.timeout());
    let scope = target.scope();
    let mut stream = session
        .ldap()
        .with_timeout(timeout)
        .streaming_search_with(adapters, &target.base_dn, scope, &filter, attributes)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    loop {
        let entry = match stream.next().await {
            Ok(Some(entry)) => SearchEntry::construct(entry),
            Ok(None) => break,
            Err(e) => return Err(fail(e.to_string())),
        };
        let expires = entry
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(EXPIRY))
            .and_then(|(_, v)| v.first())
            .and_then(|v| gentime::parse(v));
        if let Some(at) = expires {
            let mut account = account_of(entry);
            account.attributes.remove(&EXPIRY.to_ascii_lowercase());
            out.push((account, at));
        }
    }
    let result = stream.finish().await;
    if result.rc != 0 {
        return Err(fail(format!("result {} {}", result.rc, result.text)));
    }
    Ok(out)
}
