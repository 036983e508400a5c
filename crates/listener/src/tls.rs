//! The HTTPS side: a rustls server config (ring provider) from PEM files.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Why the HTTPS side could not be set up. Each message names the file and what is
/// wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a PEM certificate file: {source}", path.display())]
    NotPemCertificates {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no `BEGIN CERTIFICATE` block", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{} is not a PEM key file: {source}", path.display())]
    NotPemKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no private key (PKCS#8, PKCS#1 or SEC1 PEM)", path.display())]
    NoKey { path: PathBuf },
    #[error("TLS setup failed: {0}")]
    Setup(rustls::Error),
    #[error("the key in {} does not fit the certificate in {}: {source}", key_file.display(), cert_file.display())]
    KeyMismatch {
        key_file: PathBuf,
        cert_file: PathBuf,
        source: rustls::Error,
    },
}

/// Loads the certificate chain and key and builds the TLS config (HTTP/1.1 via ALPN).
/// Errors say which file and what is wrong with it.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(cert_file)?;
    let key = read_key(key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::KeyMismatch {
            key_file: key_file.to_path_buf(),
            cert_file: cert_file.to_path_buf(),
            source,
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// [`server_config`] as the acceptor [`crate::Listener::bind`] takes.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    server_config(cert_file, key_file).map(tokio_rustls::TlsAcceptor::from)
}

fn open(path: &Path) -> Result<BufReader<File>, TlsError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| TlsError::Unreadable {
            path: path.to_path_buf(),
            source,
        })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::NotPemCertificates {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|source| TlsError::NotPemKey {
            path: path.to_path_buf(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let missing = server_config(&cert, &key).unwrap_err().to_string();
        assert!(missing.contains("cert.pem"), "{missing}");
        std::fs::write(&cert, "not pem").unwrap();
        let empty = server_config(&cert, &key).unwrap_err().to_string();
        assert!(
            empty.contains("cert.pem") && empty.contains("BEGIN CERTIFICATE"),
            "{empty}"
        );
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, "").unwrap();
        let no_key = server_config(&cert, &key).unwrap_err().to_string();
        assert_eq!(
            no_key,
            format!(
                "{} holds no private key (PKCS#8, PKCS#1 or SEC1 PEM)",
                key.display()
            )
        );
        std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
        let config = server_config(&cert, &key).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
