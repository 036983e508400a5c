//! The one rule for plain HTTP: passwords arrive over TLS, unless the listener is on a
//! loopback address or the config says in so many words that a TLS-terminating proxy
//! is in front.

use std::net::SocketAddr;

/// How a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tls,
    /// Plain HTTP on a loopback address (tests, a proxy on the same host).
    PlainLoopback,
    /// Plain HTTP because the config says a TLS-terminating proxy is in front.
    PlainBehindProxy,
}

/// What the config says about plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    /// Not at all: TLS files are required.
    Never,
    /// Plain HTTP when there are no TLS files, on a loopback address only.
    OnLoopback,
    /// Plain HTTP on any address: the config says a TLS-terminating proxy is in front.
    BehindProxy,
}

/// Why a transport was refused; the connector words it with its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// TLS files and a plain-HTTP setting both given.
    Both,
    /// Plain HTTP on loopback only, but the address is not loopback.
    NotLoopback,
    /// No TLS files, and plain HTTP not allowed.
    NeedsTls,
}

impl Transport {
    /// Applies the rule to a listener's settings.
    pub fn choose(has_tls: bool, plain: PlainHttp, listen: SocketAddr) -> Result<Self, Refusal> {
        let loopback = listen.ip().is_loopback();
        match (has_tls, plain) {
            (true, PlainHttp::Never) => Ok(Transport::Tls),
            (true, _) => Err(Refusal::Both),
            (false, PlainHttp::BehindProxy) => Ok(Transport::PlainBehindProxy),
            (false, PlainHttp::OnLoopback) if loopback => Ok(Transport::PlainLoopback),
            (false, PlainHttp::OnLoopback) => Err(Refusal::NotLoopback),
            (false, PlainHttp::Never) => Err(Refusal::NeedsTls),
        }
    }

    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tls => "https",
            _ => "http",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback_or_behind_a_declared_proxy() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        use PlainHttp::*;
        use Refusal::*;
        let cases = [
            (true, Never, any, Ok(Transport::Tls)),
            (false, OnLoopback, lo, Ok(Transport::PlainLoopback)),
            (false, OnLoopback, v6, Ok(Transport::PlainLoopback)),
            (false, Never, lo, Err(NeedsTls)),
            (false, OnLoopback, any, Err(NotLoopback)),
            (false, BehindProxy, any, Ok(Transport::PlainBehindProxy)),
            (true, BehindProxy, lo, Err(Both)),
            (true, OnLoopback, lo, Err(Both)),
        ];
        for (tls, plain, listen, expected) in cases {
            assert_eq!(
                Transport::choose(tls, plain, listen),
                expected,
                "{tls} {plain:?} {listen}"
            );
        }
    }
}
