//! The rustls client configuration: the ring provider, and as trust anchors either only
//! the CA certificates of the configured file (a private directory CA, not the web PKI)
//! or, when no file is configured, the system's trust store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Why no TLS client configuration could be built. The text names the file and the
/// fix; the connection settings report it under the `ca_file` key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read CA file {}: {source}", path.display())]
    ReadCaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CA file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        source: Box<TlsError>,
    },
    #[error("not valid PEM: {0}")]
    NotPem(#[source] std::io::Error),
    #[error("no CERTIFICATE block found (expected PEM)")]
    NoCertificate,
    #[error("not a usable CA certificate: {0}")]
    UnusableCa(#[source] rustls::Error),
    #[error(
        "no `ca_file` is given and the system trust store holds no usable CA certificate{why}: \
         set `ca_file` to the PEM file of the CA that signed the directory's certificate"
    )]
    NoSystemRoots {
        /// ` (the first error loading the store)`, or empty.
        why: String,
    },
    #[error("TLS setup failed: {0}")]
    Setup(#[source] rustls::Error),
}

/// A client config that trusts exactly the CA certificates in the PEM file `ca_file`.
pub fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let pem = std::fs::read(ca_file).map_err(|source| TlsError::ReadCaFile {
        path: ca_file.to_path_buf(),
        source,
    })?;
    client_config_from_pem(&pem).map_err(|e| TlsError::CaFile {
        path: ca_file.to_path_buf(),
        source: Box::new(e),
    })
}

/// A client config that trusts exactly the CA certificates in `pem`.
pub fn client_config_from_pem(pem: &[u8]) -> Result<Arc<ClientConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(TlsError::NotPem)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(TlsError::UnusableCa)?;
    }
    with_roots(roots)
}

/// A client config that trusts the system's trust store (what OpenSSL would use:
/// `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the distribution's bundle). Certificates the
/// store holds that rustls cannot use are skipped, as browsers skip them.
pub fn system_client_config() -> Result<Arc<ClientConfig>, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(TlsError::NoSystemRoots { why });
    }
    with_roots(roots)
}

fn with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
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
        let missing = client_config(Path::new("/nonexistent/ca.pem"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    }
}
