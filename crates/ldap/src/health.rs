//! The checks every LDAP target's self-test starts with: the server answers, TLS is
//! verified, the service account binds, and the base DN is visible to it.

use ldap3::Scope;
use writeback_core::{HealthCheck, Password};

use crate::connect::{Connector, Security};
use crate::error::LdapFailure;
use crate::session::Session;

/// Runs connect, tls, bind and `read base_dn`. Returns the bound session once the
/// bind passed, so the caller can go on with its own checks.
pub async fn connection_checks(
    connector: &Connector,
    bind_dn: &str,
    password: &Password,
    base_dn: &str,
    checks: &mut Vec<HealthCheck>,
) -> Option<Session> {
    let server = connector.server().to_string();
    let mut session = match connector.connect().await {
        Ok(s) => {
            checks.push(HealthCheck::pass("connect", format!("{server} answers")));
            let trust = connector.trust().describe();
            let tls = match connector.security() {
                Security::Ldaps => format!("LDAPS, certificate verified against {trust}"),
                Security::StartTls => format!("StartTLS, certificate verified against {trust}"),
                Security::Plain => {
                    "NO TLS: plain LDAP allowed by allow_plaintext (passwords travel in clear)"
                        .to_string()
                }
            };
            checks.push(HealthCheck {
                check: "tls".into(),
                ok: connector.security() != Security::Plain,
                detail: tls,
            });
            s
        }
        Err(f @ LdapFailure::Tls { .. }) => {
            checks.push(HealthCheck::pass(
                "connect",
                format!("{server} accepts TCP"),
            ));
            checks.push(HealthCheck::fail("tls", f.to_string()));
            return None;
        }
        Err(f) => {
            checks.push(HealthCheck::fail("connect", f.to_string()));
            return None;
        }
    };
    match session.bind(bind_dn, password).await {
        Ok(_) => checks.push(HealthCheck::pass("bind", format!("bound as {bind_dn}"))),
        Err(f) => {
            checks.push(HealthCheck::fail("bind", format!("bind as {bind_dn}: {f}")));
            return None;
        }
    }
    match session
        .search(base_dn, Scope::Base, "(objectClass=*)", &["1.1"], 1)
        .await
    {
        Ok(found) if found.entries.len() == 1 => checks.push(HealthCheck::pass(
            "read base_dn",
            format!("{base_dn} is readable"),
        )),
        Ok(_) => checks.push(HealthCheck::fail(
            "read base_dn",
            format!("{base_dn} is not visible to {bind_dn}"),
        )),
        Err(f) => checks.push(HealthCheck::fail("read base_dn", f.to_string())),
    }
    Some(session)
}
