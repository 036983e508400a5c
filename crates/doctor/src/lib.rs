//! `writeback doctor`: every read-only check an operator needs before going live and
//! every day after, per part (host, each source, target and notifier), each with a
//! verdict, the evidence and the exact fix. See docs/doctor.md.
//!
//! The generic checks live here (TLS of every endpoint the config names, paths, disk,
//! sources); what only a connector knows (AD rights, OpenLDAP ACLs, SMTP login) comes
//! from its `doctor()` method, in the same [`Finding`] model.

pub mod local;
pub mod report;
pub mod tls;

use std::path::{Path, PathBuf};

use writeback_core::{BuildContext, ConnectorConfig, DoctorOptions, Finding};
use writeback_host::secrets::EnvAndFileSecrets;
use writeback_host::{Config, Host, HostOptions, Registry};

pub use report::{Report, Section};
pub use tls::{Endpoint, Upgrade};

fn part(kind: &str, c: &ConnectorConfig) -> String {
    format!("{kind} {} ({})", c.name, c.type_name)
}

/// Runs every check of a loaded config and returns the report. Never writes to a
/// directory and never sends a notification.
pub async fn examine(
    config: Config,
    registry: &Registry,
    host_options: HostOptions,
    options: &DoctorOptions,
) -> Report {
    let mut report = Report::default();
    let base_dir = config.base_dir();
    let ctx = BuildContext {
        secrets: &EnvAndFileSecrets,
        base_dir: &base_dir,
    };

    let mut host = Vec::new();
    if let Some(audit) = &config.audit.path {
        host.extend(local::writable("audit", &ctx.path(audit)));
    } else {
        host.push(
            Finding::warn(
                "paths.audit",
                "no [audit] path: audit records go to the log only",
            )
            .with_fix("add `[audit] path = \"/var/lib/writeback/audit.jsonl\"`"),
        );
    }
    if let Some(path) = config
        .extra
        .get("outbox")
        .and_then(|o| o.get("path"))
        .and_then(|p| p.as_str())
    {
        host.extend(local::writable("outbox", &ctx.path(Path::new(path))));
    }
    report.add("host", host);

    for c in &config.sources {
        report.add(part("source", c), local::source(c, &ctx, options));
    }
    for c in &config.targets {
        if let Some(endpoint) = directory_endpoint(c, &ctx) {
            report.add(part("target", c), tls::probe(&endpoint, options).await);
        }
    }
    for (c, _) in &config.notifiers {
        if let Some(endpoint) = notifier_endpoint(c, &ctx) {
            report.add(part("notifier", c), tls::probe(&endpoint, options).await);
        } else if let Some(url) = c.table.get("url").and_then(|v| v.as_str()) {
            report.add(part("notifier", c), vec![reachable(url).await]);
        }
    }

    // Notifiers are built on their own: the host hands its notifiers to the dispatcher.
    for (c, _) in &config.notifiers {
        let Some(factory) = registry.notifier(&c.type_name) else {
            continue;
        };
        match factory.build(c, &ctx).await {
            Ok(notifier) => report.add(part("notifier", c), notifier.doctor(options).await),
            Err(e) => report.add(
                part("notifier", c),
                vec![Finding::fail("build", e.to_string())],
            ),
        }
    }

    let targets = config.targets.clone();
    match Host::build_with(config, registry, host_options).await {
        Ok(built) => {
            for (entry, c) in built.targets().iter().zip(&targets) {
                report.add(part("target", c), entry.target.doctor(options).await);
            }
        }
        Err(e) => report.add(
            "host",
            vec![
                Finding::fail("build", format!("the engine cannot start: {e}"))
                    .with_fix("run `writeback check-config FILE` and fix what it names"),
            ],
        ),
    }
    report
}

/// `reachable`: a TCP connection to a plain-HTTP endpoint opens (nothing is sent).
async fn reachable(url: &str) -> Finding {
    let Some((host, port)) = host_port(url, 80) else {
        return Finding::fail("reachable", format!("`{url}` has no host"));
    };
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(_)) => Finding::ok(
            "reachable",
            format!("{host}:{port} accepts connections (plain HTTP; nothing was sent)"),
        ),
        Ok(Err(e)) => Finding::fail("reachable", format!("{host}:{port}: {e}"))
            .with_fix("check that the receiver runs and that a firewall lets this host reach it"),
        Err(_) => Finding::fail("reachable", format!("{host}:{port}: no answer within 10 s"))
            .with_fix("check that the receiver runs and that a firewall lets this host reach it"),
    }
}

/// host and port of a URL such as `ldaps://dc.example.org:636` (IPv6 in brackets).
fn host_port(url: &str, default_port: u16) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map(|(_, a)| a)
        .unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_string(), port.unwrap_or(default_port)));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default_port)),
    }
}

fn ca_file(c: &ConnectorConfig, ctx: &BuildContext<'_>) -> Option<PathBuf> {
    c.table
        .get("ca_file")
        .and_then(|v| v.as_str())
        .map(|p| ctx.path(Path::new(p)))
}

/// The TLS endpoint of an LDAP directory target (`url`, `starttls`, `ca_file`).
pub fn directory_endpoint(c: &ConnectorConfig, ctx: &BuildContext<'_>) -> Option<Endpoint> {
    let url = c.table.get("url")?.as_str()?;
    let starttls = c.table.get("starttls").and_then(|v| v.as_bool()) == Some(true);
    let upgrade = if url.starts_with("ldaps://") {
        Upgrade::Immediate
    } else if url.starts_with("ldap://") && starttls {
        Upgrade::LdapStartTls
    } else {
        return None;
    };
    let (host, port) = host_port(
        url,
        if upgrade == Upgrade::Immediate {
            636
        } else {
            389
        },
    )?;
    Some(Endpoint {
        host,
        port,
        upgrade,
        ca_file: ca_file(c, ctx),
    })
}

/// The TLS endpoint of a notifier: an https `url` (webhook), or an SMTP `host` with
/// `tls = "starttls"` (the default) or `"tls"`.
pub fn notifier_endpoint(c: &ConnectorConfig, ctx: &BuildContext<'_>) -> Option<Endpoint> {
    if let Some(url) = c.table.get("url").and_then(|v| v.as_str()) {
        if !url.starts_with("https://") {
            return None;
        }
        let (host, port) = host_port(url, 443)?;
        return Some(Endpoint {
            host,
            port,
            upgrade: Upgrade::Immediate,
            ca_file: ca_file(c, ctx),
        });
    }
    let host = c.table.get("host")?.as_str()?.to_string();
    let mode = c
        .table
        .get("tls")
        .and_then(|v| v.as_str())
        .unwrap_or("starttls");
    let (upgrade, default_port) = match mode {
        "starttls" => (Upgrade::SmtpStartTls, 587),
        "tls" => (Upgrade::Immediate, 465),
        _ => return None,
    };
    let port = c
        .table
        .get("port")
        .and_then(|v| v.as_integer())
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(default_port);
    Some(Endpoint {
        host,
        port,
        upgrade,
        ca_file: ca_file(c, ctx),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_receivers_are_checked_for_reachability() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/hook");
        assert_eq!(reachable(&url).await.verdict, writeback_core::Verdict::Ok);
        drop(listener);
        let closed = reachable(&url).await;
        assert_eq!(closed.verdict, writeback_core::Verdict::Fail, "{closed:?}");
        assert!(closed.evidence.contains(&port.to_string()), "{closed:?}");
    }

    #[test]
    fn host_and_port_from_urls() {
        assert_eq!(
            host_port("ldaps://dc.example.org", 636),
            Some(("dc.example.org".into(), 636))
        );
        assert_eq!(
            host_port("ldap://127.0.0.2:3890/", 389),
            Some(("127.0.0.2".into(), 3890))
        );
        assert_eq!(
            host_port("https://u@h:8443/x?y", 443),
            Some(("h".into(), 8443))
        );
        assert_eq!(host_port("https://[::1]:9/", 443), Some(("::1".into(), 9)));
        assert_eq!(host_port("nope", 1), None);
    }
}
