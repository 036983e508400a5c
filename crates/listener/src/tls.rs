//! The HTTPS side: a rustls server config (ring provider) from PEM files.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Loads the certificate chain and key and builds the TLS config (HTTP/1.1 via ALPN).
/// Errors say which file and what is wrong with it.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs = read_certs(cert_file)?;
    let key = read_key(key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "the key in {} does not fit the certificate in {}: {e}",
                key_file.display(),
                cert_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// [`server_config`] as the acceptor [`crate::Listener::bind`] takes.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    server_config(cert_file, key_file).map(tokio_rustls::TlsAcceptor::from)
}

fn open(path: &Path) -> Result<BufReader<File>, String> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no `BEGIN CERTIFICATE` block",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|e| format!("{} is not a PEM key file: {e}", path.display()))?
        .ok_or_else(|| {
            format!(
                "{} holds no private key (PKCS#8, PKCS#1 or SEC1 PEM)",
                path.display()
            )
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
        let missing = server_config(&cert, &key).unwrap_err();
        assert!(missing.contains("cert.pem"), "{missing}");
        std::fs::write(&cert, "not pem").unwrap();
        let empty = server_config(&cert, &key).unwrap_err();
        assert!(
            empty.contains("cert.pem") && empty.contains("BEGIN CERTIFICATE"),
            "{empty}"
        );
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, "").unwrap();
        let no_key = server_config(&cert, &key).unwrap_err();
        assert!(no_key.contains("key.pem"), "{no_key}");
        std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
        let config = server_config(&cert, &key).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
