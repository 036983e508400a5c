//! The listener keys every HTTP source's table has (`listen`, `tls`, `plain_http`),
//! read the same way everywhere. Errors name the key and say what to write; each
//! connector turns them into its own config error (this crate knows no writeback type).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::transport::{PlainHttp, Refusal, Transport};

/// The only words that allow plain HTTP on a non-loopback address.
pub const PLAIN_HTTP_BEHIND_PROXY: &str = "behind-tls-proxy";

/// `tls = { cert_file = "...", key_file = "..." }`: PEM files, relative to the config.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A listener key that is wrong: which one, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct SettingError {
    pub key: &'static str,
    pub message: String,
}

fn wrong(key: &'static str, message: impl Into<String>) -> SettingError {
    SettingError {
        key,
        message: message.into(),
    }
}

/// The `listen` value as an address.
pub fn listen_address(listen: &str) -> Result<SocketAddr, SettingError> {
    listen.parse().map_err(|_| {
        wrong(
            "listen",
            format!("`{listen}` is not an IP address and port; write e.g. \"0.0.0.0:8443\""),
        )
    })
}

/// How the listener speaks, from whether `tls` is given and what `plain_http` says:
/// plain HTTP only on loopback or behind a declared TLS proxy.
pub fn transport(
    has_tls: bool,
    plain_http: Option<&str>,
    listen: SocketAddr,
) -> Result<Transport, SettingError> {
    let plain = match plain_http {
        None if has_tls => PlainHttp::Never,
        None => PlainHttp::OnLoopback,
        Some(PLAIN_HTTP_BEHIND_PROXY) => PlainHttp::BehindProxy,
        Some(other) => {
            return Err(wrong(
                "plain_http",
                format!(
                    "`{other}` is not understood; the only value is \"{PLAIN_HTTP_BEHIND_PROXY}\""
                ),
            ))
        }
    };
    Transport::choose(has_tls, plain, listen).map_err(|refusal| match refusal {
        Refusal::Both => wrong(
            "plain_http",
            "both `tls` and `plain_http` are set: keep `tls` to serve HTTPS, or remove it to serve plain HTTP",
        ),
        Refusal::NeedsTls | Refusal::NotLoopback => wrong(
            "tls",
            format!(
                "passwords must arrive over TLS: give `tls = {{ cert_file = \"...\", key_file = \"...\" }}`, \
                 or set plain_http = \"{PLAIN_HTTP_BEHIND_PROXY}\" when a TLS-terminating proxy is in front, \
                 or listen on a loopback address"
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_the_key_to_change() {
        let any: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        assert_eq!(transport(true, None, any), Ok(Transport::Tls));
        assert_eq!(transport(false, None, lo), Ok(Transport::PlainLoopback));
        assert_eq!(
            transport(false, Some(PLAIN_HTTP_BEHIND_PROXY), any),
            Ok(Transport::PlainBehindProxy)
        );
        assert_eq!(transport(false, None, any).unwrap_err().key, "tls");
        assert_eq!(
            transport(false, Some("yes"), any).unwrap_err().key,
            "plain_http"
        );
        assert_eq!(
            transport(true, Some(PLAIN_HTTP_BEHIND_PROXY), any)
                .unwrap_err()
                .key,
            "plain_http"
        );
        assert_eq!(listen_address("8443").unwrap_err().key, "listen");
        assert_eq!(
            listen_address("[::1]:8443"),
            Ok("[::1]:8443".parse().unwrap())
        );
    }
}
