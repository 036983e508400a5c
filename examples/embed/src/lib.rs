//! A directory target written by an integrator: accounts in a JSON file, passwords
//! stored as salted PBKDF2 hashes. It shows the whole plugin contract in one file:
//! a config type, a `TypedFactory` (parse once, check, build from the parsed value)
//! and the `DirectoryTarget` trait.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use writeback_core::{
    Account, BuildContext, CloudIdentity, ConfigError, ConnectorConfig, DirectoryTarget,
    HealthCheck, Operation, Outcome, OutcomeCode, Password, TypedFactory,
};

/// `[[targets]] type = "json-file"`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTargetConfig {
    /// The accounts file (created if missing).
    pub path: PathBuf,
    /// Which identity attribute names the account (default `username`).
    #[serde(default = "default_match")]
    pub match_on: String,
}

fn default_match() -> String {
    "username".into()
}

/// One account in the file. No password: a salted hash.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct StoredAccount {
    pub salt: String,
    pub hash: String,
    pub must_change: bool,
    pub locked: bool,
}

pub struct FileTarget {
    path: PathBuf,
    match_on: String,
    lock: Mutex<()>,
}

const ITERATIONS: u32 = 100_000;

impl FileTarget {
    async fn load(&self) -> Result<BTreeMap<String, StoredAccount>, Outcome> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Outcome::of(OutcomeCode::DirectoryUnavailable)
                    .with_admin_detail(format!("{} is not valid JSON: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Outcome::of(OutcomeCode::DirectoryUnavailable)
                .with_admin_detail(format!("cannot read {}: {e}", self.path.display()))),
        }
    }

    async fn save(&self, accounts: &BTreeMap<String, StoredAccount>) -> Result<(), Outcome> {
        let json = serde_json::to_vec_pretty(accounts).unwrap_or_default();
        tokio::fs::write(&self.path, json).await.map_err(|e| {
            Outcome::of(OutcomeCode::DirectoryUnavailable)
                .with_admin_detail(format!("cannot write {}: {e}", self.path.display()))
        })
    }

    /// Checks a password against the stored hash (for the demo and tests).
    pub fn verify(stored: &StoredAccount, password: &str) -> bool {
        let b64 = base64::engine::general_purpose::STANDARD;
        let (Ok(salt), Ok(hash)) = (b64.decode(&stored.salt), b64.decode(&stored.hash)) else {
            return false;
        };
        ring::pbkdf2::verify(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations(),
            &salt,
            password.as_bytes(),
            &hash,
        )
        .is_ok()
    }
}

fn iterations() -> NonZeroU32 {
    NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

fn hash(password: &Password) -> Result<(String, String), Outcome> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| Outcome::of(OutcomeCode::PluginFault).with_admin_detail("no randomness"))?;
    let mut out = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations(),
        &salt,
        password.expose().as_bytes(),
        &mut out,
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok((b64.encode(salt), b64.encode(out)))
}

#[async_trait]
impl DirectoryTarget for FileTarget {
    async fn resolve(&self, identity: &CloudIdentity) -> Result<Account, Outcome> {
        let Some(name) = identity.get(&self.match_on) else {
            return Err(Outcome::new(
                OutcomeCode::NotFound,
                format!(
                    "The request has no {} to find the account by.",
                    self.match_on
                ),
            ));
        };
        let accounts = self.load().await?;
        if !accounts.contains_key(name) {
            return Err(Outcome::of(OutcomeCode::NotFound));
        }
        Ok(Account {
            dn: name.to_string(),
            id: None,
            attributes: BTreeMap::from([("uid".into(), vec![name.to_string()])]),
        })
    }

    async fn apply(&self, account: &Account, operation: &Operation) -> Result<(), Outcome> {
        let _one_writer = self.lock.lock().await;
        let mut accounts = self.load().await?;
        let Some(entry) = accounts.get_mut(&account.dn) else {
            return Err(Outcome::of(OutcomeCode::NotFound));
        };
        match operation {
            Operation::Reset {
                new_password,
                must_change,
            } => {
                (entry.salt, entry.hash) = hash(new_password)?;
                entry.must_change = *must_change;
            }
            Operation::Change {
                old_password,
                new_password,
            } => {
                if !FileTarget::verify(entry, old_password.expose()) {
                    return Err(Outcome::of(OutcomeCode::WrongOldPassword));
                }
                (entry.salt, entry.hash) = hash(new_password)?;
                entry.must_change = false;
            }
            Operation::Unlock => entry.locked = false,
        }
        self.save(&accounts).await
    }

    async fn self_test(&self) -> Vec<HealthCheck> {
        match self.load().await {
            Ok(a) => vec![HealthCheck::pass("read", format!("{} accounts", a.len()))],
            Err(o) => vec![HealthCheck::fail(
                "read",
                o.admin_detail.unwrap_or_default(),
            )],
        }
    }
}

/// The factory the embedding program registers.
pub struct FileTargetFactory;

#[async_trait]
impl TypedFactory<dyn DirectoryTarget> for FileTargetFactory {
    type Config = FileTargetConfig;
    const TYPE_NAME: &'static str = "json-file";
    const DESCRIPTION: &'static str = "example: accounts in a JSON file, salted PBKDF2 hashes";

    /// What can be checked without I/O, every problem with its key.
    fn check(&self, c: &FileTargetConfig, config: &ConnectorConfig) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if c.path.as_os_str().is_empty() {
            errors.push(config.error("path", "must name the accounts file"));
        }
        errors
    }

    async fn build_from(
        &self,
        c: FileTargetConfig,
        _config: &ConnectorConfig,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn DirectoryTarget>, ConfigError> {
        Ok(Arc::new(FileTarget {
            path: ctx.path(&c.path),
            match_on: c.match_on,
            lock: Mutex::new(()),
        }))
    }
}

/// docs/embedding.md, whose Rust examples are compiled as doc tests of this crate
/// (`cargo test -p writeback-example-embed --doc`), so the guide cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/embedding.md")]
pub struct EmbeddingGuide;
