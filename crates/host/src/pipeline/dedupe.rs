//! Request ids seen recently: a duplicate gets the first outcome again and applies
//! nothing. Bounded by count and age.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use writeback_core::Outcome;

type Key = (String, String);

enum Entry {
    InFlight(watch::Receiver<Option<Outcome>>),
    Done(Outcome),
}

/// What `begin` found.
pub enum Seen {
    /// First time: run it, then call `finish` through the ticket.
    New(Ticket),
    /// The same id is running now: wait for its outcome.
    Running(watch::Receiver<Option<Outcome>>),
    /// Finished before: this is its outcome.
    Done(Outcome),
}

/// Held by the first request with an id; publishes its outcome to duplicates.
pub struct Ticket {
    key: Key,
    sender: watch::Sender<Option<Outcome>>,
}

pub struct Dedupe {
    inner: Mutex<Inner>,
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
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
            capacity: capacity.max(1),
            ttl,
        }
    }

    pub fn begin(&self, source: &str, id: &str) -> Seen {
        let key = (source.to_string(), id.to_string());
        let mut inner = lock(&self.inner);
        self.evict(&mut inner, Instant::now());
        match inner.entries.get(&key) {
            Some(Entry::Done(outcome)) => Seen::Done(outcome.clone()),
            Some(Entry::InFlight(rx)) => Seen::Running(rx.clone()),
            None => {
                let (sender, rx) = watch::channel(None);
                inner.entries.insert(key.clone(), Entry::InFlight(rx));
                Seen::New(Ticket { key, sender })
            }
        }
    }

    pub fn finish(&self, ticket: Ticket, outcome: &Outcome) {
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        inner
            .entries
            .insert(ticket.key.clone(), Entry::Done(outcome.clone()));
        inner.order.push_back((ticket.key, now));
        self.evict(&mut inner, now);
        let _ = ticket.sender.send(Some(outcome.clone()));
    }

    fn evict(&self, inner: &mut Inner, now: Instant) {
        while let Some((key, at)) = inner.order.front() {
            let expired = now.duration_since(*at) > self.ttl;
            if !expired && inner.order.len() <= self.capacity {
                break;
            }
            let key = key.clone();
            inner.order.pop_front();
            if matches!(inner.entries.get(&key), Some(Entry::Done(..))) {
                inner.entries.remove(&key);
            }
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn duplicate_gets_first_outcome_and_window_is_bounded() {
        let d = Dedupe::new(2, Duration::from_secs(60));
        let Seen::New(t) = d.begin("s", "a") else {
            panic!("new")
        };
        assert!(matches!(d.begin("s", "a"), Seen::Running(_)));
        d.finish(t, &Outcome::of(OutcomeCode::NotFound));
        match d.begin("s", "a") {
            Seen::Done(o) => assert_eq!(o.code, OutcomeCode::NotFound),
            _ => panic!("done"),
        }
        // same id from another source is another request
        assert!(matches!(d.begin("t", "a"), Seen::New(_)));
        for id in ["b", "c"] {
            let Seen::New(t) = d.begin("s", id) else {
                panic!("new")
            };
            d.finish(t, &Outcome::succeeded());
        }
        assert!(
            matches!(d.begin("s", "a"), Seen::New(_)),
            "oldest evicted past capacity"
        );
    }
}
