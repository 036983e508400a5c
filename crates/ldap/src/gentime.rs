//! LDAP GeneralizedTime (`YYYYMMDDHHMMSS[.fraction]Z`, UTC) to and from `SystemTime`,
//! for expiry attributes (`pwdChangedTime`, 389 DS's `passwordExpirationTime`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `YYYYMMDDHHMMSSZ` (UTC), e.g. for a filter.
pub fn format(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX / 2));
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Reads `YYYYMMDDHHMMSS[.fraction]Z`; other forms (offsets) are not accepted.
pub fn parse(s: &str) -> Option<SystemTime> {
    u64::try_from(unix_seconds(s)?)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Seconds since the epoch (negative before 1970) of `YYYYMMDDHHMMSS[.fraction]Z`, as
/// a directory's `currentTime` or `monitorTimestamp` reads.
pub fn unix_seconds(s: &str) -> Option<i64> {
    let digits = s.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(4..6)?,
        n(6..8)?,
        n(8..10)?,
        n(10..12)?,
        n(12..14)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

// Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = UNIX_EPOCH + Duration::from_secs(1_764_097_445); // 2025-11-25T19:04:05Z
        assert_eq!(format(t), "20251125190405Z");
        assert_eq!(parse("20251125190405Z"), Some(t));
        assert_eq!(parse("20251125190405.123456Z"), Some(t));
        assert_eq!(parse("19700101000000Z"), Some(UNIX_EPOCH));
        assert_eq!(
            parse("20240229000000Z").map(format).as_deref(),
            Some("20240229000000Z")
        );
        assert_eq!(parse("2025112519Z"), None);
        assert_eq!(parse("20251325190405Z"), None);
    }
}
