//! A target that tries to get out of its directory grant. What it tries depends on
//! the account's uid (the tests create users named after the attempt):
//!
//! * `resolve-outside-*`: resolve answers with an entry outside the granted subtree;
//! * `modify-outside-*`: writes the password of `victim_dn` (outside the subtree);
//! * `exop-self-*`: Password Modify without a user (the service account's own);
//! * `exop-outside-*`: Password Modify for `victim_dn`;
//! * `exop-other-*`: an extended operation that is not allowed (Who am I?);
//! * `flood-*`: more searches than one call may make;
//! * `bad-filter-*`: a filter that does not parse;
//! * `nul-dn-*`: modifies its own entry's DN with a NUL byte in the first value;
//! * `instance-*`: `apply` fails with `admin_action_required`, saying in the admin
//!   detail how many calls ran in its instance before it (a fresh one: none);
//! * anything else: an honest Password Modify reset of the account.
//!
//! Every refusal it meets is passed on as the call's failure, with the error kind in
//! the admin detail so the test can tell them apart.

wit_bindgen::generate!({
    world: "target-plugin",
    path: "../../../wit",
});

use exports::writeback::plugin::{meta, target};
use writeback::plugin::directory::{self, ErrorKind, Modification, ModifyKind, Scope};
use writeback::plugin::types::{
    Account, CloudIdentity, EntryAttribute, Metadata, Operation, Outcome, OutcomeCode, PluginKind,
};

#[derive(serde::Deserialize)]
struct Config {
    victim_dn: String,
}

static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

/// `resolve` and `apply` calls made in this instance so far.
static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

const PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
const WHO_AM_I: &str = "1.3.6.1.4.1.4203.1.11.3";

struct Escaping;

impl meta::Guest for Escaping {
    fn describe() -> Metadata {
        Metadata {
            name: "escaping".into(),
            kind: PluginKind::Target,
            version: "0.0.1".into(),
            description: "test guest: tries to leave its directory grant".into(),
        }
    }

    fn configure(config_json: String) -> Result<(), String> {
        let config = serde_json::from_str(&config_json).map_err(|e| e.to_string())?;
        let _ = CONFIG.set(config);
        Ok(())
    }
}

fn config() -> &'static Config {
    match CONFIG.get() {
        Some(c) => c,
        None => panic!("called before configure"),
    }
}

/// The error as the call's failure, its kind first in the admin detail.
fn failed(e: directory::DirectoryError) -> Outcome {
    let kind = match e.kind {
        ErrorKind::Ldap => "ldap",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::NotAllowed => "not-allowed",
        ErrorKind::InvalidRequest => "invalid-request",
    };
    let mut outcome = e.outcome;
    outcome.admin_detail = Some(format!("{kind}: {}", e.message));
    outcome
}

/// BER of a Password Modify request.
fn password_modify_value(user: Option<&str>, new: &str) -> Vec<u8> {
    let mut inner = Vec::new();
    if let Some(user) = user {
        inner.push(0x80);
        inner.push(user.len() as u8);
        inner.extend_from_slice(user.as_bytes());
    }
    inner.push(0x82);
    inner.push(new.len() as u8);
    inner.extend_from_slice(new.as_bytes());
    let mut value = vec![0x30, inner.len() as u8];
    value.extend_from_slice(&inner);
    value
}

impl target::Guest for Escaping {
    fn resolve(identity: CloudIdentity) -> Result<Account, Outcome> {
        CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let uid = identity.username.unwrap_or_default();
        if uid.starts_with("resolve-outside-") {
            return Ok(Account {
                dn: config().victim_dn.clone(),
                id: None,
                attributes: Vec::new(),
            });
        }
        let filter = format!("(uid={uid})");
        let found = directory::search(
            &directory::base_dn(),
            Scope::Subtree,
            &filter,
            &["uid".to_string()],
            2,
        )
        .map_err(failed)?;
        let Some(entry) = found.into_iter().next() else {
            return Err(Outcome {
                code: OutcomeCode::NotFound,
                message: "no such account".into(),
                rules: Vec::new(),
                admin_detail: None,
            });
        };
        Ok(Account {
            dn: entry.dn,
            id: None,
            attributes: vec![EntryAttribute {
                name: "uid".into(),
                values: vec![uid],
            }],
        })
    }

    fn apply(account: Account, operation: Operation) -> Result<(), Outcome> {
        let earlier = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Operation::Reset(reset) = operation else {
            return Err(Outcome {
                code: OutcomeCode::AdminActionRequired,
                message: "resets only".into(),
                rules: Vec::new(),
                admin_detail: None,
            });
        };
        let uid = account
            .attributes
            .iter()
            .find(|a| a.name == "uid")
            .and_then(|a| a.values.first())
            .cloned()
            .unwrap_or_default();
        if uid.starts_with("instance-") {
            return Err(Outcome {
                code: OutcomeCode::AdminActionRequired,
                message: "instance check".into(),
                rules: Vec::new(),
                admin_detail: Some(format!("instance-check: {earlier} earlier calls")),
            });
        }
        let new = reset.new_password.as_str();
        let victim = config().victim_dn.as_str();
        let result = if uid.starts_with("modify-outside-") {
            directory::modify(
                victim,
                &[Modification {
                    kind: ModifyKind::Replace,
                    attribute: "userPassword".into(),
                    values: vec![new.as_bytes().to_vec()],
                }],
            )
        } else if uid.starts_with("exop-self-") {
            directory::extended(PASSWORD_MODIFY, Some(&password_modify_value(None, new)))
                .map(|_| ())
        } else if uid.starts_with("exop-outside-") {
            directory::extended(
                PASSWORD_MODIFY,
                Some(&password_modify_value(Some(victim), new)),
            )
            .map(|_| ())
        } else if uid.starts_with("exop-other-") {
            directory::extended(WHO_AM_I, None).map(|_| ())
        } else if uid.starts_with("flood-") {
            let mut result = Ok(());
            for _ in 0..100 {
                result = directory::search(&account.dn, Scope::Base, "(objectClass=*)", &[], 1)
                    .map(|_| ());
                if result.is_err() {
                    break;
                }
            }
            result
        } else if uid.starts_with("nul-dn-") {
            // A DN inside the subtree with a NUL in its first value.
            let dn = account.dn.replacen(',', "\0x,", 1);
            directory::modify(
                &dn,
                &[Modification {
                    kind: ModifyKind::Replace,
                    attribute: "userPassword".into(),
                    values: vec![new.as_bytes().to_vec()],
                }],
            )
        } else if uid.starts_with("bad-filter-") {
            directory::search(&account.dn, Scope::Base, "(uid=", &[], 1).map(|_| ())
        } else {
            directory::extended(
                PASSWORD_MODIFY,
                Some(&password_modify_value(Some(&account.dn), new)),
            )
            .map(|_| ())
        };
        result.map_err(failed)
    }
}

export!(Escaping);
