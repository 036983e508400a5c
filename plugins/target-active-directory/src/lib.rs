//! Directory target `active-directory`: Active Directory and Samba AD.
//!
//! * reset: `unicodePwd` replaced with the quoted UTF-16LE password, in one modify with
//!   `pwdLastSet: 0` (must change) and `lockoutTime: 0` (`unlock_on_reset`), and with
//!   LDAP_SERVER_POLICY_HINTS when the DC supports it (history then applies);
//! * change: one modify deleting the old value and adding the new one, so AD checks the
//!   old password, history and minimum age;
//! * unlock: `lockoutTime: 0`.
//!
//! LDAPS or StartTLS only. Accounts are matched by configurable rules (UPN, mail,
//! sAMAccountName, proxyAddresses, objectGUID / mS-DS-ConsistencyGuid from a base64
//! immutable id), escaped, exactly one match. Protected accounts are refused by default.
//! AD's diagnostics are mapped to outcome codes in [`errors`]. See docs/active-directory.md.

pub mod account;
pub mod acl;
pub mod config;
pub mod doctor;
pub mod errors;
mod expiry;
pub mod guid;
pub mod matching;
pub mod probe;
pub mod protected;
pub mod rootdse;
mod selftest;
pub mod target;
mod verify;

use std::sync::Arc;

use async_trait::async_trait;
use writeback_core::{BuildContext, ConfigError, ConnectorConfig, DirectoryTarget, TypedFactory};

pub use config::AdConfig;
pub use target::ActiveDirectoryTarget;

/// `"password"` (quotes included) in UTF-16LE, as AD wants `unicodePwd`. Characters
/// outside the BMP become surrogate pairs. Wiped when dropped; the capacity is enough
/// for any input (at most two UTF-16 bytes per UTF-8 byte), so it never reallocates and
/// leaves no copy behind.
pub fn unicode_pwd(password: &str) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(2 * password.len() + 4));
    let mut buf = [0u16; 2];
    for c in std::iter::once('"')
        .chain(password.chars())
        .chain(std::iter::once('"'))
    {
        for unit in c.encode_utf16(&mut buf).iter() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
    }
    zeroize::Zeroize::zeroize(&mut buf);
    out
}

/// Builds `active-directory` targets.
pub struct ActiveDirectoryFactory;

impl ActiveDirectoryFactory {
    pub const TYPE_NAME: &'static str = "active-directory";

    /// The target itself (for embedding and tests that need more than the trait).
    pub async fn build_target(
        &self,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<ActiveDirectoryTarget, ConfigError> {
        let parsed = AdConfig::from_connector(config)?;
        self.build_from_config(parsed, config, ctx).await
    }

    /// The target from a table already parsed and checked.
    async fn build_from_config(
        &self,
        parsed: AdConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<ActiveDirectoryTarget, ConfigError> {
        let server = parsed.server.open(&config::RULES, config, "", ctx)?;
        Ok(ActiveDirectoryTarget::new(
            config.name.clone(),
            parsed,
            server.pool,
        ))
    }
}

#[async_trait]
impl TypedFactory<dyn DirectoryTarget> for ActiveDirectoryFactory {
    type Config = AdConfig;
    const TYPE_NAME: &'static str = ActiveDirectoryFactory::TYPE_NAME;
    const DESCRIPTION: &'static str = "Active Directory / Samba AD: unicodePwd over LDAPS or StartTLS, AD error mapping, protected accounts refused";

    fn parse(&self, config: &ConnectorConfig) -> Result<AdConfig, Vec<ConfigError>> {
        writeback_ldap::server::parse_connector(config, &config::RULES)
    }

    fn check(&self, typed: &AdConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        typed.check(config)
    }

    async fn build_from(
        &self,
        typed: AdConfig,
        config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        Ok(Arc::new(self.build_from_config(typed, config, ctx).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_pwd_is_quoted_utf16le_with_surrogates() {
        assert_eq!(*unicode_pwd("ab"), vec![b'"', 0, b'a', 0, b'b', 0, b'"', 0]);
        // U+1F600 → D83D DE00
        assert_eq!(
            *unicode_pwd("😀"),
            vec![b'"', 0, 0x3d, 0xd8, 0x00, 0xde, b'"', 0]
        );
        assert_eq!(*unicode_pwd("é"), vec![b'"', 0, 0xe9, 0, b'"', 0]);
    }
}
