//! Clocks of directories: GeneralizedTime (RFC 4517) as seconds since the epoch, and
//! the `clock` finding of `writeback doctor` comparing a server's time with this host's.
//! Kerberos, lockout windows and expiry reminders all depend on the two agreeing.

use std::time::{SystemTime, UNIX_EPOCH};

use writeback_core::Finding;

/// Seconds since the epoch of a GeneralizedTime such as `20261204011500.0Z`.
pub use crate::gentime::unix_seconds as generalized_time;

/// The `clock` finding: `theirs` (seconds since the epoch, read right after `before`)
/// against this host's clock; warn beyond `max_secs` with `fix`.
pub fn skew(whose: &str, theirs: i64, before: SystemTime, max_secs: u64, fix: &str) -> Finding {
    let ours = before
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let skew = theirs - ours;
    let text = format!(
        "{whose} clock is {} s {} this host's",
        skew.abs(),
        if skew >= 0 { "ahead of" } else { "behind" }
    );
    if skew.unsigned_abs() > max_secs {
        Finding::warn("clock", format!("{text} (more than {max_secs} s)")).with_fix(fix)
    } else {
        Finding::ok("clock", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use writeback_core::Verdict;

    #[test]
    fn times_and_skew() {
        assert_eq!(generalized_time("19700101000000.0Z"), Some(0));
        assert_eq!(generalized_time("20261204011500Z"), Some(1_796_346_900));
        assert_eq!(generalized_time("2026120401150"), None);
        assert_eq!(generalized_time("20261304011500.0Z"), None);
        let at = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(skew("x", 1030, at, 60, "ntp").verdict, Verdict::Ok);
        let off = skew("slapd's", 900, at, 60, "ntp");
        assert_eq!(off.verdict, Verdict::Warn);
        assert!(off.evidence.contains("100 s behind"), "{off:?}");
    }
}
