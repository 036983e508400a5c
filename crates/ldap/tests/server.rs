//! The shared server settings and rootDSE reader against the test kit's real slapd.
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use writeback_core::{
    BuildContext, ConnectorConfig, ConnectorKind, Password, SecretRef, SecretResolver,
};
use writeback_ldap::{LdapFailure, OpenServer, RootDse, ServerConfig, ServerRules, Trust};
use writeback_testkit::slapd;

struct Inline;

impl SecretResolver for Inline {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, writeback_core::SecretError> {
        secret.value.clone().ok_or_else(|| {
            writeback_core::SecretError::Unsupported("only inline secrets here".into())
        })
    }
}

/// The shared slapd's service account with `extra` keys, opened as the openldap
/// target opens it.
fn open(extra: &str) -> OpenServer {
    let s = slapd::shared();
    let text = format!(
        "url = \"{}\"\nbind_dn = \"{}\"\nbind_password = {{ value = \"{}\" }}\n{extra}",
        s.ldaps_url(),
        s.service_dn(),
        s.service_password()
    );
    let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let config = ConnectorConfig::in_code(ConnectorKind::Target, "openldap", "ldap", table.clone());
    let (server, _rest): (ServerConfig, toml::Table) =
        writeback_ldap::server::split(&table).unwrap_or_else(|e| panic!("{e:?}"));
    let ctx = BuildContext {
        secrets: &Inline,
        base_dir: std::path::Path::new("/"),
    };
    server
        .open(&ServerRules::with_consent(), &config, "", &ctx)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn without_ca_file_the_system_store_decides_and_the_error_says_so() {
    // The test CA is not in the system store: the handshake must fail, and the error
    // must tell the administrator that the system store was used and what to do.
    let open = open("");
    assert_eq!(open.connector.trust(), &Trust::System);
    let err = open
        .pool
        .get()
        .await
        .err()
        .unwrap_or_else(|| panic!("connected"));
    assert!(matches!(err, LdapFailure::Tls { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("not trusted by the system trust store"),
        "{text}"
    );
    assert!(text.contains("ca_file"), "{text}");
}

#[tokio::test]
async fn with_ca_file_it_binds_and_reads_the_root_dse() {
    let s = slapd::shared();
    let open = open(&format!("ca_file = \"{}\"", s.ca_file().display()));
    let mut session = open.pool.get().await.unwrap_or_else(|e| panic!("{e}"));
    let root = RootDse::read(&mut session)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        root.naming_contexts.iter().any(|c| c == s.base_dn()),
        "{root:?}"
    );
    assert!(
        root.supports_extension("1.3.6.1.4.1.4203.1.11.1"),
        "Password Modify: {root:?}"
    );
    assert!(
        root.supports_control(writeback_ldap::ppolicy::PPOLICY_OID),
        "{root:?}"
    );
}
