//! The password policy AD applies to one account: the domain's (on the domain object)
//! or, when the account has one, its resultant fine-grained policy (a PSO).

use std::collections::HashMap;

/// AD stores durations as negative counts of 100 ns; this is the positive count.
pub type Interval = u64;

pub const HUNDRED_NS_PER_SECOND: u64 = 10_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// `domain` or the PSO's DN.
    pub source: String,
    pub min_length: u32,
    pub complexity: bool,
    pub history_length: u32,
    pub min_age: Interval,
    pub max_age: Interval,
    pub lockout_threshold: u32,
    pub lockout_duration: Interval,
    pub lockout_window: Interval,
}

/// The domain object's attributes that make up its policy.
pub const DOMAIN_ATTRIBUTES: &[&str] = &[
    "minPwdLength",
    "pwdProperties",
    "pwdHistoryLength",
    "minPwdAge",
    "maxPwdAge",
    "lockoutThreshold",
    "lockoutDuration",
    "lockOutObservationWindow",
];

/// A PSO's attributes.
pub const PSO_ATTRIBUTES: &[&str] = &[
    "msDS-MinimumPasswordLength",
    "msDS-PasswordComplexityEnabled",
    "msDS-PasswordHistoryLength",
    "msDS-MinimumPasswordAge",
    "msDS-MaximumPasswordAge",
    "msDS-LockoutThreshold",
    "msDS-LockoutDuration",
    "msDS-LockoutObservationWindow",
];

/// DOMAIN_PASSWORD_COMPLEX in pwdProperties.
const DOMAIN_PASSWORD_COMPLEX: u32 = 1;

type Attrs = HashMap<String, Vec<String>>;

fn first<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
}

fn number(attrs: &Attrs, name: &str) -> Result<i64, String> {
    let text = first(attrs, name).ok_or_else(|| format!("`{name}` is missing or not readable"))?;
    text.trim()
        .parse::<i64>()
        .map_err(|_| format!("`{name}` is not a number: {text}"))
}

fn count(attrs: &Attrs, name: &str) -> Result<u32, String> {
    number(attrs, name).map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

/// AD intervals are negative; `-9223372036854775808` means "never".
fn interval(attrs: &Attrs, name: &str) -> Result<Interval, String> {
    number(attrs, name).map(|n| n.unsigned_abs())
}

impl EffectivePolicy {
    pub fn from_domain(attrs: &Attrs) -> Result<Self, String> {
        Ok(EffectivePolicy {
            source: "domain".into(),
            min_length: count(attrs, "minPwdLength")?,
            complexity: count(attrs, "pwdProperties")? & DOMAIN_PASSWORD_COMPLEX != 0,
            history_length: count(attrs, "pwdHistoryLength")?,
            min_age: interval(attrs, "minPwdAge")?,
            max_age: interval(attrs, "maxPwdAge")?,
            lockout_threshold: count(attrs, "lockoutThreshold")?,
            lockout_duration: interval(attrs, "lockoutDuration")?,
            lockout_window: interval(attrs, "lockOutObservationWindow")?,
        })
    }

    pub fn from_pso(dn: &str, attrs: &Attrs) -> Result<Self, String> {
        let complexity = first(attrs, "msDS-PasswordComplexityEnabled")
            .ok_or("`msDS-PasswordComplexityEnabled` is missing or not readable")?
            .eq_ignore_ascii_case("TRUE");
        Ok(EffectivePolicy {
            source: dn.to_string(),
            min_length: count(attrs, "msDS-MinimumPasswordLength")?,
            complexity,
            history_length: count(attrs, "msDS-PasswordHistoryLength")?,
            min_age: interval(attrs, "msDS-MinimumPasswordAge")?,
            max_age: interval(attrs, "msDS-MaximumPasswordAge")?,
            lockout_threshold: count(attrs, "msDS-LockoutThreshold")?,
            lockout_duration: interval(attrs, "msDS-LockoutDuration")?,
            lockout_window: interval(attrs, "msDS-LockoutObservationWindow")?,
        })
    }
}

/// A duration in 100 ns for people: "1 day", "3 hours", "20 minutes".
pub fn human(interval: Interval) -> String {
    let seconds = interval / HUNDRED_NS_PER_SECOND;
    let (n, unit) = if seconds >= 86_400 && seconds / 86_400 * 86_400 == seconds {
        (seconds / 86_400, "day")
    } else if seconds >= 3_600 {
        (seconds.div_ceil(3_600), "hour")
    } else {
        (seconds.div_ceil(60).max(1), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attrs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect()
    }

    #[test]
    fn domain_policy() {
        let a = attrs(&[
            ("minPwdLength", "7"),
            ("pwdProperties", "1"),
            ("pwdHistoryLength", "24"),
            ("minPwdAge", "-864000000000"),
            ("maxPwdAge", "-36288000000000"),
            ("lockoutThreshold", "3"),
            ("lockoutDuration", "-18000000000"),
            ("lockOutObservationWindow", "-18000000000"),
        ]);
        let p = EffectivePolicy::from_domain(&a).unwrap();
        assert_eq!(p.min_length, 7);
        assert!(p.complexity);
        assert_eq!(human(p.min_age), "1 day");
        assert_eq!(human(p.lockout_duration), "30 minutes");
        assert!(EffectivePolicy::from_domain(&attrs(&[("minPwdLength", "7")])).is_err());
    }
}
