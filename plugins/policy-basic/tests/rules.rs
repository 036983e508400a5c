//! The `basic` policy through its factory, as the host builds it.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use writeback_core::{
    Account, BuildContext, CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind,
    Password, PolicyContext, SecretRef, SecretResolver,
};
use writeback_policy_basic::BasicPolicyFactory;

struct NoSecrets;
impl SecretResolver for NoSecrets {
    fn resolve(&self, _: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        Err(writeback_core::SecretError::Unsupported(
            "no secrets here".into(),
        ))
    }
}

fn config(text: &str) -> ConnectorConfig {
    let table: toml::Table = toml::from_str(text).unwrap();
    ConnectorConfig::in_code(ConnectorKind::Policy, "basic", "basic", table)
}

async fn rules_broken(text: &str, password: &str) -> Vec<String> {
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: Path::new("."),
    };
    let policy = BasicPolicyFactory.build(&config(text), &ctx).await.unwrap();
    let identity = CloudIdentity {
        upn: Some("erin.hagens@example.org".into()),
        display_name: Some("Erin M. Hagens".into()),
        ..Default::default()
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("uid".to_string(), vec!["ehagens".to_string()]);
    let accounts = vec![(
        "ldap".to_string(),
        Account {
            dn: "uid=ehagens,ou=people,dc=example,dc=org".into(),
            id: None,
            attributes,
        },
    )];
    let context = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity: &identity,
        accounts: &accounts,
    };
    let violations = policy
        .evaluate(&Password::new(password), &context)
        .await
        .unwrap();
    for v in &violations {
        assert!(
            !v.message.contains(password),
            "a message echoes the password"
        );
    }
    violations.into_iter().map(|v| v.rule).collect()
}

#[tokio::test]
async fn reports_every_broken_rule_with_stable_ids() {
    let strict = r#"
        min_length = 12
        require = ["upper", "lower", "digit", "symbol"]
        min_categories = 4
    "#;
    assert_eq!(
        rules_broken(strict, "ehagens").await,
        vec![
            "length.min",
            "classes.upper",
            "classes.digit",
            "classes.symbol",
            "classes.min_categories",
            "name.contains_account_name",
            "name.contains_display_name"
        ]
    );
    assert!(rules_broken(strict, "Correct-Horse-9-Battery")
        .await
        .is_empty());
}

#[tokio::test]
async fn names_are_matched_case_insensitively_and_short_tokens_ignored() {
    assert_eq!(
        rules_broken("", "xxHAGENSxx1").await,
        vec!["name.contains_display_name"]
    );
    // "M" is a one-letter token of "Erin M. Hagens": ignored
    assert!(rules_broken("", "Mountain-Lake-7").await.is_empty());
    assert_eq!(rules_broken("", "zz-EHagens-2026").await.len(), 2);
}

#[tokio::test]
async fn lengths_count_characters_not_bytes() {
    assert!(rules_broken("min_length = 4\nmax_length = 4", "éééé")
        .await
        .is_empty());
    assert_eq!(
        rules_broken("min_length = 1\nmax_length = 4", "ééééé").await,
        vec!["length.max"]
    );
}

#[tokio::test]
async fn scoped_to_other_targets_it_passes_everything() {
    assert!(
        rules_broken("targets = [\"corp-ad\"]\nmin_length = 30", "short")
            .await
            .is_empty()
    );
}

#[test]
fn invalid_configs_name_the_key() {
    let f = BasicPolicyFactory;
    let err = f
        .validate(&config("min_length = 10\nmax_length = 5"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("min_length"), "{err}");
    let err = f
        .validate(&config("require = [\"emoji\"]"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("require"), "{err}");
    let err = f
        .validate(&config("min_lenght = 3"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("min_lenght"), "{err}");
}

/// Every mistake of the table in one run, as `check-config` reports them.
#[test]
fn every_bad_value_of_the_table_is_reported_in_one_run() {
    let errors: Vec<String> = BasicPolicyFactory
        .validate_all(&config(
            "max_length = 64\nmin_length = 80\nmin_categories = 5\nname_min_token = 0\n",
        ))
        .iter()
        .map(|e| e.to_string())
        .collect();
    for key in ["min_length", "min_categories", "name_min_token"] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("`policies.basic.{key}`"))),
            "no error names `{key}`: {errors:?}"
        );
    }
}
