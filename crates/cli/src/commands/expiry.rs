//! `writeback expiry scan -c FILE [--dry-run]`: find accounts whose directory password
//! expires within the `[expiry]` thresholds and send each person's reminder (once per
//! threshold), or with --dry-run only show who would get one.

use std::path::PathBuf;

use writeback_host::build_connectors;
use writeback_outbox::{Outbox, Store};

use super::{fail_config, load_config};

#[derive(clap::Subcommand)]
pub enum ExpiryCommand {
    /// Scan the directories now. Reminders go into the outbox; they are delivered before
    /// this command returns, or, when a `writeback run` delivers from the same outbox, by
    /// that process within a second.
    Scan {
        /// The TOML config file ([outbox] required; [expiry] optional, default
        /// thresholds 14, 7 and 1 days).
        #[arg(short, long)]
        config: PathBuf,
        /// Only list who is due and whether they were reminded already; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(command: ExpiryCommand) -> i32 {
    let ExpiryCommand::Scan {
        config: path,
        dry_run,
    } = command;
    let config = load_config(&path);
    let Some(outbox) = config.outbox.clone() else {
        fail_config(&format!(
            "{}: expiry reminders need an [outbox] (it remembers who was reminded); add one with a `path`",
            path.display()
        ))
    };
    let expiry = config.expiry.clone().unwrap_or_default();
    // The connectors only: no host, so no delivery loop of its own and no sources.
    let connectors = match build_connectors(&config, &crate::builtin_registry()).await {
        Ok(c) => c,
        Err(e) => fail_config(&e),
    };
    let targets: Vec<_> = connectors
        .targets
        .iter()
        .map(|t| (t.name.clone(), t.target.clone()))
        .collect();
    let notifiers: Vec<_> = connectors
        .notifiers
        .iter()
        .map(|e| (e.name.clone(), e.notifier.clone()))
        .collect();
    // Deliver only when no running writeback delivers from this outbox: a second
    // deliverer would race it (and must not touch the rows it has in flight).
    let store = match Store::open_for_delivery(&outbox.path, outbox.sync) {
        Err(writeback_outbox::StoreError::Delivering { .. }) => {
            Store::open(&outbox.path, outbox.sync)
        }
        other => other,
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let delivering = store.is_deliverer();
    let outbox = Outbox::with_store(store, outbox, notifiers);
    let due = match writeback_expiry::send_due(&outbox, &targets, &expiry, dry_run).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    println!(
        "{:<10}  {:<44}  {:<28}  {:<20}  {:>4}  {:>9}  STATUS",
        "TARGET", "ACCOUNT", "MAIL", "EXPIRES", "DAYS", "THRESHOLD"
    );
    for d in &due {
        let r = &d.reminder;
        let status = match (dry_run, d.already_sent) {
            (_, true) => "already reminded",
            (true, false) => "would remind",
            (false, false) => "reminder queued",
        };
        println!(
            "{:<10}  {:<44}  {:<28}  {:<20}  {:>4}  {:>9}  {status}",
            r.target,
            r.dn,
            r.mail.as_deref().unwrap_or("-"),
            r.expires_at,
            r.days_left,
            r.threshold_days
        );
    }
    let new = due.iter().filter(|d| !d.already_sent).count();
    if dry_run {
        println!(
            "{} account(s) inside a threshold; {new} would be reminded (dry run: nothing sent)",
            due.len()
        );
        return 0;
    }
    if !delivering {
        println!(
            "{} account(s) inside a threshold; {new} reminder(s) queued; the running writeback delivers them",
            due.len()
        );
        return 0;
    }
    match outbox.deliver_due_now().await {
        Ok(n) => {
            println!("{} account(s) inside a threshold; {new} reminder(s) queued; {n} delivery attempt(s) made", due.len());
            0
        }
        Err(e) => {
            eprintln!("error: reminders are queued but delivering them failed: {e}");
            1
        }
    }
}
