//! One user at a time, in arrival order: a FIFO queue of turns per user key.
//! "Arrival" is the synchronous call to `enter`, so the order is exactly the order in
//! which requests reached the pipeline.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

#[derive(Default)]
pub struct UserQueues {
    /// A key is present while someone holds its turn; the deque holds the waiters.
    /// Keys are shared with the turns that hold them: one allocation per new key.
    queues: Mutex<HashMap<Arc<str>, VecDeque<oneshot::Sender<()>>>>,
}

/// A place in one user's queue. Dropping it passes the turn on.
pub struct Turn {
    queues: Arc<UserQueues>,
    key: Arc<str>,
    wait: Option<oneshot::Receiver<()>>,
    holding: bool,
}

impl UserQueues {
    /// Takes a place in the queue for `key` now; `Turn::ready` waits for it.
    pub fn enter(self: &Arc<Self>, key: &str) -> Turn {
        let mut queues = lock(&self.queues);
        let (key, wait) = match queues.get_key_value(key) {
            None => {
                let key: Arc<str> = Arc::from(key);
                queues.insert(key.clone(), VecDeque::new());
                (key, None)
            }
            Some((key, _)) => {
                let key = key.clone();
                let (tx, rx) = oneshot::channel();
                if let Some(waiters) = queues.get_mut(&key) {
                    waiters.push_back(tx);
                }
                (key, Some(rx))
            }
        };
        Turn {
            queues: self.clone(),
            key,
            holding: wait.is_none(),
            wait,
        }
    }

    fn pass_on(&self, key: &str) {
        let mut queues = lock(&self.queues);
        let Some(waiters) = queues.get_mut(key) else {
            return;
        };
        // Skip waiters that went away; the first one still there gets the turn.
        while let Some(next) = waiters.pop_front() {
            if next.send(()).is_ok() {
                return;
            }
        }
        queues.remove(key);
    }

    /// Users with a request running or waiting (for the tests).
    #[cfg(test)]
    pub fn active_users(&self) -> usize {
        lock(&self.queues).len()
    }
}

impl Turn {
    /// Waits until every earlier request for this user has finished.
    pub async fn ready(&mut self) {
        if let Some(rx) = self.wait.take() {
            // An error means the queue was dropped (runtime shutdown); go on.
            let _ = rx.await;
            self.holding = true;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let was_given = match self.wait.as_mut() {
            // Given the turn but never took it: pass it on all the same. Closing first
            // makes the answer final: a `pass_on` after the close sees this waiter gone
            // and skips it; one before it left the turn here for `try_recv` to find.
            // Without the close, a turn sent between the look and the drop is lost.
            Some(rx) => {
                rx.close();
                rx.try_recv().is_ok()
            }
            None => false,
        };
        if self.holding || was_given {
            self.queues.pass_on(&self.key);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_user_runs_in_arrival_order_others_in_parallel() {
        let q = Arc::new(UserQueues::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for i in 0..5 {
            let mut turn = q.enter("alice");
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                turn.ready().await;
                // later arrivals sleep less: only the queue keeps them in order
                tokio::time::sleep(Duration::from_millis(10 - 2 * i)).await;
                lock(&log).push(i);
            }));
        }
        let mut bob = q.enter("bob");
        tokio::time::timeout(Duration::from_millis(50), bob.ready())
            .await
            .unwrap_or_else(|_| panic!("bob must not wait for alice"));
        drop(bob);
        for h in handles {
            let _ = h.await;
        }
        assert_eq!(*lock(&log), vec![0, 1, 2, 3, 4]);
        assert_eq!(q.active_users(), 0);
    }

    #[tokio::test]
    async fn abandoned_waiter_does_not_block_the_queue() {
        let q = Arc::new(UserQueues::default());
        let first = q.enter("u");
        let second = q.enter("u");
        let mut third = q.enter("u");
        drop(second);
        drop(first);
        tokio::time::timeout(Duration::from_millis(100), third.ready())
            .await
            .unwrap_or_else(|_| panic!("third must get the turn"));
        drop(third);
        assert_eq!(q.active_users(), 0);
    }

    /// A waiter dropped at the moment the turn is passed to it must pass it on: were
    /// the turn sent between its last look and the receiver going away, the queue
    /// would stall for good. Real threads, so the two drops really race.
    #[test]
    fn a_waiter_dropped_while_the_turn_reaches_it_passes_it_on() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let q = Arc::new(UserQueues::default());
        let started = std::time::Instant::now();
        for i in 0..200_000 {
            let holder = q.enter("u");
            let waiter = q.enter("u");
            let mut last = q.enter("u");
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let b = barrier.clone();
            let other = std::thread::spawn(move || {
                b.wait();
                drop(waiter);
            });
            barrier.wait();
            drop(holder);
            let _ = other.join();
            let got = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(2), last.ready()).await
            });
            assert!(got.is_ok(), "iteration {i}: the turn was lost");
            drop(last);
            assert_eq!(q.active_users(), 0, "iteration {i}");
            if started.elapsed() > Duration::from_secs(15) {
                break;
            }
        }
    }
}
