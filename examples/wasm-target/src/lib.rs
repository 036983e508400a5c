//! A directory target with a company's own schema, as a WASM target plugin.
//!
//! People are found by an employee number the cloud side sends (an extra identity
//! attribute), not by user name; the password is written with Password Modify (or,
//! when the person must change it at next logon, in one modify together with
//! `pwdReset`), so the directory's password policy judges it; a self-service change
//! is made as the person, which proves the old password.
//!
//! ```toml
//! [[plugins]]
//! path = "wasm_target_example.wasm"
//!
//! [[targets]]
//! type = "employee-directory"
//! name = "hr"
//! key_attribute = "employeeNumber"     # where the directory keeps the number
//! identity_attribute = "employee_id"   # which identity attribute carries it
//! object_class = "inetOrgPerson"
//!
//! [targets.directory]                  # the one connection the plugin may use
//! url = "ldaps://ldap.example.org"
//! ca_file = "/etc/writeback/ldap-ca.pem"
//! bind_dn = "cn=pwmgr,ou=system,dc=example,dc=org"
//! bind_password = { env = "WRITEBACK_LDAP_PASSWORD" }
//! base_dn = "ou=people,dc=example,dc=org"
//! ```

use serde::Deserialize;
use writeback_plugin_wasm_guest::target::directory::{
    self, escape_filter_value, DirectoryError, Modification,
};
use writeback_plugin_wasm_guest::target::{
    log, About, Account, CloudIdentity, Operation, Outcome, OutcomeCode, TargetPlugin,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The directory attribute that holds the key.
    #[serde(default = "default_key_attribute")]
    key_attribute: String,
    /// The cloud identity attribute that carries it (`username`, `mail`, or an extra).
    #[serde(default = "default_identity_attribute")]
    identity_attribute: String,
    #[serde(default = "default_object_class")]
    object_class: String,
}

fn default_key_attribute() -> String {
    "employeeNumber".into()
}
fn default_identity_attribute() -> String {
    "employee_id".into()
}
fn default_object_class() -> String {
    "inetOrgPerson".into()
}

struct EmployeeDirectory;

impl TargetPlugin for EmployeeDirectory {
    type Config = Config;
    const ABOUT: About = About {
        name: "employee-directory",
        version: "1.0.0",
        description: "finds people by employee number; writes passwords under the directory's policy",
    };

    fn resolve(config: &Config, identity: &CloudIdentity) -> Result<Account, Outcome> {
        let Some(key) = identity.get(&config.identity_attribute) else {
            return Err(Outcome::failure(
                OutcomeCode::InvalidRequest,
                "The request does not say who you are in the way this directory needs.",
                Some(format!(
                    "the identity has no `{}` attribute",
                    config.identity_attribute
                )),
            ));
        };
        let filter = format!(
            "(&(objectClass={})({}={}))",
            escape_filter_value(&config.object_class),
            config.key_attribute,
            escape_filter_value(key)
        );
        let entry = directory::find_one(&filter, &["uid", "mail", "displayName", "entryUUID"])?;
        Ok(Account::from_entry(&entry, Some("entryUUID")))
    }

    fn apply(_config: &Config, account: &Account, operation: &Operation) -> Result<(), Outcome> {
        let written = match operation {
            Operation::Reset(reset) if reset.must_change => directory::modify(
                &account.dn,
                &[
                    Modification::replace("userPassword", &[reset.new_password.as_bytes()]),
                    Modification::replace("pwdReset", &[b"TRUE"]),
                ],
            ),
            Operation::Reset(reset) => directory::password_modify(&account.dn, &reset.new_password),
            Operation::Change(change) => directory::modify_as_user(
                &account.dn,
                &change.old_password,
                &[Modification::replace(
                    "userPassword",
                    &[change.new_password.as_bytes()],
                )],
            ),
            Operation::Unlock => {
                match directory::modify(
                    &account.dn,
                    &[Modification::delete("pwdAccountLockedTime", &[])],
                ) {
                    // noSuchAttribute: it was not locked.
                    Err(e) if e.result_code == 16 => Ok(()),
                    other => other,
                }
            }
        };
        written.map_err(|e: DirectoryError| {
            log::event(
                log::Level::Info,
                "the directory refused the write",
                &[("dn", &account.dn), ("result_code", &e.result_code.to_string())],
            );
            e.into_outcome()
        })
    }
}

writeback_plugin_wasm_guest::target_plugin!(EmployeeDirectory);
