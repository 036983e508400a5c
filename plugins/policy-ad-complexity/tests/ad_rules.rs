//! Microsoft's documented examples, through the policy as the host builds it.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use writeback_core::{
    Account, BuildContext, CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind,
    Password, PolicyContext, SecretRef, SecretResolver,
};
use writeback_policy_ad_complexity::AdComplexityPolicyFactory;

struct NoSecrets;
impl SecretResolver for NoSecrets {
    fn resolve(&self, _: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        Err(writeback_core::SecretError::Unsupported("none".into()))
    }
}

async fn broken(table: &str, sam: &str, display: &str, password: &str) -> Vec<String> {
    let table: toml::Table = toml::from_str(table).unwrap();
    let config = ConnectorConfig::in_code(ConnectorKind::Policy, "ad-complexity", "ad", table);
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: Path::new("."),
    };
    let policy = AdComplexityPolicyFactory
        .build(&config, &ctx)
        .await
        .unwrap();
    let mut attributes = BTreeMap::new();
    attributes.insert("samaccountname".to_string(), vec![sam.to_string()]);
    attributes.insert("displayname".to_string(), vec![display.to_string()]);
    let accounts = vec![(
        "ad".to_string(),
        Account {
            dn: "CN=x,DC=example,DC=test".into(),
            id: None,
            attributes,
        },
    )];
    let identity = CloudIdentity::default();
    let context = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity: &identity,
        accounts: &accounts,
    };
    let v = policy
        .evaluate(&Password::new(password), &context)
        .await
        .unwrap();
    assert!(v.iter().all(|r| !r.message.contains(password)));
    v.into_iter().map(|r| r.rule).collect()
}

#[tokio::test]
async fn erin_m_hagens_example() {
    // "Erin M. Hagens": tokens "Erin" and "Hagens" are refused, "M" is too short
    let none: Vec<String> = Vec::new();
    assert_eq!(
        broken("", "ehagens", "Erin M. Hagens", "Mx-Lake-42").await,
        none
    );
    assert_eq!(
        broken("", "ehagens", "Erin M. Hagens", "xERINx-Lake-42").await,
        vec!["ad.contains_display_name"]
    );
    assert_eq!(
        broken("", "ehagens", "Erin M. Hagens", "Lake-42-hagens").await,
        vec!["ad.contains_display_name"]
    );
    assert_eq!(
        broken("", "ehagens", "Erin M. Hagens", "Lake-42-EHAGENS")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn short_account_names_are_not_checked() {
    assert!(broken("", "ab", "", "Xab-Lake-42").await.is_empty());
    assert_eq!(
        broken("", "abc", "", "Xabc-Lake-42").await,
        vec!["ad.contains_account_name"]
    );
}

#[tokio::test]
async fn all_broken_rules_are_reported() {
    assert_eq!(
        broken("min_length = 10", "winter", "Win Ter", "winter").await,
        vec![
            "ad.min_length",
            "ad.complexity",
            "ad.contains_account_name",
            "ad.contains_display_name"
        ]
    );
    assert!(broken("min_length = 7", "jdoe", "John Doe", "Winter2026!")
        .await
        .is_empty());
}

/// `check-config` shows every mistake of the table in one run, not one per run.
#[test]
fn every_bad_key_of_the_table_is_reported_in_one_run() {
    let table: toml::Table =
        toml::from_str("min_length = \"seven\"\ncheck_names = 1\nmin_lenght = 7\n").unwrap();
    let config = ConnectorConfig::in_code(ConnectorKind::Policy, "ad-complexity", "ad", table);
    let errors: Vec<String> = AdComplexityPolicyFactory
        .validate_all(&config)
        .iter()
        .map(|e| e.to_string())
        .collect();
    for key in ["min_length", "check_names", "min_lenght"] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("`policies.ad.{key}`"))),
            "no error names `{key}`: {errors:?}"
        );
    }
}

/// AD's own limit is checked before anything is built.
#[test]
fn a_minimum_above_ads_limit_is_refused() {
    let table: toml::Table = toml::from_str("min_length = 300\n").unwrap();
    let config = ConnectorConfig::in_code(ConnectorKind::Policy, "ad-complexity", "ad", table);
    let errors: Vec<String> = AdComplexityPolicyFactory
        .validate_all(&config)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("at most 256"), "{errors:?}");
}
