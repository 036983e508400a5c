//! Finding who is due a reminder, and handing reminders to the outbox.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use writeback_core::{Account, DirectoryTarget, ExpiryReminder};
use writeback_outbox::Outbox;

use crate::config::ExpiryConfig;

const DAY: u64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("target `{target}` cannot report password expiry: {message}")]
    Target { target: String, message: String },
    #[error("outbox: {0}")]
    Store(#[from] writeback_outbox::StoreError),
}

/// One person inside a threshold.
#[derive(Clone, Debug)]
pub struct Due {
    pub reminder: ExpiryReminder,
    /// The ledger key: target, account, expiry and threshold.
    pub ledger_key: String,
    /// Whether this reminder was already sent (filled in by dry runs and sends).
    pub already_sent: bool,
}

/// The smallest threshold (in days) that `remaining` is inside; `None` if it is
/// outside all of them or the password has already expired.
pub fn threshold_for(remaining: Option<Duration>, thresholds: &[u64]) -> Option<u64> {
    let remaining = remaining?;
    let mut sorted = thresholds.to_vec();
    sorted.sort_unstable();
    sorted
        .into_iter()
        .find(|t| remaining <= Duration::from_secs(t * DAY))
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn reminder_for(
    target: &str,
    account: &Account,
    expires: SystemTime,
    now: SystemTime,
    threshold: u64,
) -> Due {
    let expires_unix = expires
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let remaining = expires.duration_since(now).unwrap_or_default();
    let ledger_key = format!(
        "{target}\n{}\n{expires_unix}\n{threshold}",
        account.dn.to_lowercase()
    );
    let reminder_id =
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, ledger_key.as_bytes()).to_string();
    let attr = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| account.first(n))
            .map(str::to_string)
    };
    Due {
        reminder: ExpiryReminder {
            reminder_id,
            time: rfc3339(now),
            target: target.to_string(),
            dn: account.dn.clone(),
            username: attr(&["uid", "samaccountname"]),
            display_name: attr(&["displayname", "cn"]),
            mail: attr(&["mail"]),
            expires_at: rfc3339(expires),
            days_left: remaining.as_secs() / DAY,
            threshold_days: threshold,
        },
        ledger_key,
        already_sent: false,
    }
}

/// Everyone inside a threshold now, across the configured targets. A target that
/// fails stops the scan with its name (nothing is sent for a half-read directory).
pub async fn find_due(
    targets: &[(String, Arc<dyn DirectoryTarget>)],
    config: &ExpiryConfig,
    now: SystemTime,
) -> Result<Vec<Due>, ScanError> {
    let thresholds = config.thresholds();
    let widest = Duration::from_secs(thresholds.iter().max().copied().unwrap_or(0) * DAY);
    let mut due = Vec::new();
    for (name, target) in targets {
        if let Some(only) = &config.targets {
            if !only.contains(name) {
                continue;
            }
        }
        let found = target
            .password_expiries(widest)
            .await
            .map_err(|o| ScanError::Target {
                target: name.clone(),
                message: o.admin_detail.unwrap_or(o.message),
            })?;
        for (account, expires) in found {
            let remaining = expires.duration_since(now).ok();
            if let Some(t) = threshold_for(remaining, &thresholds) {
                due.push(reminder_for(name, &account, expires, now, t));
            }
        }
    }
    Ok(due)
}

/// The notifiers reminders go to: the configured ones, or every one that sends them.
fn reminder_notifiers(outbox: &Outbox, config: &ExpiryConfig) -> Vec<String> {
    match &config.notifiers {
        Some(names) => names.clone(),
        None => outbox.reminder_notifiers(),
    }
}

/// Finds who is due and, unless `dry_run`, puts each new reminder in the outbox.
/// Returns every person found, marked `already_sent` for those reminded before.
pub async fn send_due(
    outbox: &Outbox,
    targets: &[(String, Arc<dyn DirectoryTarget>)],
    config: &ExpiryConfig,
    dry_run: bool,
) -> Result<Vec<Due>, ScanError> {
    let mut due = find_due(targets, config, SystemTime::now()).await?;
    let notifiers = reminder_notifiers(outbox, config);
    let store = outbox.store();
    for d in &mut due {
        d.already_sent = if dry_run {
            let (store, key) = (store.clone(), d.ledger_key.clone());
            tokio::task::spawn_blocking(move || store.reminder_sent(&key))
                .await
                .map_err(|_| writeback_outbox::StoreError::Poisoned)??
        } else {
            !outbox
                .enqueue_reminder(&d.reminder, &notifiers, &d.ledger_key)
                .await?
        };
    }
    Ok(due)
}

/// Scans every `interval` until `shutdown` (the first scan right away).
pub async fn run_scheduled(
    outbox: Arc<Outbox>,
    targets: Vec<(String, Arc<dyn DirectoryTarget>)>,
    config: ExpiryConfig,
    shutdown: CancellationToken,
) {
    let Some(interval) = config.interval() else {
        return;
    };
    loop {
        match send_due(&outbox, &targets, &config, false).await {
            Ok(due) => {
                let sent = due.iter().filter(|d| !d.already_sent).count();
                tracing::info!(found = due.len(), sent, "expiry scan done");
            }
            Err(e) => {
                tracing::error!(error = %e, "expiry scan failed; next try at the next interval")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_gets_the_smallest_threshold_it_is_inside() {
        let t = [14, 7, 1];
        let days = |d: f64| Some(Duration::from_secs_f64(d * DAY as f64));
        assert_eq!(threshold_for(days(20.0), &t), None);
        assert_eq!(threshold_for(days(13.5), &t), Some(14));
        assert_eq!(threshold_for(days(7.0), &t), Some(7));
        assert_eq!(threshold_for(days(6.9), &t), Some(7));
        assert_eq!(threshold_for(days(0.2), &t), Some(1));
        assert_eq!(threshold_for(None, &t), None);
    }

    #[test]
    fn the_ledger_key_changes_with_a_new_expiry() {
        let a = Account {
            dn: "uid=Alice,ou=people,dc=example,dc=org".into(),
            ..Default::default()
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let e1 = now + Duration::from_secs(3 * DAY);
        let e2 = now + Duration::from_secs(90 * DAY);
        let d1 = reminder_for("ldap", &a, e1, now, 7);
        assert_eq!(d1.reminder.days_left, 3);
        assert_eq!(d1.reminder_id_again(), d1.reminder.reminder_id);
        assert_ne!(
            d1.ledger_key,
            reminder_for("ldap", &a, e2, now, 7).ledger_key
        );
    }

    impl Due {
        fn reminder_id_again(&self) -> String {
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, self.ledger_key.as_bytes()).to_string()
        }
    }
}
