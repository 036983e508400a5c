//! The worked examples of Microsoft's "How are passwords evaluated", through the policy
//! as the host builds it (terms inline and from a file).
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind, Password,
    Policy, PolicyContext, SecretRef, SecretResolver,
};
use writeback_policy_banned_words::BannedWordsPolicyFactory;

struct NoSecrets;
impl SecretResolver for NoSecrets {
    fn resolve(&self, _: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        Err(writeback_core::SecretError::Unsupported("none".into()))
    }
}

fn config(text: &str) -> ConnectorConfig {
    let table: toml::Table = toml::from_str(text).unwrap();
    ConnectorConfig::in_code(ConnectorKind::Policy, "banned-words", "banned", table)
}

async fn policy(text: &str, dir: &Path) -> std::sync::Arc<dyn Policy> {
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: dir,
    };
    BannedWordsPolicyFactory
        .build(&config(text), &ctx)
        .await
        .unwrap()
}

async fn rules(policy: &dyn Policy, identity: &CloudIdentity, password: &str) -> Vec<String> {
    let ctx = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity,
        accounts: &[],
    };
    let v = policy
        .evaluate(&Password::new(password), &ctx)
        .await
        .unwrap();
    for r in &v {
        assert!(
            !r.message.to_lowercase().contains(&password.to_lowercase()),
            "message echoes the password"
        );
    }
    v.into_iter().map(|r| r.rule).collect()
}

#[tokio::test]
async fn contoso_examples_with_terms_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    // "blank" stands in for Microsoft's global list, "contoso" for the custom list
    std::fs::write(
        dir.path().join("global.txt"),
        "# global list\nblank\n\nabc\n",
    )
    .unwrap();
    let p = policy(
        "terms = [\"Contoso\"]\nfiles = [\"global.txt\"]",
        dir.path(),
    )
    .await;
    let nobody = CloudIdentity::default();
    assert_eq!(
        rules(p.as_ref(), &nobody, "C0ntos0Blank12").await,
        vec!["banned.score"]
    );
    assert!(rules(p.as_ref(), &nobody, "ContoS0Bl@nkf9!")
        .await
        .is_empty());
    assert_eq!(
        rules(p.as_ref(), &nobody, "Bl@nK").await,
        vec!["banned.score"]
    );
}

#[tokio::test]
async fn abcdef_fuzzy_examples() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy("terms = [\"abcdef\"]", dir.path()).await;
    let nobody = CloudIdentity::default();
    for candidate in ["abcdeg", "abcdefg", "abcde"] {
        assert_eq!(
            rules(p.as_ref(), &nobody, candidate).await,
            vec!["banned.score"],
            "{candidate}"
        );
    }
}

#[tokio::test]
async fn poll_example_refuses_the_users_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy("", dir.path()).await;
    let poll = CloudIdentity {
        given_name: Some("Poll".into()),
        surname: Some("Example".into()),
        ..Default::default()
    };
    assert_eq!(
        rules(p.as_ref(), &poll, "p0LL23fb").await,
        vec!["banned.contains_name"]
    );
    // without the outright refusal, the name still counts as a banned term in the score
    let lenient = policy("reject_names = false\nmin_score = 6", dir.path()).await;
    assert_eq!(
        rules(lenient.as_ref(), &poll, "p0LL23fb").await,
        vec!["banned.score"]
    );
}

#[tokio::test]
async fn winter2026_is_refused_with_a_year_term() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy("terms = [\"winter\", \"2026\"]", dir.path()).await;
    assert_eq!(
        rules(p.as_ref(), &CloudIdentity::default(), "Winter2026!").await,
        vec!["banned.score"]
    );
}

#[test]
fn bad_configs_name_the_key() {
    let f = BannedWordsPolicyFactory;
    let err = f
        .validate(&config("terms = [\"abc\"]"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("terms[0]"), "{err}");
    let err = f
        .validate(&config("substitutions = { \"33\" = \"e\" }"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("substitutions"), "{err}");
    let err = f
        .validate(&config("min_score = 0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("min_score"), "{err}");
}

/// `check-config` shows every mistake of the table in one run, not one per run.
#[test]
fn every_bad_key_is_reported_in_one_run() {
    let errors: Vec<String> = BannedWordsPolicyFactory
        .validate_all(&config(
            "terms = [\"abc\", \"contoso\", \"xy\"]\nmin_score = 0\nsubstitutions = { \"33\" = \"e\" }",
        ))
        .iter()
        .map(|e| e.to_string())
        .collect();
    for key in ["terms[0]", "terms[2]", "min_score", "substitutions.33"] {
        assert!(
            errors.iter().any(|e| e.contains(key)),
            "no error names `{key}`: {errors:?}"
        );
    }
    assert!(!errors.iter().any(|e| e.contains("terms[1]")), "{errors:?}");
}

#[tokio::test]
async fn a_missing_or_empty_term_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: dir.path(),
    };
    let err = BannedWordsPolicyFactory
        .build(&config("files = [\"nope.txt\"]"), &ctx)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("files[0]") && err.contains("nope.txt"),
        "{err}"
    );
    std::fs::write(dir.path().join("short.txt"), "abc\n# only short words\n").unwrap();
    let err = BannedWordsPolicyFactory
        .build(&config("files = [\"short.txt\"]"), &ctx)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no terms"), "{err}");
}
