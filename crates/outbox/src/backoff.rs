//! Exponential backoff with jitter, so that many notifications failing together (an SMTP
//! outage) do not all retry in the same instant when the server comes back.

use std::time::Duration;

use rand::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The ceiling for the delay after `attempts` failed attempts (1 = first failure):
    /// `initial * 2^(attempts-1)`, capped at `max`.
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(30);
        self.initial
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The delay to wait: "equal jitter", half the ceiling plus a random part of the
    /// other half, so a retry never comes much sooner than planned but spreads out.
    pub fn delay(&self, attempts: u32) -> Duration {
        let ceiling = self.ceiling(attempts);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half).as_millis() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=spread)
        };
        half + Duration::from_millis(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(400));
        assert_eq!(b.ceiling(10), Duration::from_millis(1000));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(1000));
        for attempts in 1..12 {
            let d = b.delay(attempts);
            assert!(
                d >= b.ceiling(attempts) / 2 && d <= b.ceiling(attempts),
                "{d:?}"
            );
        }
    }
}
