//! The TLS checks of one endpoint (a directory, an SMTP server, a webhook receiver):
//! the chain verified against the configured trust, the host name, the protocol
//! version, and the leaf certificate's expiry.
//!
//! The handshake records what the real verifier says instead of stopping at its first
//! complaint, so one run reports every problem (an expired certificate's dates, a wrong
//! name on a trusted chain). Nothing but the handshake is ever sent on this connection:
//! it is closed right after, so accepting an unverified peer here exposes nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use writeback_core::{DoctorOptions, Finding};

/// What is said on the plain connection before the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// TLS from the first byte (ldaps://, https://, SMTPS).
    Immediate,
    /// LDAP StartTLS extended operation (RFC 4511 §4.14).
    LdapStartTls,
    /// SMTP `EHLO` then `STARTTLS` (RFC 3207).
    SmtpStartTls,
}

/// One TLS endpoint to check.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub upgrade: Upgrade,
    /// The PEM file of the CAs to trust; `None` for the system store.
    pub ca_file: Option<PathBuf>,
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// The findings `tls.connect` or `tls.chain`, `tls.hostname`, `tls.protocol`,
/// `tls.expiry`.
pub async fn probe(endpoint: &Endpoint, options: &DoctorOptions) -> Vec<Finding> {
    let at = format!("{}:{}", endpoint.host, endpoint.port);
    let roots = match roots(endpoint.ca_file.as_deref()) {
        Ok(r) => r,
        Err(why) => return vec![Finding::fail("tls.chain", why)],
    };
    let trust = match &endpoint.ca_file {
        Some(f) => format!("the CA file {}", f.display()),
        None => "the system trust store".to_string(),
    };
    match tokio::time::timeout(TIMEOUT, handshake(endpoint, roots)).await {
        Err(_) => vec![Finding::fail(
            "tls.connect",
            format!("{at}: no TLS handshake within {} s", TIMEOUT.as_secs()),
        )
        .with_fix("check that the server runs and that a firewall lets this host reach the port")],
        Ok(Err(why)) => vec![Finding::fail("tls.connect", format!("{at}: {why}"))],
        Ok(Ok(seen)) => judge(&at, &trust, &seen, options),
    }
}

/// What the handshake showed.
pub struct Seen {
    pub chain: Vec<CertificateDer<'static>>,
    pub verified: Result<(), rustls::Error>,
    pub protocol: String,
    pub suite: String,
}

fn judge(at: &str, trust: &str, seen: &Seen, options: &DoctorOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    match &seen.verified {
        Ok(()) => {
            out.push(Finding::ok(
                "tls.chain",
                format!("{at}: chain verified against {trust}"),
            ));
            out.push(Finding::ok(
                "tls.hostname",
                format!("{at}: the certificate names this host"),
            ));
        }
        Err(rustls::Error::InvalidCertificate(e)) if not_valid_for_name(e) => {
            out.push(Finding::ok(
                "tls.chain",
                format!("{at}: chain verified against {trust}"),
            ));
            out.push(
                Finding::fail(
                    "tls.hostname",
                    format!("{at}: the certificate does not name this host ({e:?})"),
                )
                .with_fix(
                    "reissue the certificate with this name (or IP) in its subjectAltName, or \
                     connect by a name it carries",
                ),
            );
        }
        Err(rustls::Error::InvalidCertificate(e)) if expired(e) => out.push(Finding::fail(
            "tls.chain",
            format!("{at}: the chain is trusted by {trust} but a certificate has expired"),
        )),
        Err(e) => out.push(
            Finding::fail(
                "tls.chain",
                format!("{at}: the certificate is not trusted by {trust}: {e}"),
            )
            .with_fix(
                "set `ca_file` to the PEM file of the CA that signed the server's certificate \
                 (and make the server send its intermediates)",
            ),
        ),
    }
    out.push(Finding::ok(
        "tls.protocol",
        format!("{at}: {} with {}", seen.protocol, seen.suite),
    ));
    match seen.chain.first() {
        Some(leaf) => out.push(expiry(at, leaf.as_ref(), options.expiry_warn_days)),
        None => out.push(Finding::fail(
            "tls.expiry",
            format!("{at}: the server sent no certificate"),
        )),
    }
    out
}

fn not_valid_for_name(e: &CertificateError) -> bool {
    matches!(
        e,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
    )
}

fn expired(e: &CertificateError) -> bool {
    matches!(
        e,
        CertificateError::Expired | CertificateError::ExpiredContext { .. }
    )
}

/// `tls.expiry` of one DER certificate: fail when expired or not yet valid, warn within
/// `warn_days` days.
pub fn expiry(at: &str, der: &[u8], warn_days: u32) -> Finding {
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => c,
        Err(e) => {
            return Finding::fail(
                "tls.expiry",
                format!("{at}: the certificate cannot be parsed: {e}"),
            )
        }
    };
    let validity = cert.validity();
    let not_after = validity.not_after.timestamp();
    let not_before = validity.not_before.timestamp();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let subject = cert.subject().to_string();
    let until = validity.not_after.to_string();
    let days = (not_after - now).div_euclid(86_400);
    let renew = "renew the certificate (and reload the server that serves it)";
    if now < not_before {
        Finding::fail(
            "tls.expiry",
            format!(
                "{at}: `{subject}` is not valid before {}",
                validity.not_before
            ),
        )
        .with_fix("check this host's clock, or the certificate's dates")
    } else if now >= not_after {
        Finding::fail(
            "tls.expiry",
            format!("{at}: `{subject}` expired on {until}"),
        )
        .with_fix(renew)
    } else if days < i64::from(warn_days) {
        Finding::warn(
            "tls.expiry",
            format!("{at}: `{subject}` expires in {days} day(s), on {until} (warned within {warn_days})"),
        )
        .with_fix(renew)
    } else {
        Finding::ok(
            "tls.expiry",
            format!("{at}: `{subject}` valid until {until} ({days} days)"),
        )
    }
}

fn roots(ca_file: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
            for cert in rustls_pemfile::certs(&mut &pem[..]) {
                let cert = cert.map_err(|e| format!("CA file {}: not PEM: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA file {}: unusable: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("CA file {} holds no certificate", path.display()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err("the system trust store holds no usable CA certificate".into());
            }
        }
    }
    Ok(Arc::new(roots))
}

/// The chain the server presented, and what the real verifier said of it.
type Presented = (Vec<CertificateDer<'static>>, Result<(), rustls::Error>);

/// Wraps the real verifier: records its verdict and the chain, and lets the handshake
/// finish so the rest can be reported too.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Presented>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((chain, verdict));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

async fn handshake(endpoint: &Endpoint, roots: Arc<RootCertStore>) -> Result<Seen, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let recording = Arc::new(Recording {
        inner,
        seen: Mutex::new(None),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(recording.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(endpoint.host.clone())
        .map_err(|e| format!("`{}` is not a valid host name: {e}", endpoint.host))?;
    let mut tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    match endpoint.upgrade {
        Upgrade::Immediate => {}
        Upgrade::LdapStartTls => ldap_start_tls(&mut tcp).await?,
        Upgrade::SmtpStartTls => smtp_start_tls(&mut tcp).await?,
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let (_, conn) = tls.get_ref();
    let protocol = conn
        .protocol_version()
        .map(|v| format!("{v:?}").replace("TLSv1_", "TLS 1."))
        .unwrap_or_else(|| "unknown".into());
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "unknown".into());
    let _ = tls.shutdown().await;
    let (chain, verified) = recording
        .seen
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or("the server's certificate was never presented")?;
    Ok(Seen {
        chain,
        verified,
        protocol,
        suite,
    })
}

/// The ExtendedRequest for StartTLS (message id 1), and the result code of the answer.
async fn ldap_start_tls(tcp: &mut TcpStream) -> Result<(), String> {
    const OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
    let mut request = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
    request.extend_from_slice(OID);
    tcp.write_all(&request)
        .await
        .map_err(|e| format!("StartTLS request: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    loop {
        let n = tcp
            .read(&mut buf[have..])
            .await
            .map_err(|e| format!("StartTLS answer: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection after StartTLS".into());
        }
        have += n;
        match start_tls_result(&buf[..have]) {
            Some(0) => return Ok(()),
            Some(rc) => return Err(format!("the server refused StartTLS (result {rc})")),
            None if have == buf.len() => return Err("StartTLS answer too long".into()),
            None => continue,
        }
    }
}

/// The resultCode of an LDAP ExtendedResponse, once enough bytes are in.
pub fn start_tls_result(b: &[u8]) -> Option<u8> {
    fn tlv(b: &[u8], at: usize) -> Option<(u8, usize, usize)> {
        let tag = *b.get(at)?;
        let first = *b.get(at + 1)? as usize;
        if first < 0x80 {
            return Some((tag, at + 2, first));
        }
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(at + 2 + i)? as usize;
        }
        Some((tag, at + 2 + n, len))
    }
    let (tag, body, _) = tlv(b, 0)?;
    if tag != 0x30 {
        return None;
    }
    let (_, id_body, id_len) = tlv(b, body)?;
    let (op, op_body, _) = tlv(b, id_body + id_len)?;
    if op != 0x78 {
        return None;
    }
    let (rc_tag, rc_body, _) = tlv(b, op_body)?;
    if rc_tag != 0x0a {
        return None;
    }
    b.get(rc_body).copied()
}

/// Reads an SMTP reply (all its lines) and returns its code.
async fn smtp_reply(tcp: &mut TcpStream) -> Result<u16, String> {
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = tcp
            .read(&mut byte)
            .await
            .map_err(|e| format!("SMTP: {e}"))?;
        if n == 0 {
            return Err("the SMTP server closed the connection".into());
        }
        text.push(byte[0]);
        if text.len() > 64 * 1024 {
            return Err("SMTP reply too long".into());
        }
        if byte[0] == b'\n' {
            let line_start = text[..text.len() - 1]
                .iter()
                .rposition(|b| *b == b'\n')
                .map(|p| p + 1)
                .unwrap_or(0);
            let line = &text[line_start..];
            if line.len() >= 4 && line[3] == b' ' {
                let code = std::str::from_utf8(&line[..3])
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .ok_or("not an SMTP reply")?;
                return Ok(code);
            }
        }
    }
}

async fn smtp_start_tls(tcp: &mut TcpStream) -> Result<(), String> {
    let greeting = smtp_reply(tcp).await?;
    if greeting != 220 {
        return Err(format!("SMTP greeting {greeting}, expected 220"));
    }
    tcp.write_all(b"EHLO writeback-doctor\r\n")
        .await
        .map_err(|e| format!("SMTP: {e}"))?;
    let ehlo = smtp_reply(tcp).await?;
    if ehlo != 250 {
        return Err(format!("EHLO answered {ehlo}"));
    }
    tcp.write_all(b"STARTTLS\r\n")
        .await
        .map_err(|e| format!("SMTP: {e}"))?;
    match smtp_reply(tcp).await? {
        220 => Ok(()),
        code => Err(format!("the SMTP server refused STARTTLS ({code})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_start_tls_result_code() {
        // 30 0c 02 01 01 78 07 0a 01 00 04 00 04 00
        let ok = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ];
        assert_eq!(start_tls_result(&ok), Some(0));
        let mut refused = ok;
        refused[9] = 2;
        assert_eq!(start_tls_result(&refused), Some(2));
        assert_eq!(start_tls_result(&ok[..5]), None);
        assert_eq!(start_tls_result(&[0x30, 0x84, 0xff]), None);
    }

    fn cert_expiring_in(days: i64) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(days);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn expiry_warns_within_the_window_and_fails_when_past() {
        use writeback_core::Verdict;
        assert_eq!(expiry("x", &cert_expiring_in(90), 30).verdict, Verdict::Ok);
        let soon = expiry("x", &cert_expiring_in(10), 30);
        assert_eq!(soon.verdict, Verdict::Warn, "{soon:?}");
        assert!(
            soon.evidence.contains("expires in 9 day")
                || soon.evidence.contains("expires in 10 day"),
            "{soon:?}"
        );
        assert_eq!(
            expiry("x", &cert_expiring_in(-1), 30).verdict,
            Verdict::Fail
        );
        assert_eq!(expiry("x", b"junk", 30).verdict, Verdict::Fail);
    }
}
