//! LDAP connections to the test DC: LDAPS verified against the test CA, TCP_NODELAY
//! (ldap3 leaves Nagle on, which costs ~40 ms per round trip on loopback).

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, StdStream};
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::SambaError;

/// A client TLS config trusting only the test CA (ring provider).
pub fn tls_config(ca_der: &[u8]) -> Result<Arc<ClientConfig>, SambaError> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| SambaError::new(format!("test CA rejected by rustls: {e}")))?;
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| SambaError::new(format!("rustls protocol versions: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opens a connection (`ldaps://ip` or, with `starttls`, `ldap://ip` + StartTLS) and
/// drives it on the current runtime.
pub async fn connect(
    ip: std::net::Ipv4Addr,
    tls: Arc<ClientConfig>,
    starttls: bool,
) -> Result<Ldap, LdapError> {
    let port = if starttls { 389 } else { 636 };
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((ip, port)),
    )
    .await
    .map_err(|_| LdapError::Io {
        source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
    })??;
    stream.set_nodelay(true)?;
    let stream = stream.into_std()?;
    let settings = LdapConnSettings::new()
        .set_config(tls)
        .set_starttls(starttls)
        .set_conn_timeout(Duration::from_secs(5))
        .set_std_stream(StdStream::Tcp(stream));
    let url = if starttls {
        format!("ldap://{ip}:389")
    } else {
        format!("ldaps://{ip}:636")
    };
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// A SID in its binary form (objectSid) as the `S-1-5-21-…` string SDDL uses.
pub fn sid_to_string(sid: &[u8]) -> Option<String> {
    if sid.len() < 8 {
        return None;
    }
    let count = usize::from(sid[1]);
    if sid.len() != 8 + 4 * count {
        return None;
    }
    let authority = sid[2..8]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut text = format!("S-{}-{authority}", sid[0]);
    for chunk in sid[8..].chunks_exact(4) {
        let sub = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        text.push_str(&format!("-{sub}"));
    }
    Some(text)
}

/// `"password"` (quotes included) in UTF-16LE, as AD wants unicodePwd.
pub fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_text() {
        let sid = [
            1u8, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x50, 0xdd, 0x04, 0x41, 0x7a, 0x0c, 0xeb, 0x21,
            0x7e, 0x87, 0x25, 0xda, 0x4e, 0x04, 0, 0,
        ];
        assert_eq!(
            sid_to_string(&sid).as_deref(),
            Some("S-1-5-21-1090837840-569052282-3659892606-1102")
        );
        assert_eq!(sid_to_string(&sid[..10]), None);
    }
}
