//! `check-config --connect` / health: TLS, the service account's bind, the rootDSE,
//! the search base, and a read-only look at what the service account may do.

use writeback_core::HealthCheck;
use writeback_ldap::ldap3::Scope;

use crate::errors;
use crate::target::ActiveDirectoryTarget;

pub async fn run(target: &ActiveDirectoryTarget) -> Vec<HealthCheck> {
    let mut checks = Vec::new();
    let config = target.config();
    let connector = target.pool().connector();
    match connector.connect().await {
        Ok(session) => {
            checks.push(HealthCheck::pass(
                "tls",
                format!(
                    "{} answered; certificate verified against {}",
                    connector.server(),
                    connector.trust().describe()
                ),
            ));
            session.unbind().await;
        }
        Err(f) => {
            checks.push(HealthCheck::fail("tls", f.to_string()));
            return checks;
        }
    }
    match target.pool().get().await {
        Ok(_) => checks.push(HealthCheck::pass(
            "bind",
            format!("bound as {}", config.server.bind_dn),
        )),
        Err(f) => {
            let outcome = errors::service_bind_outcome(&f, &config.server.bind_dn);
            checks.push(HealthCheck::fail(
                "bind",
                outcome.admin_detail.unwrap_or_else(|| f.to_string()),
            ));
            return checks;
        }
    }
    match target.root_dse().await {
        Ok(root) => {
            let hints = match root.policy_hints_oid() {
                Some(oid) => format!("resets send LDAP_SERVER_POLICY_HINTS ({oid}): history applies to them"),
                None => "the DC does not support LDAP_SERVER_POLICY_HINTS: resets skip the history check \
                         (as an administrator's reset does)"
                    .to_string(),
            };
            checks.push(HealthCheck::pass("policy_hints", hints));
        }
        Err(o) => checks.push(HealthCheck::fail(
            "root_dse",
            o.admin_detail.unwrap_or(o.message),
        )),
    }
    match target.pool().get().await {
        Ok(mut pooled) => {
            match pooled
                .search(
                    &config.base_dn,
                    Scope::Base,
                    "(objectClass=*)",
                    &["distinguishedName"],
                    0,
                )
                .await
            {
                Ok(found) if !found.entries.is_empty() => checks.push(HealthCheck::pass(
                    "base_dn",
                    format!("{} is readable", config.base_dn),
                )),
                Ok(_) => checks.push(HealthCheck::fail(
                    "base_dn",
                    format!(
                        "{} returned nothing: check base_dn and the service account's read access",
                        config.base_dn
                    ),
                )),
                Err(f) => checks.push(HealthCheck::fail("base_dn", f.to_string())),
            }
            checks.push(crate::probe::permissions(&mut pooled, config).await);
        }
        Err(f) => checks.push(HealthCheck::fail("base_dn", f.to_string())),
    }
    checks
}
