//! `writeback outbox list|retry|purge -c FILE`: see and act on the notification outbox
//! of a config's `[outbox]`. Works while `writeback run` is running (SQLite locking);
//! the store is opened without the delivery lock, so rows the running process has in
//! flight are left alone, and it picks up retried rows within a second.

use std::path::{Path, PathBuf};

use writeback_outbox::{ListFilter, RowState, Store};

use super::{fail_config, load_config};

#[derive(clap::Subcommand)]
pub enum OutboxCommand {
    /// List notifications, newest first, with their state, attempts and last error.
    List {
        /// The TOML config file (its [outbox] names the store).
        #[arg(short, long)]
        config: PathBuf,
        /// Only this state: pending, delivered or dead.
        #[arg(long, value_parser = ["pending", "delivered", "dead"])]
        state: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make dead-lettered notifications pending again, with fresh attempts: all of
    /// them, or the given ids.
    Retry {
        #[arg(short, long)]
        config: PathBuf,
        /// Row ids from `outbox list` (default: every dead row).
        ids: Vec<i64>,
    },
    /// Delete delivered notifications (and dead ones with --dead) older than a number
    /// of days. Pending ones are never deleted.
    Purge {
        #[arg(short, long)]
        config: PathBuf,
        /// Also delete dead-lettered rows.
        #[arg(long)]
        dead: bool,
        /// Only rows last updated more than this many days ago (0: all).
        #[arg(long, default_value_t = 7)]
        older_than_days: u64,
    },
}

fn open_store(config_path: &Path) -> Store {
    let config = load_config(config_path);
    let Some(outbox) = config.outbox else {
        fail_config(&format!(
            "{}: no [outbox] section, so notifications are delivered directly and nothing is stored",
            config_path.display()
        ))
    };
    match Store::open(&outbox.path, outbox.sync) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    }
}

pub fn run(command: OutboxCommand) -> i32 {
    match command {
        OutboxCommand::List {
            config,
            state,
            limit,
            json,
        } => list(
            &open_store(&config),
            state.as_deref().and_then(RowState::parse),
            limit,
            json,
        ),
        OutboxCommand::Retry { config, ids } => match open_store(&config).retry(&ids) {
            Ok(n) => {
                println!("{n} notification(s) pending again; a running writeback delivers them within a second");
                0
            }
            Err(e) => failed(&e),
        },
        OutboxCommand::Purge {
            config,
            dead,
            older_than_days,
        } => {
            let mut states = vec![RowState::Delivered];
            if dead {
                states.push(RowState::Dead);
            }
            let before = now_ms() - (older_than_days as i64) * 86_400_000;
            match open_store(&config).purge(&states, before) {
                Ok(n) => {
                    println!("{n} notification(s) deleted");
                    0
                }
                Err(e) => failed(&e),
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn failed(e: &dyn std::fmt::Display) -> i32 {
    eprintln!("error: {e}");
    1
}

fn list(store: &Store, state: Option<RowState>, limit: usize, json: bool) -> i32 {
    let rows = match store.list(ListFilter {
        state,
        limit: Some(limit),
    }) {
        Ok(rows) => rows,
        Err(e) => return failed(&e),
    };
    if json {
        for r in &rows {
            let line = serde_json::json!({
                "id": r.id,
                "notifier": r.notifier,
                "state": r.state.as_str(),
                "attempts": r.attempts,
                "key": r.notification.key(),
                "kind": r.notification.kind(),
                "summary": r.notification.summary(),
                "next_attempt_at_ms": r.next_attempt_at,
                "last_error": r.last_error,
            });
            println!("{line}");
        }
        return 0;
    }
    if let Ok(counts) = store.counts() {
        let parts: Vec<String> = counts
            .iter()
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        println!(
            "outbox: {}",
            if parts.is_empty() {
                "empty".to_string()
            } else {
                parts.join(", ")
            }
        );
    }
    if rows.is_empty() {
        return 0;
    }
    println!(
        "{:>6}  {:<9}  {:>8}  {:<12}  {:<36}  WHAT / LAST ERROR",
        "ID", "STATE", "ATTEMPTS", "NOTIFIER", "KEY"
    );
    for r in rows {
        println!(
            "{:>6}  {:<9}  {:>8}  {:<12}  {:<36}  {}",
            r.id,
            r.state.as_str(),
            r.attempts,
            r.notifier,
            r.notification.key(),
            r.notification.summary()
        );
        if let Some(e) = &r.last_error {
            println!("{:>70}  last error: {e}", "");
        }
    }
    0
}
