//! The admin listener's status page in a real headless Chromium: an engine on the real
//! slapd serves two requests (one written, one refused by policy), and the test reads
//! the figures a person would read off the page; the token keeps others out.

use std::time::Duration;

use writeback_core::{OutcomeCode, Password};
use writeback_source_webhook::client::RequestBody;
use writeback_testkit::browser::{Browser, BrowserOptions};
use writeback_testkit::slapd;
use writeback_tests::engine::write_secret;
use writeback_tests::Engine;

use crate::support::*;

const TOKEN: &str = "status-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_figures() {
    let s = slapd::shared();
    let uid = s.unique_uid("stat");
    s.add_user(&uid, "Initial-Pass-1", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let [admin] =
        writeback_testkit::process::free_ports::<1>("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
    let e = Engine::start(|dir| {
        let token = write_secret(dir, "status-token", TOKEN);
        format!(
            "[admin]\nlisten = \"127.0.0.1:{admin}\"\nstatus_token_file = \"{}\"\n\n{}{}",
            token.display(),
            openldap_target(s, dir, "ldap", BY_UID),
            BASIC_POLICY
        )
    })
    .await;
    let a = e
        .send(&RequestBody::reset(
            "status-1",
            by_uid(&uid),
            Password::new("Qz7-Brick-Lamp%x"),
            false,
        ))
        .await;
    expect(&a, OutcomeCode::Succeeded, 200);
    let a = e
        .send(&RequestBody::reset(
            "status-2",
            by_uid(&uid),
            Password::new("short"),
            false,
        ))
        .await;
    assert_eq!(a.reply.outcome, OutcomeCode::RejectedPolicy);

    // Without the token the page is refused, even from loopback.
    let url = format!("http://127.0.0.1:{admin}/status");
    let plain = reqwest::get(&url).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain.status().as_u16(), 403);
    let body = plain.text().await.unwrap_or_default();
    assert!(body.contains("status_token_file"), "{body}");

    // A phone-sized window.
    let browser = Browser::start(BrowserOptions {
        window: (390, 1400),
        javascript: false,
        ..BrowserOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // The first self-test runs at start; wait until the page shows it.
    let mut state = String::new();
    for _ in 0..50 {
        browser
            .goto(&format!("{url}?token={TOKEN}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        state = browser
            .text("tr[data-target=ldap] td:nth-child(2)")
            .await
            .unwrap_or_default();
        if !state.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(state, "ok", "target ldap's self-test on the page");
    let text = |css: &'static str| {
        let browser = &browser;
        async move {
            browser
                .text(css)
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"))
        }
    };
    assert_eq!(text("#version").await, env!("CARGO_PKG_VERSION"));
    assert_eq!(text("#requests-total").await, "2");
    assert_eq!(text("#outcome-succeeded").await, "1");
    assert_eq!(text("#outcome-rejected_policy").await, "1");
    let rate: f64 = text("#rate").await.parse().unwrap_or(-1.0);
    assert!(rate > 0.0, "rate per minute {rate}");
    assert!(text("#latency-p50").await.starts_with('≤'));
    assert_eq!(text("#audit").await, "ok");
    assert!(text("#delivery").await.contains("direct delivery"));
    // The webhook source's certificate and the target's CA, each with days left.
    let certs = text("#certificates").await;
    assert!(
        certs.contains("source") && certs.contains("target ldap (CA)"),
        "{certs}"
    );
    let days: i64 = text("#certificates td[data-days]")
        .await
        .parse()
        .unwrap_or(-1);
    assert!(days >= 0, "days left on the first certificate: {days}");
    // Counts only: no user name or request id on the page.
    let source = browser.page_source().await.unwrap_or_default();
    assert!(
        !source.contains(&uid) && !source.contains("status-1"),
        "identities shown"
    );
    assert!(!source.contains("Brick-Lamp"), "a password on the page");
    // No external asset: nothing is loaded from anywhere but the page itself.
    assert!(
        !source.contains("src=") && !source.contains("<link"),
        "{source}"
    );

    let dir = std::env::var("WRITEBACK_SCREENSHOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| e.dir.path().to_path_buf());
    browser
        .screenshot(&dir.join("status-page.png"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    e.stop().await.unwrap_or_else(|e| panic!("{e}"));
}
