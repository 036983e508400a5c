//! The rustls client configuration: the ring provider, and as trust anchors either only
//! the CA certificates of the configured file (a private directory CA, not the web PKI)
//! or, when no file is configured, the system's trust store.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// A client config that trusts exactly the CA certificates in the PEM file `ca_file`.
pub fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, String> {
    let pem = std::fs::read(ca_file)
        .map_err(|e| format!("cannot read CA file {}: {e}", ca_file.display()))?;
    client_config_from_pem(&pem).map_err(|e| format!("CA file {}: {e}", ca_file.display()))
}

/// A client config that trusts exactly the CA certificates in `pem`.
pub fn client_config_from_pem(pem: &[u8]) -> Result<Arc<ClientConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block found (expected PEM)".into());
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    with_roots(roots)
}

/// A client config that trusts the system's trust store (what OpenSSL would use:
/// `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the distribution's bundle). Certificates the
/// store holds that rustls cannot use are skipped, as browsers skip them.
pub fn system_client_config() -> Result<Arc<ClientConfig>, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(format!(
            "no `ca_file` is given and the system trust store holds no usable CA certificate{why}: \
             set `ca_file` to the PEM file of the CA that signed the directory's certificate"
        ));
    }
    with_roots(roots)
}

fn with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_files_without_certificates() {
        assert!(client_config_from_pem(b"").is_err());
        assert!(client_config_from_pem(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
        let missing = client_config(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    }
}
