//! Unit tests of the directory policy (helper modules test their private parts inline).

/// The table's checks, as `check-config` reports them.
mod config_checks {
    use writeback_core::{ConfigError, ConnectorConfig, ConnectorKind};

    use crate::config::*;

    fn load(extra: &str) -> Result<DirectoryPolicyConfig, ConfigError> {
        let text = format!(
            "url = \"ldaps://dc.example.org\"\nbind_dn = \"svc@example.org\"\n\
             bind_password = {{ env = \"AD_BIND\" }}\n{extra}"
        );
        let table: toml::Table = toml::from_str(&text).unwrap();
        DirectoryPolicyConfig::from_connector(&ConnectorConfig::in_code(
            ConnectorKind::Policy,
            "directory",
            "dir",
            table,
        ))
    }

    #[test]
    fn defaults_and_refusals() {
        let c = load("").unwrap();
        assert_eq!(c.server.pool_size(&RULES), 2);
        assert_eq!(c.refresh_seconds, 300);
        assert!(c.check_min_age);
        let e = load("url2 = 1").unwrap_err();
        assert!(e.to_string().contains("url2"), "{e}");
        let e = load("allow_plaintext = true").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("policies.dir.allow_plaintext"));
        let e = load("starttls = false\nrefresh_seconds = 0").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("policies.dir.refresh_seconds"));
    }
}

/// The policy's verdicts.
mod policy_verdicts {
    use writeback_core::RuleViolation;

    use crate::effective::EffectivePolicy;
    use crate::policy::*;
    use crate::reader::AccountFacts;

    fn facts(min_length: u32, min_age_days: u64, last: Option<u64>) -> AccountFacts {
        AccountFacts {
            policy: EffectivePolicy {
                source: "domain".into(),
                min_length,
                complexity: true,
                history_length: 24,
                min_age: min_age_days * 864_000_000_000,
                max_age: 0,
                lockout_threshold: 0,
                lockout_duration: 0,
                lockout_window: 0,
            },
            pwd_last_set: last,
            account_name: Some("erinh".into()),
            display_name: Some("Erin M. Hagens".into()),
        }
    }

    fn ids(rules: &[RuleViolation]) -> Vec<&str> {
        rules.iter().map(|r| r.rule.as_str()).collect()
    }

    #[test]
    fn each_rule_has_its_id() {
        let now = now_filetime();
        assert!(judge("Good!Pass-word9", &facts(7, 0, None), true, now).is_empty());
        assert_eq!(
            ids(&judge("Ab1!", &facts(7, 0, None), true, now)),
            ["directory.min_length"]
        );
        assert_eq!(
            ids(&judge("alllowercase", &facts(7, 0, None), true, now)),
            ["directory.complexity"]
        );
        assert_eq!(
            ids(&judge("Hagens!2024x", &facts(7, 0, None), true, now)),
            ["directory.complexity.name"]
        );
        let recent = judge(
            "Good!Pass-word9",
            &facts(7, 1, Some(now - 10 * 10_000_000)),
            true,
            now,
        );
        assert_eq!(ids(&recent), ["directory.min_age"]);
        assert!(recent[0].message.contains("1 day"), "{}", recent[0].message);
        assert!(judge(
            "Good!Pass-word9",
            &facts(7, 1, Some(now - 10 * 10_000_000)),
            false,
            now
        )
        .is_empty());
        // pwdLastSet = 0 (must change) never blocks.
        assert!(judge("Good!Pass-word9", &facts(7, 1, Some(0)), true, now).is_empty());
    }

    #[test]
    fn astral_characters_count_twice_as_ad_counts_them() {
        assert!(judge(
            "Aa1\u{1F600}\u{1F600}",
            &facts(7, 0, None),
            true,
            now_filetime()
        )
        .is_empty());
    }
}
