//! Test certificates made with rcgen: a CA and a separate server (leaf) certificate
//! signed by it. rustls refuses a CA certificate used as the server's own, so tests
//! need both.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A CA and one server certificate, in PEM.
pub struct TestCerts {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

/// Where [`TestCerts::write_to`] put the files.
pub struct CertFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCerts {
    /// A fresh CA and a server certificate for `names`: IP addresses become IP SANs,
    /// anything else DNS SANs (e.g. `["127.0.0.1", "localhost"]`).
    pub fn generate(names: &[&str]) -> Result<TestCerts, String> {
        let err = |what: &str, e: rcgen::Error| format!("making the test {what} failed: {e}");
        let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", e))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "writeback test CA");
        ca_params.distinguished_name = dn;
        let ca = ca_params.self_signed(&ca_key).map_err(|e| err("CA", e))?;

        let key = KeyPair::generate().map_err(|e| err("server key", e))?;
        let sans: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).map_err(|e| err("server certificate", e))?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        params.distinguished_name = dn;
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .map_err(|e| err("server certificate", e))?;
        Ok(TestCerts {
            ca_pem: ca.pem(),
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
        })
    }

    /// Writes `ca.pem`, `server.pem` and `server.key` (mode 0600) into `dir`.
    pub fn write_to(&self, dir: &Path) -> Result<CertFiles, String> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let files = CertFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        };
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
        };
        write(&files.ca, &self.ca_pem)?;
        write(&files.cert, &self.server_cert_pem)?;
        write(&files.key, &self.server_key_pem)?;
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("chmod {}: {e}", files.key.display()))?;
        Ok(files)
    }
}
