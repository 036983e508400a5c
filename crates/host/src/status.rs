//! The status page (`/status` on the admin listener): one read-only HTML page for the
//! operator's browser or phone — version, targets and their last self-test, outcomes
//! by code, request rate and latency, outbox depth and dead letters, audit alarm,
//! certificate expiries. Plain HTML and inline CSS, no script, no external asset.
//! Counts only: no identity, DN or request id is ever on it. Served to loopback
//! clients, or to anyone with the token when `[admin] status_token_file` is set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use writeback_core::HealthCheck;

use crate::metrics::Metrics;

/// What the page shows that does not come from the metrics.
#[derive(Clone, Debug, Default)]
pub struct StatusSources {
    /// (what, file): certificates whose expiry the page shows.
    pub certs: Vec<(String, PathBuf)>,
    /// The outbox's SQLite file, when there is an `[outbox]`.
    pub outbox: Option<PathBuf>,
}

impl StatusSources {
    /// The certificate files a config names: sources' `tls.cert_file`, targets'
    /// `ca_file`, made absolute against the config file's folder.
    pub fn from_config(config: &crate::Config) -> StatusSources {
        let base = config.base_dir();
        let abs = |p: &str| {
            let p = PathBuf::from(p);
            if p.is_relative() {
                base.join(p)
            } else {
                p
            }
        };
        let mut certs = Vec::new();
        for c in &config.sources {
            if let Some(file) = c
                .table
                .get("tls")
                .and_then(|t| t.get("cert_file"))
                .and_then(|f| f.as_str())
            {
                certs.push((format!("source {} (server certificate)", c.name), abs(file)));
            }
        }
        for c in &config.targets {
            if let Some(file) = c.table.get("ca_file").and_then(|f| f.as_str()) {
                certs.push((format!("target {} (CA)", c.name), abs(file)));
            }
        }
        let outbox = crate::notify::outbox_config(config)
            .ok()
            .flatten()
            .map(|o| o.path);
        StatusSources { certs, outbox }
    }
}

/// Everything on the page, gathered before rendering.
pub struct Snapshot<'a> {
    pub version: &'a str,
    pub started: Instant,
    pub targets: &'a [(String, Vec<HealthCheck>)],
    pub last_check: Option<&'a str>,
    pub metrics: &'a Metrics,
    pub sources: &'a StatusSources,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Days until a PEM certificate file's first certificate expires, or why not known.
pub fn cert_days_left(path: &Path) -> Result<(i64, String), String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let der = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .ok_or("no certificate in the file")?
        .map_err(|e| format!("not PEM: {e}"))?;
    let not_after = not_after(der.as_ref()).ok_or("cannot read its validity")?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let date = time::OffsetDateTime::from_unix_timestamp(not_after)
        .map(|t| t.date().to_string())
        .unwrap_or_default();
    Ok(((not_after - now).div_euclid(86_400), date))
}

/// One DER element: (tag, content, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// notAfter of an X.509 certificate, as Unix seconds.
fn not_after(cert: &[u8]) -> Option<i64> {
    let (_, cert, _) = der(cert)?;
    let (_, mut tbs, _) = der(cert)?;
    // [0] version (optional), serial, signature algorithm, issuer, then validity.
    if tbs.first() == Some(&0xa0) {
        tbs = der(tbs)?.2;
    }
    for _ in 0..3 {
        tbs = der(tbs)?.2;
    }
    let (_, validity, _) = der(tbs)?;
    let (_, _, rest) = der(validity)?;
    let (tag, time, _) = der(rest)?;
    let text = std::str::from_utf8(time).ok()?.trim_end_matches('Z');
    let (year, rest) = match tag {
        0x17 => {
            let yy: i32 = text.get(0..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(0..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let n = |r: std::ops::Range<usize>| rest.get(r).and_then(|s| s.parse::<u8>().ok());
    let month = time::Month::try_from(n(0..2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, n(2..4)?).ok()?;
    let at = date
        .with_hms(n(4..6)?, n(6..8)?, n(8..10).unwrap_or(0))
        .ok()?;
    Some(at.assume_utc().unix_timestamp())
}

fn outbox_counts(path: &Path) -> Result<BTreeMap<&'static str, u64>, String> {
    let store = writeback_outbox::Store::open(path, writeback_outbox::SyncMode::Normal)
        .map_err(|e| e.to_string())?;
    let mut counts = BTreeMap::from([("pending", 0), ("delivered", 0), ("dead", 0)]);
    for (state, n) in store.counts().map_err(|e| e.to_string())? {
        let key = match state {
            writeback_outbox::RowState::Pending => "pending",
            writeback_outbox::RowState::Delivered => "delivered",
            writeback_outbox::RowState::Dead => "dead",
        };
        counts.insert(key, n);
    }
    Ok(counts)
}

const STYLE: &str = "body{font:16px/1.4 system-ui,sans-serif;margin:0;padding:12px;\
background:#f6f7f9;color:#1c1e21}h1{font-size:1.3em;margin:0 0 4px}\
h2{font-size:1.05em;margin:18px 0 6px}section{background:#fff;border-radius:8px;\
padding:10px 12px;margin:10px 0;box-shadow:0 1px 2px #0002}table{border-collapse:collapse;\
width:100%}td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #e4e6eb;\
vertical-align:top;overflow-wrap:anywhere}td.n{text-align:right;font-variant-numeric:\
tabular-nums}.ok{color:#1a7f37}.bad{color:#c62828;font-weight:600}.warn{color:#b26a00;\
font-weight:600}.muted{color:#65676b;font-size:.9em}\
#targets td:nth-child(-n+2),#targets th{white-space:nowrap}@media(min-width:720px){body{\
max-width:900px;margin:auto}}";

/// Requests per minute since start. Within the first minute the window is that minute,
/// so the figure is the count so far instead of zero (or a wild extrapolation).
fn rate_per_minute(count: u64, up: std::time::Duration) -> f64 {
    count as f64 * 60.0 / up.as_secs_f64().max(60.0)
}

/// The whole page.
pub fn render(s: &Snapshot<'_>) -> String {
    let mut h = String::new();
    let up = s.started.elapsed().as_secs();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"30\"><title>writeback status</title>\
         <style>{STYLE}</style></head><body><h1>writeback status</h1>\
         <div class=\"muted\">version <span id=\"version\">{}</span> · up \
         <span id=\"uptime\">{}</span> · refreshes every 30 s</div>",
        esc(s.version),
        human_duration(up)
    );

    // Targets and their last self-test.
    let _ = write!(
        h,
        "<section id=\"targets\"><h2>Targets</h2><div class=\"muted\">last self-test: {}</div>\
         <table><tr><th>target</th><th>state</th><th>checks</th></tr>",
        esc(s.last_check.unwrap_or("not run yet"))
    );
    if s.targets.is_empty() {
        h.push_str("<tr><td colspan=\"3\" class=\"muted\">no self-test yet</td></tr>");
    }
    for (name, checks) in s.targets {
        let ok = checks.iter().all(|c| c.ok);
        let _ = write!(
            h,
            "<tr data-target=\"{0}\"><td>{0}</td><td class=\"{1}\">{2}</td><td>",
            esc(name),
            if ok { "ok" } else { "bad" },
            if ok { "ok" } else { "failing" }
        );
        for c in checks {
            let _ = write!(
                h,
                "<div><span class=\"{}\">{}</span> {}: {}</div>",
                if c.ok { "ok" } else { "bad" },
                if c.ok { "✓" } else { "✗" },
                esc(&c.check),
                esc(&c.detail)
            );
        }
        h.push_str("</td></tr>");
    }
    h.push_str("</table></section>");

    // Requests.
    let outcomes = s.metrics.outcome_counts();
    let (count, mean, p50, p99) = s.metrics.latency_summary();
    let per_min = rate_per_minute(count, s.started.elapsed());
    let ms = |v: Option<f64>| match v {
        Some(v) if v.is_finite() => format!("≤ {}", v * 1000.0),
        Some(_) => "> 10000".to_string(),
        None => "–".to_string(),
    };
    let _ = write!(
        h,
        "<section id=\"requests\"><h2>Requests since start</h2><table>\
         <tr><td>finished</td><td class=\"n\" id=\"requests-total\">{count}</td></tr>\
         <tr><td>rate per minute</td><td class=\"n\" id=\"rate\">{per_min:.1}</td></tr>\
         <tr><td>mean latency, ms</td><td class=\"n\" id=\"latency-mean\">{}</td></tr>\
         <tr><td>p50 latency, ms</td><td class=\"n\" id=\"latency-p50\">{}</td></tr>\
         <tr><td>p99 latency, ms</td><td class=\"n\" id=\"latency-p99\">{}</td></tr>\
         <tr><td>in flight</td><td class=\"n\" id=\"in-flight\">{}</td></tr></table>\
         <h2>Outcomes by code</h2><table>",
        mean.map(|m| format!("{:.1}", m * 1000.0))
            .unwrap_or_else(|| "–".into()),
        ms(p50),
        ms(p99),
        s.metrics
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    if outcomes.is_empty() {
        h.push_str("<tr><td class=\"muted\">none yet</td></tr>");
    }
    for (code, n) in &outcomes {
        let class = if *code == "succeeded" { "ok" } else { "" };
        let _ = write!(
            h,
            "<tr><td class=\"{class}\">{code}</td><td class=\"n\" id=\"outcome-{code}\">{n}</td></tr>"
        );
    }
    h.push_str("</table></section>");

    // Outbox and audit.
    h.push_str("<section id=\"delivery\"><h2>Notifications and audit</h2><table>");
    match &s.sources.outbox {
        None => {
            h.push_str("<tr><td>outbox</td><td class=\"muted\">none (direct delivery)</td></tr>")
        }
        Some(path) => match outbox_counts(path) {
            Ok(c) => {
                let dead = c.get("dead").copied().unwrap_or(0);
                let _ = write!(
                    h,
                    "<tr><td>outbox pending</td><td class=\"n\" id=\"outbox-pending\">{}</td></tr>\
                     <tr><td>dead letters</td><td class=\"n {}\" id=\"outbox-dead\">{dead}</td></tr>",
                    c.get("pending").copied().unwrap_or(0),
                    if dead > 0 { "bad" } else { "" }
                );
            }
            Err(e) => {
                let _ = write!(
                    h,
                    "<tr><td>outbox</td><td class=\"bad\">cannot read: {}</td></tr>",
                    esc(&e)
                );
            }
        },
    }
    match s.metrics.audit_health.alarm() {
        None => h.push_str("<tr><td>audit</td><td class=\"ok\" id=\"audit\">ok</td></tr>"),
        Some(alarm) => {
            let _ = write!(
                h,
                "<tr><td>audit</td><td class=\"bad\" id=\"audit\">{}</td></tr>",
                esc(&alarm)
            );
        }
    }
    let _ = write!(
        h,
        "<tr><td>audit records dropped</td><td class=\"n\" id=\"audit-dropped\">{}</td></tr>\
         </table></section>",
        s.metrics
            .audit_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    );

    // Certificates.
    h.push_str(
        "<section id=\"certificates\"><h2>Certificates</h2><table>\
         <tr><th>what</th><th>expires</th><th>days left</th></tr>",
    );
    if s.sources.certs.is_empty() {
        h.push_str("<tr><td colspan=\"3\" class=\"muted\">none configured</td></tr>");
    }
    for (what, path) in &s.sources.certs {
        match cert_days_left(path) {
            Ok((days, date)) => {
                let class = if days < 0 {
                    "bad"
                } else if days < 30 {
                    "warn"
                } else {
                    "ok"
                };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{date}</td><td class=\"n {class}\" data-days>{days}</td></tr>",
                    esc(what)
                );
            }
            Err(e) => {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td colspan=\"2\" class=\"bad\">{}</td></tr>",
                    esc(what),
                    esc(&e)
                );
            }
        }
    }
    h.push_str(
        "</table></section><div class=\"muted\">Counts only: no names or request ids are \
         shown here; they are in the audit log.</div></body></html>",
    );
    h
}

fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// Compares without leaking where a guessed token first differs.
pub fn token_matches(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_it_shows() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_rate_in_the_first_second_is_the_count_so_far() {
        use std::time::Duration;
        assert_eq!(rate_per_minute(2, Duration::from_millis(300)), 2.0);
        assert_eq!(rate_per_minute(2, Duration::from_secs(59)), 2.0);
        assert_eq!(rate_per_minute(30, Duration::from_secs(600)), 3.0);
    }

    #[test]
    fn token_compare() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
    }

    #[test]
    fn reads_not_after_of_utc_and_generalized_times() {
        // A minimal TBS: version, serial, alg, issuer, validity(UTCTime, GeneralizedTime).
        let validity = [
            &[0x30u8, 0x20][..],
            &[0x17, 0x0d],
            b"250101000000Z",
            &[0x18, 0x0f],
            b"20300102030405Z",
        ]
        .concat();
        let tbs_body = [
            &[0xa0u8, 0x03, 0x02, 0x01, 0x02][..],
            &[0x02, 0x01, 0x01],
            &[0x30, 0x00],
            &[0x30, 0x00],
            &validity,
        ]
        .concat();
        let mut tbs = vec![0x30, tbs_body.len() as u8];
        tbs.extend_from_slice(&tbs_body);
        let mut cert = vec![0x30, tbs.len() as u8];
        cert.extend_from_slice(&tbs);
        assert_eq!(not_after(&cert), Some(1_893_553_445));
    }
}
