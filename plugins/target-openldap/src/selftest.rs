//! The self-test's look at how slapd stores a password written with a plain modify:
//! without `olcPPolicyHashCleartext: TRUE` on the ppolicy overlay, the userPassword of a
//! must-change reset (and of every reset with `use_password_modify_exop = false`) is
//! stored in clear text. Only cn=config says so, and a service account usually may not
//! read it: then the check reports "unknown" with the reason rather than guessing (it
//! writes nothing to find out).

use writeback_core::HealthCheck;
use writeback_ldap::ldap3::{Scope, SearchEntry};
use writeback_ldap::{LdapFailure, Session};

/// The check's name in `check-config --connect` and `/health`.
pub const CHECK: &str = "ppolicy hashing";

/// Reads the database and ppolicy overlay entries of cn=config and judges them.
pub async fn hash_cleartext(session: &mut Session, base_dn: &str) -> HealthCheck {
    let found = session
        .search(
            "cn=config",
            Scope::Subtree,
            "(|(objectClass=olcDatabaseConfig)(objectClass=olcPPolicyConfig))",
            &["objectClass", "olcSuffix", "olcPPolicyHashCleartext"],
            500,
        )
        .await;
    match found {
        Ok(found) => judge(&found.entries, base_dn),
        Err(f) => unknown(&match &f {
            LdapFailure::Directory { reply, .. } => format!(
                "the service account cannot read cn=config (result {} {})",
                reply.rc,
                writeback_ldap::result_code_name(reply.rc)
            ),
            other => format!("reading cn=config failed: {other}"),
        }),
    }
}

/// The verdict from what cn=config showed.
pub fn judge(entries: &[SearchEntry], base_dn: &str) -> HealthCheck {
    // The database holding base_dn: the one with the longest suffix above it.
    let database = entries
        .iter()
        .flat_map(|e| values(e, "olcSuffix").iter().map(move |s| (e, s)))
        .filter(|(_, suffix)| writeback_ldap::dn::is_within(base_dn, suffix).unwrap_or(false))
        .max_by_key(|(_, suffix)| suffix.len())
        .map(|(e, _)| e);
    let Some(database) = database else {
        return unknown(
            "the service account sees no database entry in cn=config for base_dn \
             (cn=config is usually readable only by its administrator)",
        );
    };
    let below = format!(",{}", database.dn.to_ascii_lowercase());
    let overlay = entries.iter().find(|e| {
        e.dn.to_ascii_lowercase().ends_with(&below)
            && values(e, "objectClass")
                .iter()
                .any(|c| c.eq_ignore_ascii_case("olcPPolicyConfig"))
    });
    let Some(overlay) = overlay else {
        return HealthCheck::fail(
            CHECK,
            format!(
                "no ppolicy overlay on {} (the database holding base_dn): add it, with \
                 olcPPolicyHashCleartext: TRUE",
                database.dn
            ),
        );
    };
    let hashes = values(overlay, "olcPPolicyHashCleartext")
        .iter()
        .any(|v| v.eq_ignore_ascii_case("TRUE"));
    if hashes {
        HealthCheck::pass(
            CHECK,
            format!(
                "olcPPolicyHashCleartext: TRUE on {}: passwords written in clear are hashed",
                overlay.dn
            ),
        )
    } else {
        HealthCheck::fail(
            CHECK,
            format!(
                "olcPPolicyHashCleartext is not TRUE on {}: a reset with must_change (or any \
                 reset with use_password_modify_exop = false) stores the new userPassword in \
                 clear text; set olcPPolicyHashCleartext: TRUE",
                overlay.dn
            ),
        )
    }
}

/// Passes (nothing is known to be wrong) but says it could not check, and why.
fn unknown(reason: &str) -> HealthCheck {
    HealthCheck::pass(
        CHECK,
        format!(
            "unknown: {reason}; make sure the ppolicy overlay has olcPPolicyHashCleartext: \
             TRUE, or a must-change reset stores userPassword in clear text"
        ),
    )
}

fn values<'e>(entry: &'e SearchEntry, name: &str) -> &'e [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> SearchEntry {
        SearchEntry {
            dn: dn.into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect::<HashMap<_, _>>(),
            bin_attrs: HashMap::new(),
        }
    }

    const DB: &str = "olcDatabase={1}mdb,cn=config";
    const OTHER: &str = "olcDatabase={2}mdb,cn=config";

    fn tree(hash: &str) -> Vec<SearchEntry> {
        vec![
            entry(DB, &[("olcSuffix", &["dc=example,dc=org"])]),
            entry(OTHER, &[("olcSuffix", &["dc=other"])]),
            entry(
                &format!("olcOverlay={{0}}ppolicy,{OTHER}"),
                &[
                    ("objectClass", &["olcPPolicyConfig"]),
                    ("olcPPolicyHashCleartext", &["TRUE"]),
                ],
            ),
            entry(
                &format!("olcOverlay={{0}}ppolicy,{DB}"),
                &[
                    ("objectClass", &["olcOverlayConfig", "olcPPolicyConfig"]),
                    ("olcPPolicyHashCleartext", &[hash]),
                ],
            ),
        ]
    }

    #[test]
    fn judges_the_overlay_of_the_database_holding_base_dn() {
        let base = "ou=people,dc=example,dc=org";
        let c = judge(&tree("TRUE"), base);
        assert!(c.ok && c.detail.contains("olcDatabase={1}mdb"), "{c:?}");
        let c = judge(&tree("FALSE"), base);
        assert!(!c.ok && c.detail.contains("clear text"), "{c:?}");
        let c = judge(&tree("FALSE")[..3], base);
        assert!(!c.ok && c.detail.contains("no ppolicy overlay"), "{c:?}");
        let c = judge(&[], base);
        assert!(c.ok && c.detail.starts_with("unknown:"), "{c:?}");
    }
}
