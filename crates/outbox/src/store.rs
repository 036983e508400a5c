//! The SQLite file behind the outbox: notification rows and the expiry-reminder ledger.
//! Blocking calls (callers in async code use `spawn_blocking`); one connection behind a
//! mutex, which is plenty for notification volumes and keeps commits ordered.
//!
//! Several processes may open one store (the daemon, `writeback outbox …`, `writeback
//! expiry scan`), but only one delivers: the one holding the delivery lock, an advisory
//! `flock` on `<file>.deliver-lock` that the kernel drops when that process ends, however
//! it ends. Only that process may take rows and turn rows a dead deliverer left in
//! flight back into due ones; any other opener leaves them alone, so it cannot make the
//! daemon send a notification it is still sending.
// flock(2) through libc, to keep a single delivering process per outbox file.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use crate::config::SyncMode;
use crate::notification::Notification;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "outbox store {path}: {source}; check the path is writable and not used by another program"
    )]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("outbox store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("outbox row {id} holds an unreadable payload: {message}")]
    Payload { id: i64, message: String },
    #[error("outbox store lock poisoned by a panic")]
    Poisoned,
    #[error("outbox store: the batch this write was in failed: {0}")]
    Batch(String),
    #[error(
        "outbox store {path}: another process is delivering from it (it holds {lock}); \
         only one `writeback run` may use an outbox file: stop the other one or give this \
         one its own [outbox] path"
    )]
    Delivering { path: String, lock: String },
    #[error("outbox store {path}: cannot take the delivery lock {lock}: {source}")]
    Lock {
        path: String,
        lock: String,
        source: std::io::Error,
    },
    #[error(
        "outbox store: this process opened the store without the delivery lock, so it may \
         not take rows to deliver (use Store::open_for_delivery)"
    )]
    NotDeliverer,
}

/// Where a row is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowState {
    Pending,
    Delivered,
    Dead,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Pending => "pending",
            RowState::Delivered => "delivered",
            RowState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(RowState::Pending),
            "delivered" => Some(RowState::Delivered),
            "dead" => Some(RowState::Dead),
            _ => None,
        }
    }
}

/// One notification for one notifier.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: i64,
    pub notifier: String,
    pub notification: Notification,
    pub state: RowState,
    pub attempts: u32,
    /// Unix milliseconds.
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_error: Option<String>,
}

/// Which rows `list` shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListFilter {
    pub state: Option<RowState>,
    pub limit: Option<usize>,
}

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The delivery lock once taken, held (open) for as long as the store lives; unset
    /// for a store that only looks at and acts on rows.
    delivery_lock: std::sync::OnceLock<File>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    notifier TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    in_flight INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_error TEXT,
    UNIQUE (key, notifier)
);
CREATE INDEX IF NOT EXISTS notifications_due
    ON notifications (state, in_flight, next_attempt_at);
CREATE TABLE IF NOT EXISTS reminders_sent (
    key TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    dn TEXT NOT NULL,
    threshold_days INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    sent_at INTEGER NOT NULL
);
";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (or creates) the store to read and act on rows (`outbox list|retry|purge`,
    /// enqueueing). Rows in flight are left alone: a running daemon may be sending them.
    /// Such a store cannot take rows to deliver (see [`Store::open_for_delivery`]).
    pub fn open(path: &Path, sync: SyncMode) -> Result<Self, StoreError> {
        Ok(Store {
            conn: Mutex::new(connect(path, sync)?),
            path: path.to_path_buf(),
            delivery_lock: std::sync::OnceLock::new(),
        })
    }

    /// Opens (or creates) the store as the one process that delivers from it: takes the
    /// delivery lock ([`StoreError::Delivering`] when another process holds it), then
    /// makes rows left in flight by a deliverer that died due at once, so they are
    /// delivered on this start. The lock is released when the store is dropped or the
    /// process ends.
    pub fn open_for_delivery(path: &Path, sync: SyncMode) -> Result<Self, StoreError> {
        let store = Store::open(path, sync)?;
        if store.try_become_deliverer()? {
            Ok(store)
        } else {
            let lock = delivery_lock_path(path).display().to_string();
            Err(StoreError::Delivering {
                path: path.display().to_string(),
                lock,
            })
        }
    }

    /// Takes the delivery lock if no other process holds it (true), and then makes the
    /// rows a dead deliverer left in flight due at once. True at once when this store
    /// holds it already; false while another process delivers.
    pub fn try_become_deliverer(&self) -> Result<bool, StoreError> {
        if self.is_deliverer() {
            return Ok(true);
        }
        let lock = match take_delivery_lock(&self.path) {
            Ok(lock) => lock,
            Err(StoreError::Delivering { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        // Under the lock, nobody else is delivering: what is in flight was left by a
        // process that ended mid-delivery.
        self.conn()?.execute(
            "UPDATE notifications SET in_flight = 0, next_attempt_at = ?1
             WHERE state = 'pending' AND in_flight = 1",
            params![now_ms()],
        )?;
        // Only one descriptor can hold the flock, so the cell is still empty here.
        let _ = self.delivery_lock.set(lock);
        Ok(true)
    }

    /// Whether this store holds the delivery lock.
    pub fn is_deliverer(&self) -> bool {
        self.delivery_lock.get().is_some()
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Persists one notification for each notifier, in one transaction. A notification
    /// already stored for a notifier (same key) is left as it is. Returns how many rows
    /// were new.
    pub fn enqueue(
        &self,
        notification: &Notification,
        notifiers: &[String],
    ) -> Result<usize, StoreError> {
        let payload = serde_json::to_string(notification).map_err(|e| StoreError::Payload {
            id: 0,
            message: e.to_string(),
        })?;
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let added = insert_rows(&tx, notification, &payload, notifiers)?;
        tx.commit()?;
        Ok(added)
    }

    /// Applies a batch of writes in one transaction. Returns, for each `Enqueue` in
    /// order, how many rows it added.
    pub(crate) fn write_batch(
        &self,
        batch: &[crate::batch::Write],
    ) -> Result<Vec<usize>, StoreError> {
        use crate::batch::Write;
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let now = now_ms();
        let mut added = Vec::new();
        for w in batch {
            match w {
                Write::Enqueue {
                    notification,
                    notifiers,
                    ..
                } => {
                    let payload = serde_json::to_string(notification.as_ref()).map_err(|e| {
                        StoreError::Payload {
                            id: 0,
                            message: e.to_string(),
                        }
                    })?;
                    added.push(insert_rows(&tx, notification, &payload, notifiers)?);
                }
                Write::Delivered { id, attempts } => {
                    tx.prepare_cached(
                        "UPDATE notifications SET state = 'delivered', in_flight = 0, attempts = ?2,
                             updated_at = ?3, last_error = NULL WHERE id = ?1",
                    )?
                    .execute(params![id, attempts, now])?;
                }
                Write::Retry {
                    id,
                    attempts,
                    next_at,
                    error,
                } => {
                    tx.prepare_cached(
                        "UPDATE notifications SET in_flight = 0, attempts = ?2, next_attempt_at = ?3,
                             updated_at = ?4, last_error = ?5 WHERE id = ?1",
                    )?
                    .execute(params![id, attempts, next_at, now, error])?;
                }
                Write::Dead {
                    id,
                    attempts,
                    error,
                } => {
                    tx.prepare_cached(
                        "UPDATE notifications SET state = 'dead', in_flight = 0, attempts = ?2,
                             updated_at = ?3, last_error = ?4 WHERE id = ?1",
                    )?
                    .execute(params![id, attempts, now, error])?;
                }
                Write::Flush(_) => {}
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Persists a reminder and records it in the reminder ledger in one transaction, so
    /// a crash can neither send it without recording it nor record it without sending.
    /// Returns false (and stores nothing) when the ledger already has `ledger_key`.
    pub fn enqueue_reminder(
        &self,
        notification: &Notification,
        notifiers: &[String],
        ledger_key: &str,
    ) -> Result<bool, StoreError> {
        let Notification::ExpiryReminder(r) = notification else {
            return Ok(false);
        };
        let payload = serde_json::to_string(notification).map_err(|e| StoreError::Payload {
            id: 0,
            message: e.to_string(),
        })?;
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let fresh = tx.execute(
            "INSERT OR IGNORE INTO reminders_sent (key, target, dn, threshold_days, expires_at, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![ledger_key, r.target, r.dn, r.threshold_days as i64, r.expires_at, now_ms()],
        )? == 1;
        if fresh {
            insert_rows(&tx, notification, &payload, notifiers)?;
        }
        tx.commit()?;
        Ok(fresh)
    }

    /// Whether the reminder ledger has this key (for dry runs).
    pub fn reminder_sent(&self, ledger_key: &str) -> Result<bool, StoreError> {
        let conn = self.conn()?;
        let found: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM reminders_sent WHERE key = ?1",
                params![ledger_key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// Takes up to `limit` due rows and marks them in flight (so the loop does not take
    /// them twice), in one transaction.
    pub fn claim_due(&self, now: i64, limit: usize) -> Result<Vec<Row>, StoreError> {
        if !self.is_deliverer() {
            return Err(StoreError::NotDeliverer);
        }
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let rows = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE state = 'pending' AND in_flight = 0 AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![now, limit as i64], read_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(finish_row)
                .collect::<Result<Vec<_>, _>>()?
        };
        {
            let mut mark =
                tx.prepare_cached("UPDATE notifications SET in_flight = 1 WHERE id = ?1")?;
            for row in &rows {
                mark.execute(params![row.id])?;
            }
        }
        tx.commit()?;
        Ok(rows)
    }

    /// The earliest time a pending row becomes due, if any.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let conn = self.conn()?;
        Ok(conn.query_row(
            "SELECT MIN(next_attempt_at) FROM notifications WHERE state = 'pending' AND in_flight = 0",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )?)
    }

    /// Rows, newest first.
    pub fn list(&self, filter: ListFilter) -> Result<Vec<Row>, StoreError> {
        let conn = self.conn()?;
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE (?1 IS NULL OR state = ?1)
             ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![filter.state.map(RowState::as_str), limit], read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(finish_row).collect()
    }

    /// Counts by state.
    pub fn counts(&self) -> Result<Vec<(RowState, u64)>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM notifications GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, n)| RowState::parse(&s).map(|s| (s, n as u64)))
            .collect())
    }

    /// Makes dead rows (all of them, or the given ids) pending again with a fresh
    /// attempt count, due now. A given row being delivered right now is left as it is
    /// (making it due again would send it twice). Returns how many changed.
    pub fn retry(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let conn = self.conn()?;
        let now = now_ms();
        if ids.is_empty() {
            return Ok(conn.execute(
                "UPDATE notifications SET state = 'pending', attempts = 0, in_flight = 0,
                     next_attempt_at = ?1, updated_at = ?1 WHERE state = 'dead'",
                params![now],
            )?);
        }
        let mut n = 0;
        for id in ids {
            n += conn.execute(
                "UPDATE notifications SET state = 'pending', attempts = 0, in_flight = 0,
                     next_attempt_at = ?2, updated_at = ?2
                     WHERE id = ?1 AND state != 'delivered' AND in_flight = 0",
                params![id, now],
            )?;
        }
        Ok(n)
    }

    /// Deletes delivered and/or dead rows last updated before `before` (unix ms).
    /// Pending rows are never purged. Returns how many were deleted.
    pub fn purge(&self, states: &[RowState], before: i64) -> Result<usize, StoreError> {
        let conn = self.conn()?;
        let mut n = 0;
        for state in states.iter().filter(|s| **s != RowState::Pending) {
            n += conn.execute(
                "DELETE FROM notifications WHERE state = ?1 AND updated_at < ?2",
                params![state.as_str(), before],
            )?;
        }
        Ok(n)
    }
}

/// The SQLite connection with the store's settings and schema; touches no row.
fn connect(path: &Path, sync: SyncMode) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    let conn = Connection::open(path).map_err(open_err)?;
    let sync = match sync {
        SyncMode::Full => "FULL",
        SyncMode::Normal => "NORMAL",
    };
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", sync)
        .map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(open_err)?;
    conn.execute_batch(SCHEMA).map_err(open_err)?;
    Ok(conn)
}

/// `<store file>.deliver-lock`, beside the store.
fn delivery_lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".deliver-lock");
    path.with_file_name(name)
}

/// Takes the exclusive advisory lock without waiting. A separate file, not the SQLite
/// file itself: closing any descriptor of a file drops the process's POSIX locks on it,
/// SQLite's included.
fn take_delivery_lock(path: &Path) -> Result<File, StoreError> {
    let lock_path = delivery_lock_path(path);
    let describe = || (path.display().to_string(), lock_path.display().to_string());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| {
            let (path, lock) = describe();
            StoreError::Lock { path, lock, source }
        })?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(file);
    }
    let source = std::io::Error::last_os_error();
    let (path, lock) = describe();
    if source.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Err(StoreError::Delivering { path, lock })
    } else {
        Err(StoreError::Lock { path, lock, source })
    }
}

const COLUMNS: &str =
    "id, notifier, payload, state, attempts, next_attempt_at, created_at, updated_at, last_error";

type RawRow = (
    i64,
    String,
    String,
    String,
    u32,
    i64,
    i64,
    i64,
    Option<String>,
);

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn finish_row(raw: RawRow) -> Result<Row, StoreError> {
    let (
        id,
        notifier,
        payload,
        state,
        attempts,
        next_attempt_at,
        created_at,
        updated_at,
        last_error,
    ) = raw;
    let notification = serde_json::from_str(&payload).map_err(|e| StoreError::Payload {
        id,
        message: e.to_string(),
    })?;
    let state = RowState::parse(&state).ok_or_else(|| StoreError::Payload {
        id,
        message: format!("unknown state `{state}`"),
    })?;
    Ok(Row {
        id,
        notifier,
        notification,
        state,
        attempts,
        next_attempt_at,
        created_at,
        updated_at,
        last_error,
    })
}

fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    notification: &Notification,
    payload: &str,
    notifiers: &[String],
) -> Result<usize, StoreError> {
    let now = now_ms();
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO notifications
             (key, notifier, kind, payload, state, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5, ?5)",
    )?;
    let mut added = 0;
    for notifier in notifiers {
        added += stmt.execute(params![
            notification.key(),
            notifier,
            notification.kind(),
            payload,
            now
        ])?;
    }
    Ok(added)
}
