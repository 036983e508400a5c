//! A directory target over a fixed list of users, logging what it applies.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Deserialize;
use writeback_plugin_native_abi::{
    Account, AccountView, ConfigProblem, Connector, ConnectorConfig, IdentityView, OperationView,
    Outcome, OutcomeCode, Target,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// User names (the `username` or the part of the UPN before `@`).
    users: Vec<String>,
    log: PathBuf,
}

pub struct MemoryDirectory {
    users: Vec<String>,
    log: PathBuf,
    writing: Mutex<()>,
}

impl Connector for MemoryDirectory {
    const TYPE_NAME: &'static str = "test-memory-directory";
    const DESCRIPTION: &'static str = "Test only: a fixed list of users; logs applied operations";

    fn from_config(config: &ConnectorConfig<'_>) -> Result<Self, ConfigProblem> {
        let settings: Settings = config.parse()?;
        Ok(MemoryDirectory {
            users: settings.users,
            log: config.path(&settings.log),
            writing: Mutex::new(()),
        })
    }
}

impl Target for MemoryDirectory {
    fn resolve(&self, identity: &IdentityView<'_>) -> Result<Account, Outcome> {
        let wanted = identity
            .get("username")
            .or_else(|| identity.get("upn").and_then(|u| u.split('@').next()))
            .unwrap_or("");
        match self.users.iter().find(|u| u.as_str() == wanted) {
            Some(user) => Ok(Account::new(&format!("uid={user},ou=people,dc=test"))
                .with_value("uid", user)
                .with_value("mail", &format!("{user}@example.org"))),
            None => Err(Outcome::new(OutcomeCode::NOT_FOUND, "")),
        }
    }

    fn apply(
        &self,
        account: &AccountView<'_>,
        operation: &OperationView<'_>,
    ) -> Result<(), Outcome> {
        let new_password = operation.new_password.expose();
        if new_password.contains("TARGET-LEAK") {
            // A careless refusal that quotes the password in both texts.
            return Err(
                Outcome::new(OutcomeCode::ADMIN_ACTION_REQUIRED, new_password)
                    .with_admin_detail(&format!("refused {new_password}")),
            );
        }
        let line = serde_json::json!({
            "dn": account.dn.as_str(),
            "operation": operation.kind.as_str(),
            "password_chars": operation.new_password.char_count(),
        });
        let _one = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut f| writeln!(f, "{line}"))
            .map_err(|e| {
                Outcome::new(OutcomeCode::DIRECTORY_UNAVAILABLE, "")
                    .with_admin_detail(&format!("log: {e}"))
            })
    }
}
