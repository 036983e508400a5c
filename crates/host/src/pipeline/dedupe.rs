//! Request ids seen recently, each bound to a fingerprint of what it asked. A retry
//! (same id, same fingerprint) gets the id's final outcome again and applies nothing;
//! the same id asking something else is refused. Only final outcomes are kept: a
//! retryable one (`directory_unavailable`, the busy refusal, `timeout`) ends the
//! entry, so the retry the protocol asks for is applied. An id whose work is still
//! running — even past its deadline — stays "running", and a retry waits for it
//! instead of writing a second time. Bounded by count and age.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use writeback_core::Outcome;

use super::fingerprint::Fingerprint;

/// The source and the id in one shared string (`<source length>:<source><id>`, so no
/// pair of source and id can spell another's): made once per request, then shared by
/// the table, the eviction queue and the ticket without another allocation.
type Key = Arc<str>;

fn key_of(source: &str, id: &str) -> Key {
    let mut key = String::with_capacity(source.len() + id.len() + 6);
    let _ = write!(key, "{}:{source}{id}", source.len());
    Arc::from(key)
}

enum Entry {
    Running {
        fingerprint: Fingerprint,
        outcome: watch::Receiver<Option<Outcome>>,
    },
    Done {
        fingerprint: Fingerprint,
        outcome: Outcome,
    },
}

impl Entry {
    fn fingerprint(&self) -> &Fingerprint {
        match self {
            Entry::Running { fingerprint, .. } | Entry::Done { fingerprint, .. } => fingerprint,
        }
    }
}

/// What `begin` found.
pub enum Seen {
    /// First time (or the last try ended retryable): run it, then `finish` the ticket.
    New(Ticket),
    /// The same request is running now: wait for its outcome (`None` until then; the
    /// sender going away means it ended without one).
    Running(watch::Receiver<Option<Outcome>>),
    /// Finished before: this is its outcome.
    Done(Outcome),
    /// The id was used for a different request.
    Mismatch,
}

/// Held by the request that runs an id; publishes its outcome to duplicates. Dropped
/// without `finish` (a panic), it frees the id so a retry can run.
pub struct Ticket {
    key: Key,
    sender: watch::Sender<Option<Outcome>>,
    inner: Arc<Mutex<Inner>>,
    finished: bool,
}

pub struct Dedupe {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    ttl: Duration,
}

struct Inner {
    entries: HashMap<Key, Entry>,
    /// Finished keys, oldest first, for eviction.
    order: VecDeque<(Key, Instant)>,
}

impl Dedupe {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Dedupe {
            inner: Arc::new(Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
            })),
            capacity: capacity.max(1),
            ttl,
        }
    }

    pub fn begin(&self, source: &str, id: &str, fingerprint: Fingerprint) -> Seen {
        let key = key_of(source, id);
        let mut inner = lock(&self.inner);
        self.evict(&mut inner, Instant::now());
        match inner.entries.get(&key) {
            Some(entry) if entry.fingerprint() != &fingerprint => Seen::Mismatch,
            Some(Entry::Done { outcome, .. }) => Seen::Done(outcome.clone()),
            Some(Entry::Running { outcome, .. }) => Seen::Running(outcome.clone()),
            None => {
                let (sender, rx) = watch::channel(None);
                inner.entries.insert(
                    key.clone(),
                    Entry::Running {
                        fingerprint,
                        outcome: rx,
                    },
                );
                Seen::New(Ticket {
                    key,
                    sender,
                    inner: self.inner.clone(),
                    finished: false,
                })
            }
        }
    }

    /// Ends the id's work with its real outcome: kept when final, forgotten when
    /// retryable. Waiting duplicates get it either way.
    pub fn finish(&self, mut ticket: Ticket, outcome: &Outcome) {
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        let key = ticket.key.clone();
        if outcome.code.is_retryable() {
            inner.entries.remove(&key);
        } else if let Some(Entry::Running { fingerprint, .. }) = inner.entries.remove(&key) {
            inner.entries.insert(
                key.clone(),
                Entry::Done {
                    fingerprint,
                    outcome: outcome.clone(),
                },
            );
            inner.order.push_back((key, now));
            self.evict(&mut inner, now);
        }
        drop(inner);
        ticket.finished = true;
        // The running entry (and its receiver) is gone: only waiting duplicates hold
        // one, and they took it under the lock, so none can appear after this count.
        if ticket.sender.receiver_count() > 0 {
            let _ = ticket.sender.send(Some(outcome.clone()));
        }
    }

    fn evict(&self, inner: &mut Inner, now: Instant) {
        while let Some((key, at)) = inner.order.front() {
            let expired = now.duration_since(*at) > self.ttl;
            if !expired && inner.order.len() <= self.capacity {
                break;
            }
            let key = key.clone();
            inner.order.pop_front();
            if matches!(inner.entries.get(&key), Some(Entry::Done { .. })) {
                inner.entries.remove(&key);
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.finished {
            let mut inner = lock(&self.inner);
            if matches!(inner.entries.get(&self.key), Some(Entry::Running { .. })) {
                inner.entries.remove(&self.key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use writeback_core::OutcomeCode;

    fn fp(n: u8) -> Fingerprint {
        Fingerprint::from_bytes([n; 32])
    }

    #[test]
    fn duplicate_gets_first_outcome_and_window_is_bounded() {
        let d = Dedupe::new(2, Duration::from_secs(60));
        let Seen::New(t) = d.begin("s", "a", fp(1)) else {
            panic!("new")
        };
        assert!(matches!(d.begin("s", "a", fp(1)), Seen::Running(_)));
        d.finish(t, &Outcome::of(OutcomeCode::NotFound));
        match d.begin("s", "a", fp(1)) {
            Seen::Done(o) => assert_eq!(o.code, OutcomeCode::NotFound),
            _ => panic!("done"),
        }
        // same id from another source is another request
        assert!(matches!(d.begin("t", "a", fp(1)), Seen::New(_)));
        // and no source/id pair spells another's key
        assert!(matches!(d.begin("s", "ta", fp(1)), Seen::New(_)));
        assert!(matches!(d.begin("st", "a", fp(1)), Seen::New(_)));
        for id in ["b", "c"] {
            let Seen::New(t) = d.begin("s", id, fp(1)) else {
                panic!("new")
            };
            d.finish(t, &Outcome::succeeded());
        }
        assert!(
            matches!(d.begin("s", "a", fp(1)), Seen::New(_)),
            "oldest evicted past capacity"
        );
    }

    #[tokio::test]
    async fn a_retryable_outcome_is_not_the_answer_to_a_retry() {
        for code in [OutcomeCode::DirectoryUnavailable, OutcomeCode::Timeout] {
            let d = Dedupe::new(10, Duration::from_secs(60));
            let Seen::New(t) = d.begin("s", "r", fp(1)) else {
                panic!("new")
            };
            let Seen::Running(mut waiting) = d.begin("s", "r", fp(1)) else {
                panic!("running")
            };
            d.finish(t, &Outcome::of(code));
            // The duplicate that waited gets what happened ...
            let seen = waiting.wait_for(Option::is_some).await.map(|o| o.clone());
            assert_eq!(seen.ok().flatten().map(|o| o.code), Some(code));
            // ... and a retry afterwards runs again.
            let Seen::New(t) = d.begin("s", "r", fp(1)) else {
                panic!("a retry after {code} must run")
            };
            d.finish(t, &Outcome::succeeded());
            assert!(matches!(d.begin("s", "r", fp(1)), Seen::Done(o) if o.is_success()));
        }
    }

    #[test]
    fn an_id_is_bound_to_what_it_asked() {
        let d = Dedupe::new(10, Duration::from_secs(60));
        let Seen::New(t) = d.begin("s", "x", fp(1)) else {
            panic!("new")
        };
        assert!(
            matches!(d.begin("s", "x", fp(2)), Seen::Mismatch),
            "while running"
        );
        d.finish(t, &Outcome::succeeded());
        assert!(
            matches!(d.begin("s", "x", fp(2)), Seen::Mismatch),
            "once done"
        );
        assert!(matches!(d.begin("s", "x", fp(1)), Seen::Done(_)));
    }

    #[test]
    fn a_ticket_dropped_unfinished_frees_the_id() {
        let d = Dedupe::new(10, Duration::from_secs(60));
        let Seen::New(t) = d.begin("s", "p", fp(1)) else {
            panic!("new")
        };
        drop(t);
        assert!(matches!(d.begin("s", "p", fp(1)), Seen::New(_)));
    }
}
