//! Checks per second of each built-in policy, beside a baseline measured in the same
//! run (one SHA-1 of the candidate: the least work a breached-password check can do).
//!
//! ```text
//! cargo bench -p writeback-policy-breached --bench policies
//! ```
// Test code: a failed step stops the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use writeback_breached_filter::BreachedFilter;
use writeback_core::{Account, CloudIdentity, PolicyContext};
use writeback_policy_ad_complexity::AdComplexityConfig;
use writeback_policy_banned_words::normalize::Normalizer;
use writeback_policy_banned_words::{BannedWordsConfig, BannedWordsPolicy};
use writeback_policy_basic::BasicConfig;
use writeback_policy_breached::BreachedPolicy;
use writeback_policy_support::TargetScope;

const CHECKS: usize = 300_000;

fn candidates() -> Vec<String> {
    let words = [
        "Winter",
        "summer",
        "P@ssw0rd",
        "Contoso",
        "dragon",
        "Monkey",
        "letmein",
        "tr0ub4dor",
    ];
    (0..10_000)
        .map(|i| {
            format!(
                "{}{}{}!{}",
                words[i % words.len()],
                i * 7919 % 10_000,
                words[(i / 8) % words.len()],
                i % 97
            )
        })
        .collect()
}

fn rate(name: &str, candidates: &[String], mut check: impl FnMut(&str) -> usize) -> (String, f64) {
    // warm up
    for c in candidates.iter().take(1000) {
        black_box(check(c));
    }
    let started = Instant::now();
    let mut broken = 0usize;
    for i in 0..CHECKS {
        broken += black_box(check(&candidates[i % candidates.len()]));
    }
    let secs = started.elapsed().as_secs_f64();
    black_box(broken);
    (name.to_string(), CHECKS as f64 / secs)
}

fn banned(terms: usize) -> BannedWordsPolicy {
    let mut config: BannedWordsConfig = toml::from_str("").unwrap_or_else(|e| panic!("{e}"));
    config.targets = TargetScope::default();
    let n = Normalizer::default();
    let mut list: Vec<Vec<char>> = [
        "contoso", "winter", "summer", "password", "dragon", "monkey", "letmein",
    ]
    .iter()
    .map(|t| n.normalize(t))
    .collect();
    // synthetic terms of 5-10 letters, deterministic
    let mut x = 0x2545_f491_4f6c_dd1du64;
    while list.len() < terms {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 5 + (x % 6) as usize;
        list.push(
            (0..len)
                .map(|k| (b'a' + ((x >> (k * 5)) % 26) as u8) as char)
                .collect(),
        );
    }
    BannedWordsPolicy::new(config, n, list)
}

fn breached_filter(dir: &std::path::Path, n: usize) -> BreachedFilter {
    let mut text = String::with_capacity(n * 46);
    for i in 0..n {
        let d = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            format!("leaked-{i}").as_bytes(),
        );
        for b in d.as_ref() {
            let _ = write!(text, "{b:02X}");
        }
        text.push_str(":3\r\n");
    }
    let input = dir.join("pwned.txt");
    let output = dir.join("pwned.bin");
    std::fs::write(&input, text).unwrap_or_else(|e| panic!("{e}"));
    writeback_breached_filter::build(&input, &output, 1, false).unwrap_or_else(|e| panic!("{e}"));
    BreachedFilter::open(&output, true).unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    let candidates = candidates();
    let identity = CloudIdentity {
        upn: Some("erin.hagens@example.org".into()),
        display_name: Some("Erin M. Hagens".into()),
        given_name: Some("Erin".into()),
        surname: Some("Hagens".into()),
        ..Default::default()
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("samaccountname".to_string(), vec!["ehagens".to_string()]);
    attributes.insert(
        "displayname".to_string(),
        vec!["Erin M. Hagens".to_string()],
    );
    let accounts = vec![(
        "ad".to_string(),
        Account {
            dn: "CN=Erin M. Hagens,OU=Staff,DC=example,DC=test".into(),
            id: None,
            attributes,
        },
    )];
    let ctx = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity: &identity,
        accounts: &accounts,
    };

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let filter_size = 1_000_000;
    let breached = BreachedPolicy::new(
        breached_filter(dir.path(), filter_size),
        TargetScope::default(),
    );
    let basic = BasicConfig {
        min_length: 12,
        min_categories: 3,
        ..Default::default()
    };
    let ad = AdComplexityConfig {
        min_length: 7,
        check_names: true,
        targets: TargetScope::default(),
    };
    let banned_1k = banned(1_000);
    let banned_100k = banned(100_000);

    let rows = vec![
        rate("baseline: SHA-1 of the candidate", &candidates, |p| {
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, p.as_bytes()).as_ref()[0]
                as usize
        }),
        rate("basic (length, 3 of 4 classes, names)", &candidates, |p| {
            writeback_policy_basic::evaluate(&basic, p, &ctx).len()
        }),
        rate(
            "ad-complexity (3 of 5, sAMAccountName, displayName)",
            &candidates,
            |p| writeback_policy_ad_complexity::evaluate(&ad, p, &ctx).len(),
        ),
        rate(
            "banned-words, 1,000 terms + name tokens",
            &candidates,
            |p| banned_1k.check(p, &ctx).len(),
        ),
        rate(
            "banned-words, 100,000 terms + name tokens",
            &candidates,
            |p| banned_100k.check(p, &ctx).len(),
        ),
        rate(
            &format!("breached, {filter_size} hashes (SHA-1 + filter)"),
            &candidates,
            |p| breached.check(p).len(),
        ),
    ];
    let base = rows[0].1;
    println!();
    println!("| policy | checks/s | µs/check | time vs baseline |");
    println!("|---|---|---|---|");
    for (name, r) in &rows {
        println!("| {name} | {:.0} | {:.2} | {:.1}× |", r, 1e6 / r, base / r);
    }
    println!("\n({CHECKS} checks each, one thread, 10,000 distinct candidates; release build)");
}
