//! The outbound HTTP capability: requests to the URLs the config lists, nothing else. No
//! redirects (a redirect could lead anywhere), bounded bodies, bounded time. Every
//! refusal is logged with the plugin's name and the URL it tried.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use wasmtime::component::{HasData, Linker};

use crate::bindings::notifier::writeback::plugin::http::{self, Header, HttpError, Response};
use crate::call::Call;

const MAX_REQUEST_BODY: usize = 1024 * 1024;
const MAX_RESPONSE_BODY: usize = 64 * 1024;
const MAX_HEADERS: usize = 32;
/// Headers the host sets itself; a plugin may not forge them.
const RESERVED_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

/// The URLs one plugin may POST to, and the client that does it.
#[derive(Debug)]
pub struct HttpGrant {
    allowed: Vec<Url>,
    client: reqwest::Client,
}

impl HttpGrant {
    /// `allowed`: each entry is an exact URL, or a prefix when it ends in `/`.
    /// `roots_pem`: the CA certificates HTTPS servers are checked against.
    pub fn new(allowed: &[String], roots_pem: Option<&[u8]>) -> Result<Self, String> {
        let mut urls = Vec::with_capacity(allowed.len());
        for a in allowed {
            let url = Url::parse(a).map_err(|e| format!("`{a}` is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(format!(
                    "`{a}` must be an http:// or https:// URL with a host"
                ));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(format!(
                    "`{a}` must not carry credentials; send them in a header"
                ));
            }
            urls.push(url);
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .use_rustls_tls()
            .tls_built_in_root_certs(false);
        if let Some(pem) = roots_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("cannot read the CA certificates: {e}"))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpGrant {
            allowed: urls,
            client,
        })
    }

    /// Whether `url` is on the allow-list: same scheme, host and port, and the same
    /// path (or below an allowed prefix ending in `/`). Queries must match exactly
    /// when the allowed URL has one.
    pub fn allows(&self, url: &Url) -> bool {
        self.allowed.iter().any(|a| {
            a.scheme() == url.scheme()
                && a.host_str() == url.host_str()
                && a.port_or_known_default() == url.port_or_known_default()
                && url.username().is_empty()
                && url.password().is_none()
                && if a.path().ends_with('/') && a.query().is_none() {
                    url.path().starts_with(a.path()) && !url.path().contains("/../")
                } else {
                    a.path() == url.path() && a.query() == url.query()
                }
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        headers: Vec<Header>,
        body: Vec<u8>,
        budget: Duration,
    ) -> Result<Response, HttpError> {
        let mut request = self.client.request(method, url).timeout(budget).body(body);
        for h in headers {
            request = request.header(h.name, h.value);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                HttpError::Timeout
            } else {
                HttpError::Failed(e.to_string())
            }
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .take(MAX_HEADERS)
            .filter_map(|(k, v)| {
                v.to_str().ok().map(|v| Header {
                    name: k.as_str().to_string(),
                    value: v.to_string(),
                })
            })
            .collect();
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Failed(e.to_string()))?
        {
            let room = MAX_RESPONSE_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// What the capability keeps per store: the plugin's allow-list (`None` refuses
/// every URL).
#[derive(Default)]
pub(crate) struct HttpState {
    grant: Option<Arc<HttpGrant>>,
}

impl HttpState {
    pub fn new(grant: Option<Arc<HttpGrant>>) -> Self {
        HttpState { grant }
    }
}

/// The capability as one host call sees it: its own state and the current call.
pub(crate) struct HttpView<'a> {
    pub state: &'a mut HttpState,
    pub call: &'a Call,
}

/// The `HasData` projection for [`HttpView`].
struct Http;

impl HasData for Http {
    type Data<'a> = HttpView<'a>;
}

/// Links the `http` interface; `get` projects a store's data onto the capability.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> HttpView<'_>,
) -> wasmtime::Result<()> {
    http::add_to_linker::<T, Http>(linker, get)
}

fn check_request(url: &str, headers: &[Header], body: &[u8]) -> Result<Url, HttpError> {
    let url = Url::parse(url).map_err(|e| HttpError::InvalidRequest(format!("not a URL: {e}")))?;
    if body.len() > MAX_REQUEST_BODY {
        return Err(HttpError::InvalidRequest(format!(
            "the body is over {MAX_REQUEST_BODY} bytes"
        )));
    }
    if headers.len() > MAX_HEADERS {
        return Err(HttpError::InvalidRequest(format!(
            "more than {MAX_HEADERS} headers"
        )));
    }
    for h in headers {
        let name = h.name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(HttpError::InvalidRequest(format!(
                "the header `{}` is set by the host",
                h.name
            )));
        }
        if reqwest::header::HeaderName::from_bytes(h.name.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(&h.value).is_err()
        {
            return Err(HttpError::InvalidRequest(format!(
                "the header `{}` is malformed",
                h.name
            )));
        }
    }
    Ok(url)
}

impl http::Host for HttpView<'_> {
    async fn post(
        &mut self,
        url: String,
        headers: Vec<Header>,
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        self.send(http::Method::Post, url, headers, body).await
    }

    async fn send(
        &mut self,
        method: http::Method,
        url: String,
        headers: Vec<Header>,
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        let method = match method {
            http::Method::Get => reqwest::Method::GET,
            http::Method::Post => reqwest::Method::POST,
            http::Method::Put => reqwest::Method::PUT,
            http::Method::Patch => reqwest::Method::PATCH,
            http::Method::Delete => reqwest::Method::DELETE,
        };
        let plugin = self.call.plugin.clone();
        let shown = crate::fault::clip(url.clone(), 256);
        let parsed = match check_request(&url, &headers, &body) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(plugin = %plugin, url = %shown, error = ?e, "WASM plugin HTTP request refused: malformed");
                return Err(e);
            }
        };
        let Some(grant) = self.state.grant.clone().filter(|g| g.allows(&parsed)) else {
            tracing::warn!(
                plugin = %plugin,
                url = %shown,
                "WASM plugin HTTP request refused: the URL is not in the plugin's `allow_http` list"
            );
            return Err(HttpError::NotAllowed(format!(
                "{shown} is not in this plugin's allow_http list"
            )));
        };
        // The guest's clock is stopped while the host waits: bound the wait by the
        // call's own deadline.
        let budget = self.call.budget();
        if budget.is_zero() {
            return Err(HttpError::Timeout);
        }
        let shown_method = method.to_string();
        let result = grant.send(method, parsed, headers, body, budget).await;
        match &result {
            Ok(r) => {
                tracing::debug!(plugin = %plugin, method = %shown_method, url = %shown, status = r.status, "WASM plugin HTTP request")
            }
            Err(e) => {
                tracing::info!(plugin = %plugin, method = %shown_method, url = %shown, error = ?e, "WASM plugin HTTP request failed")
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(urls: &[&str]) -> HttpGrant {
        let urls: Vec<String> = urls.iter().map(|s| s.to_string()).collect();
        HttpGrant::new(&urls, None).unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn exact_urls_and_prefixes() {
        let g = grant(&[
            "https://chat.example/hooks/abc",
            "http://127.0.0.1:8080/api/",
        ]);
        assert!(g.allows(&url("https://chat.example/hooks/abc")));
        assert!(g.allows(&url("https://chat.example:443/hooks/abc")));
        assert!(!g.allows(&url("https://chat.example/hooks/abcd")));
        assert!(!g.allows(&url("https://chat.example/hooks/abc?x=1")));
        assert!(!g.allows(&url("http://chat.example/hooks/abc")));
        assert!(!g.allows(&url("https://chat.example.evil/hooks/abc")));
        assert!(g.allows(&url("http://127.0.0.1:8080/api/v1/x")));
        assert!(!g.allows(&url("http://127.0.0.1:8081/api/v1/x")));
        assert!(!g.allows(&url("http://127.0.0.1:8080/apix")));
        assert!(!g.allows(&url("http://user@127.0.0.1:8080/api/x")));
    }

    #[test]
    fn grant_refuses_bad_entries() {
        assert!(HttpGrant::new(&["ftp://x/".into()], None).is_err());
        assert!(HttpGrant::new(&["https://u:p@x/".into()], None).is_err());
        assert!(HttpGrant::new(&["not a url".into()], None).is_err());
    }

    #[test]
    fn reserved_headers_are_refused() {
        let h = vec![Header {
            name: "Host".into(),
            value: "evil".into(),
        }];
        assert!(check_request("http://x/", &h, b"").is_err());
        assert!(check_request("http://x/", &[], &vec![0; MAX_REQUEST_BODY + 1]).is_err());
    }
}
