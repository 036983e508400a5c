//! A real headless Chromium for tests that drive a web page as a person would: Debian's
//! `chromium` under its `chromedriver`, spoken to over W3C WebDriver (plain JSON over
//! HTTP on loopback, with the reqwest the workspace already has; no WebDriver crate).
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use writeback_testkit::browser::{Browser, BrowserOptions};
//! let browser = Browser::start(BrowserOptions::default()).await?;
//! browser.goto("https://127.0.0.1:8443/").await?;
//! browser.fill("#password", "…").await?;
//! browser.click("button[type=submit]").await?;
//! let text = browser.wait_for_text("#result", "succeeded").await?;
//! browser.screenshot(std::path::Path::new("page.png")).await?;
//! # Ok(()) }
//! ```
//!
//! Each [`Browser`] has its own chromedriver process (on a free port), its own browser
//! profile in a temp dir (so no cookies leak between tests) and dies with the test
//! binary. Install with `.ci/setup.d/browser.sh`; when the driver is missing the error
//! says so and the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::process::{free_ports, spawn_tied, stop_child};

/// The driver the test kit runs (`$WRITEBACK_TEST_CHROMEDRIVER` overrides).
pub const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The browser the driver starts (`$WRITEBACK_TEST_CHROMIUM` overrides).
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// The WebDriver key for an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long the `wait_*` helpers poll before they give up.
pub const WAIT: Duration = Duration::from_secs(15);

/// How the browser is set up.
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    /// JavaScript on (the default) or off, to prove a page works without it.
    pub javascript: bool,
    /// The Accept-Language the browser sends (`"de"`, `"en-GB,en"`); `None`: English.
    pub language: Option<String>,
    /// Window size in CSS pixels, which is also the screenshot size.
    pub window: (u32, u32),
    /// Accept certificates no system CA vouches for (the test kit's own CA).
    pub accept_insecure_certs: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            javascript: true,
            language: None,
            window: (1000, 800),
            accept_insecure_certs: true,
        }
    }
}

/// One element found on the page (valid until the page changes).
#[derive(Clone, Debug)]
pub struct Element {
    id: String,
}

/// A running headless Chromium with one WebDriver session.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Mutex<Option<Child>>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a browser session.
    pub async fn start(options: BrowserOptions) -> Result<Browser, String> {
        let driver_path = std::env::var("WRITEBACK_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| DEFAULT_CHROMEDRIVER.to_string());
        let chromium = std::env::var("WRITEBACK_TEST_CHROMIUM")
            .unwrap_or_else(|_| DEFAULT_CHROMIUM.to_string());
        for (what, path) in [("chromedriver", &driver_path), ("chromium", &chromium)] {
            if !Path::new(path).exists() {
                return Err(format!(
                    "{what} is not installed at {path}: run `bash .ci/setup.d/browser.sh` \
                     (Debian's chromium and chromium-driver)"
                ));
            }
        }
        let profile = tempfile::tempdir().map_err(|e| format!("browser profile dir: {e}"))?;
        let [port] = free_ports::<1>("127.0.0.1").map_err(|e| format!("free port: {e}"))?;
        let log = std::fs::File::create(profile.path().join("chromedriver.log"))
            .map_err(|e| format!("chromedriver log: {e}"))?;
        let mut command = Command::new(&driver_path);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = spawn_tied(command).map_err(|e| format!("cannot start {driver_path}: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            http,
            base,
            session: String::new(),
            driver: Mutex::new(Some(child)),
            _profile: profile,
        };
        browser.wait_ready().await?;
        browser.session = browser.new_session(&chromium, &options).await?;
        Ok(browser)
    }

    async fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = self.http.get(format!("{}/status", self.base)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"].as_bool() == Some(true) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "chromedriver did not answer on {} within 15 s; its log: {}",
                    self.base,
                    self.driver_log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn new_session(
        &self,
        chromium: &str,
        options: &BrowserOptions,
    ) -> Result<String, String> {
        let (w, h) = options.window;
        let mut args = vec![
            "--headless=new".to_string(),
            // Root in a container has no user namespace sandbox to give.
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--no-first-run".to_string(),
            "--hide-scrollbars".to_string(),
            format!("--window-size={w},{h}"),
            format!(
                "--user-data-dir={}",
                self._profile.path().join("chrome").display()
            ),
        ];
        let mut prefs = serde_json::Map::new();
        if let Some(lang) = &options.language {
            args.push(format!("--lang={lang}"));
            prefs.insert("intl.accept_languages".into(), json!(lang));
        }
        if !options.javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        let body = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "acceptInsecureCerts": options.accept_insecure_certs,
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": args,
                        "prefs": Value::Object(prefs),
                    }
                }
            }
        });
        let value = self
            .call(reqwest::Method::POST, "/session", Some(body))
            .await?;
        value["sessionId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("chromedriver gave no session id: {value}"))
    }

    /// The driver's log (why the browser would not start), for error messages.
    pub fn driver_log(&self) -> String {
        let text = std::fs::read_to_string(self._profile.path().join("chromedriver.log"))
            .unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// One WebDriver command; returns its `value`, or the driver's error in words.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            request = request.json(&b);
        } else if method == reqwest::Method::POST {
            request = request.json(&json!({}));
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("WebDriver {method} {path}: {e}"))?;
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .map_err(|e| format!("WebDriver {method} {path}: unreadable answer: {e}"))?;
        let value = value.get("value").cloned().unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!(
                "WebDriver {method} {path}: {} ({})",
                value["error"].as_str().unwrap_or("error"),
                value["message"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ));
        }
        Ok(value)
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.call(
            reqwest::Method::POST,
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        )
        .await
        .map(|_| ())
    }

    /// The address of the page shown now.
    pub async fn current_url(&self) -> Result<String, String> {
        let v = self
            .call(reqwest::Method::GET, &self.session_path("/url"), None)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The page's HTML as it is now.
    pub async fn page_source(&self) -> Result<String, String> {
        let v = self
            .call(reqwest::Method::GET, &self.session_path("/source"), None)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element, String> {
        let v = self
            .call(
                reqwest::Method::POST,
                &self.session_path("/element"),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
            .map_err(|e| format!("no element `{css}` on the page: {e}"))?;
        element_of(&v).ok_or_else(|| format!("no element `{css}` on the page"))
    }

    /// Every element matching a CSS selector (maybe none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, String> {
        let v = self
            .call(
                reqwest::Method::POST,
                &self.session_path("/elements"),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(element_of).collect())
            .unwrap_or_default())
    }

    /// Clears the field matching `css` and types `text` into it, key by key (so the
    /// page's input events fire as for a person).
    pub async fn fill(&self, css: &str, text: &str) -> Result<(), String> {
        let e = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &self.session_path(&format!("/element/{}/clear", e.id)),
            None,
        )
        .await?;
        self.call(
            reqwest::Method::POST,
            &self.session_path(&format!("/element/{}/value", e.id)),
            Some(json!({ "text": text })),
        )
        .await
        .map(|_| ())
    }

    /// Clicks the element matching `css` (and waits for a navigation it starts).
    pub async fn click(&self, css: &str) -> Result<(), String> {
        let e = self.find(css).await?;
        self.call(
            reqwest::Method::POST,
            &self.session_path(&format!("/element/{}/click", e.id)),
            None,
        )
        .await
        .map(|_| ())
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String, String> {
        let e = self.find(css).await?;
        self.element_text(&e).await
    }

    /// The visible text of an element.
    pub async fn element_text(&self, e: &Element) -> Result<String, String> {
        let v = self
            .call(
                reqwest::Method::GET,
                &self.session_path(&format!("/element/{}/text", e.id)),
                None,
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// An attribute of the element matching `css` (`None` when it has none).
    pub async fn attribute(&self, css: &str, name: &str) -> Result<Option<String>, String> {
        let e = self.find(css).await?;
        let v = self
            .call(
                reqwest::Method::GET,
                &self.session_path(&format!("/element/{}/attribute/{name}", e.id)),
                None,
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Runs a script in the page and returns its result (JavaScript must be on).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Waits until the element matching `css` exists and its text contains `needle`;
    /// returns the text. The error shows what the page said instead.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> Result<String, String> {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        loop {
            if let Ok(text) = self.text(css).await {
                if text.contains(needle) {
                    return Ok(text);
                }
                last = text;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "`{css}` did not show {needle:?} within {} s; it showed {last:?} (page {})",
                    WAIT.as_secs(),
                    self.current_url().await.unwrap_or_default()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matching `css` exists.
    pub async fn wait_for(&self, css: &str) -> Result<Element, String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(e) = self.find(css).await {
                return Ok(e);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no `{css}` within {} s on {}",
                    WAIT.as_secs(),
                    self.current_url().await.unwrap_or_default()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The cookies the browser holds for the page shown now, as (name, value, JSON).
    pub async fn cookies(&self) -> Result<Vec<Value>, String> {
        let v = self
            .call(reqwest::Method::GET, &self.session_path("/cookie"), None)
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Saves a PNG screenshot of the window to `path` (directories made as needed).
    pub async fn screenshot(&self, path: &Path) -> Result<PathBuf, String> {
        let v = self
            .call(
                reqwest::Method::GET,
                &self.session_path("/screenshot"),
                None,
            )
            .await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot is not base64: {e}"))?;
        if !png.starts_with(b"\x89PNG") {
            return Err("the screenshot is not a PNG".into());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path.to_path_buf())
    }
}

fn element_of(v: &Value) -> Option<Element> {
    v.get(ELEMENT_KEY)
        .and_then(Value::as_str)
        .map(|id| Element { id: id.to_string() })
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes the browser (the driver's children are not tied to
        // the test binary); then the driver stops. Best effort, with a short timeout.
        if !self.session.is_empty() {
            let addr = self.base.trim_start_matches("http://").to_string();
            let path = format!("/session/{}", self.session);
            let _ = std::thread::spawn(move || blocking_delete(&addr, &path)).join();
        }
        let mut guard = self.driver.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            stop_child(&mut child, Duration::from_secs(2));
        }
    }
}

/// `DELETE path` over plain HTTP/1.1 without an async runtime (for `Drop`).
fn blocking_delete(addr: &str, path: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|_| std::io::Error::other("bad driver address"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 512];
    let _ = s.read(&mut buf)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A page served from a loopback TCP socket: the browser opens it, types into a
    /// field, clicks, reads the text a script wrote, and takes a screenshot.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drives_a_real_page() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let accept_language = request
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("accept-language:"))
                    .map(|l| l[16..].trim().to_string())
                    .unwrap_or_default();
                let body = format!(
                    "<!doctype html><html><head><title>t</title></head><body>\
                     <p id=lang>{accept_language}</p>\
                     <label for=name>Name</label><input id=name>\
                     <button id=go onclick=\"document.getElementById('out').textContent = \
                     'hello ' + document.getElementById('name').value\">Go</button>\
                     <p id=out>nothing yet</p></body></html>"
                );
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let browser = Browser::start(BrowserOptions {
            language: Some("de".into()),
            ..Default::default()
        })
        .await
        .unwrap();
        browser.goto(&format!("http://{addr}/")).await.unwrap();
        assert!(browser.text("#lang").await.unwrap().starts_with("de"));
        browser.fill("#name", "Ada").await.unwrap();
        browser.click("#go").await.unwrap();
        assert_eq!(
            browser.wait_for_text("#out", "hello").await.unwrap(),
            "hello Ada"
        );
        let dir = tempfile::tempdir().unwrap();
        let png = browser
            .screenshot(&dir.path().join("shot.png"))
            .await
            .unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
        assert!(browser.find("#absent").await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn javascript_can_be_switched_off() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = "<!doctype html><p id=out>no script</p>\
                            <script>document.getElementById('out').textContent='script ran'</script>";
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let off = Browser::start(BrowserOptions {
            javascript: false,
            ..Default::default()
        })
        .await
        .unwrap();
        off.goto(&format!("http://{addr}/")).await.unwrap();
        assert_eq!(off.text("#out").await.unwrap(), "no script");
        drop(off);
        let on = Browser::start(BrowserOptions::default()).await.unwrap();
        on.goto(&format!("http://{addr}/")).await.unwrap();
        assert_eq!(on.text("#out").await.unwrap(), "script ran");
    }
}
