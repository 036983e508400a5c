//! The `breached` policy built from a generated download, as the host builds it.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;

use writeback_core::{
    BuildContext, CloudIdentity, ConnectorConfig, ConnectorFactory, ConnectorKind, Password,
    PolicyContext, SecretRef, SecretResolver,
};
use writeback_policy_breached::BreachedPolicyFactory;

struct NoSecrets;
impl SecretResolver for NoSecrets {
    fn resolve(&self, _: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        Err(writeback_core::SecretError::Unsupported("none".into()))
    }
}

fn sha1_hex(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, s.as_bytes());
    d.as_ref().iter().fold(String::new(), |mut acc, b| {
        let _ = write!(acc, "{b:02X}");
        acc
    })
}

fn config(text: &str) -> ConnectorConfig {
    let table: toml::Table = toml::from_str(text).unwrap();
    ConnectorConfig::in_code(ConnectorKind::Policy, "breached", "breached", table)
}

#[tokio::test]
async fn refuses_listed_passwords_and_accepts_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for p in ["Winter2026!", "P@ssw0rd", "correcthorse"] {
        let _ = write!(text, "{}:42\r\n", sha1_hex(p));
    }
    for i in 0..1000 {
        let _ = write!(text, "{}:1\r\n", sha1_hex(&format!("filler-{i}")));
    }
    std::fs::write(dir.path().join("pwned.txt"), text).unwrap();
    writeback_breached_filter::build(
        &dir.path().join("pwned.txt"),
        &dir.path().join("pwned.bin"),
        1,
        false,
    )
    .unwrap();

    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: dir.path(),
    };
    let policy = BreachedPolicyFactory
        .build(&config("file = \"pwned.bin\""), &ctx)
        .await
        .unwrap();
    let identity = CloudIdentity::default();
    let pctx = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity: &identity,
        accounts: &[],
    };
    for p in ["Winter2026!", "P@ssw0rd", "correcthorse"] {
        let v = policy.evaluate(&Password::new(p), &pctx).await.unwrap();
        assert_eq!(v.len(), 1, "{p}");
        assert_eq!(v[0].rule, "breached.found");
        assert!(!v[0].message.contains(p));
    }
    let ok = policy
        .evaluate(&Password::new("Marker-unlisted-Zq9#x"), &pctx)
        .await
        .unwrap();
    assert!(ok.is_empty());
}

#[tokio::test]
async fn a_missing_file_is_a_config_error_naming_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = BuildContext {
        secrets: &NoSecrets,
        base_dir: dir.path(),
    };
    let err = BreachedPolicyFactory
        .build(&config("file = \"missing.bin\""), &ctx)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("file") && err.contains("missing.bin"), "{err}");
    std::fs::write(
        dir.path().join("text.bin"),
        "000000005AD76BD555C1D6D771DE417A4B87E4B4:10\n",
    )
    .unwrap();
    let err = BreachedPolicyFactory
        .build(&config("file = \"text.bin\""), &ctx)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("writeback breached build"), "{err}");
}
