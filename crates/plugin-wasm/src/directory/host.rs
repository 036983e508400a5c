//! The WIT `directory` interface as the guest calls it: every call checked against
//! the grant (subtree, operations, sizes, the call's operation budget and deadline),
//! run on the granted pool, and LDAP results mapped to the guest's error kinds and
//! outcome codes. Every refusal is logged with the plugin's name.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasData, Linker};

use writeback_core::{Outcome, OutcomeCode, Password};
use writeback_ldap::ldap3::{Mod, Scope, SearchEntry};
use writeback_ldap::session::FILTER_ERROR;
use writeback_ldap::{password_outcome, LdapFailure, PpolicyError};

use super::grant::DirectoryGrant;
use super::*;
use crate::bindings::target::writeback::plugin::directory::{
    self, DirectoryError, Entry, ErrorKind, Modification, ModifyKind,
};
use crate::call::Call;
use crate::convert;

/// What the capability keeps per store: the grant of the connector the instance
/// serves (`None` refuses every call) and the operations made in the current call.
#[derive(Default)]
pub(crate) struct DirectoryState {
    grant: Option<Arc<DirectoryGrant>>,
    calls: u32,
}

impl DirectoryState {
    pub fn new(grant: Option<Arc<DirectoryGrant>>) -> Self {
        DirectoryState { grant, calls: 0 }
    }

    pub fn begin_call(&mut self) {
        self.calls = 0;
    }
}

/// The capability as one host call sees it: its own state and the current call.
pub(crate) struct DirectoryView<'a> {
    pub state: &'a mut DirectoryState,
    pub call: &'a Call,
}

/// The `HasData` projection for [`DirectoryView`].
struct Directory;

impl HasData for Directory {
    type Data<'a> = DirectoryView<'a>;
}

/// Links the `directory` interface; `get` projects a store's data onto the capability.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> DirectoryView<'_>,
) -> wasmtime::Result<()> {
    directory::add_to_linker::<T, Directory>(linker, get)
}

/// A refusal by the sandbox: logged, and answered with `plugin_fault`.
fn not_allowed(plugin: &str, what: &str, why: String) -> DirectoryError {
    tracing::warn!(plugin, operation = what, reason = %why, "WASM plugin directory call refused");
    error(
        ErrorKind::NotAllowed,
        0,
        why.clone(),
        Outcome::of(OutcomeCode::PluginFault).with_admin_detail(format!(
            "WASM plugin `{plugin}`: directory {what} refused: {why}"
        )),
    )
}

fn invalid(plugin: &str, what: &str, why: String) -> DirectoryError {
    tracing::info!(plugin, operation = what, reason = %why, "WASM plugin directory call malformed");
    error(
        ErrorKind::InvalidRequest,
        0,
        why.clone(),
        Outcome::of(OutcomeCode::PluginFault)
            .with_admin_detail(format!("WASM plugin `{plugin}`: directory {what}: {why}")),
    )
}

fn error(kind: ErrorKind, result_code: u32, message: String, outcome: Outcome) -> DirectoryError {
    DirectoryError {
        kind,
        result_code,
        message,
        outcome: convert::outcome_to_wit(&outcome),
    }
}

/// A failure from the server (or the way to it), with the outcome the built-in
/// targets give for it. `writes`: password policy refusals are read from the reply.
fn failure(f: &LdapFailure, writes: bool) -> DirectoryError {
    let outcome = if writes {
        password_outcome(f)
    } else {
        f.to_outcome()
    };
    match f.result_code() {
        Some(rc) => error(ErrorKind::Ldap, rc, f.to_string(), outcome),
        None => error(ErrorKind::Unavailable, 0, f.to_string(), outcome),
    }
}

fn out_of_time(server: &str) -> DirectoryError {
    let message = format!("{server}: the plugin call's time ran out before the directory answered");
    error(
        ErrorKind::Unavailable,
        0,
        message.clone(),
        Outcome::of(OutcomeCode::DirectoryUnavailable).with_admin_detail(message),
    )
}

fn attribute_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.')
}

/// The userIdentity of a Password Modify request value, if it names one.
fn password_modify_user(value: &[u8]) -> Result<Option<String>, String> {
    use writeback_ldap::ber::{read_all, read_tlv};
    let (outer, rest) = read_tlv(value).map_err(|e| format!("bad request value: {}", e.0))?;
    if outer.tag != 0x30 || !rest.is_empty() {
        return Err("bad request value: not one SEQUENCE".into());
    }
    let parts = read_all(outer.value).map_err(|e| format!("bad request value: {}", e.0))?;
    match parts.iter().find(|t| t.tag == 0x80) {
        Some(t) => String::from_utf8(t.value.to_vec())
            .map(Some)
            .map_err(|_| "the userIdentity is not UTF-8".into()),
        None => Ok(None),
    }
}

fn to_mods(plugin: &str, changes: Vec<Modification>) -> Result<Vec<Mod<Vec<u8>>>, DirectoryError> {
    if changes.is_empty() || changes.len() > MAX_CHANGES {
        return Err(invalid(
            plugin,
            "modify",
            format!("give 1 to {MAX_CHANGES} changes"),
        ));
    }
    let mut mods = Vec::with_capacity(changes.len());
    for change in changes {
        if !attribute_name_ok(&change.attribute) {
            return Err(invalid(
                plugin,
                "modify",
                format!(
                    "`{}` is not an attribute name",
                    crate::fault::clip(change.attribute, 64)
                ),
            ));
        }
        if change.values.iter().map(Vec::len).sum::<usize>() > MAX_VALUE_BYTES {
            return Err(invalid(
                plugin,
                "modify",
                format!(
                    "the values of `{}` are over {MAX_VALUE_BYTES} bytes",
                    change.attribute
                ),
            ));
        }
        let attribute = change.attribute.into_bytes();
        let values = change.values.into_iter().collect();
        mods.push(match change.kind {
            ModifyKind::Add => Mod::Add(attribute, values),
            ModifyKind::Delete => Mod::Delete(attribute, values),
            ModifyKind::Replace => Mod::Replace(attribute, values),
        });
    }
    Ok(mods)
}

fn to_entry(e: SearchEntry) -> (Entry, usize) {
    let mut size = e.dn.len();
    let mut attributes: Vec<(String, Vec<String>)> = e.attrs.into_iter().collect();
    attributes.sort();
    let mut binary: Vec<(String, Vec<Vec<u8>>)> = e.bin_attrs.into_iter().collect();
    binary.sort();
    size += attributes
        .iter()
        .map(|(k, v)| k.len() + v.iter().map(String::len).sum::<usize>())
        .sum::<usize>();
    size += binary
        .iter()
        .map(|(k, v)| k.len() + v.iter().map(Vec::len).sum::<usize>())
        .sum::<usize>();
    (
        Entry {
            dn: e.dn,
            attributes,
            binary_attributes: binary,
        },
        size,
    )
}

impl DirectoryView<'_> {
    /// The grant and the time left for one more directory operation of this call.
    fn directory_turn(
        &mut self,
        what: &str,
    ) -> Result<(Arc<DirectoryGrant>, Duration), DirectoryError> {
        let Some(grant) = self.state.grant.clone() else {
            return Err(not_allowed(
                &self.call.plugin,
                what,
                "no directory is granted to this plugin".into(),
            ));
        };
        self.state.calls += 1;
        if self.state.calls > grant.max_operations {
            return Err(not_allowed(
                &self.call.plugin,
                what,
                format!(
                    "more than {} directory operations in one call (`directory.max_operations_per_call`)",
                    grant.max_operations
                ),
            ));
        }
        // The guest's clock is stopped while the host waits: bound the wait by the
        // call's own deadline.
        let budget = self.call.budget();
        if budget.is_zero() {
            return Err(out_of_time(grant.server()));
        }
        Ok((grant, budget))
    }

    fn confine(
        &self,
        grant: &DirectoryGrant,
        what: &str,
        entry: &str,
    ) -> Result<(), DirectoryError> {
        // A NUL ends the DN early for C servers and logs: refused before any server sees it.
        if entry.contains('\0') {
            return Err(invalid(
                &self.call.plugin,
                what,
                "the DN contains a NUL byte".into(),
            ));
        }
        match grant.contains(entry) {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_allowed(
                &self.call.plugin,
                what,
                format!(
                    "`{}` is outside the granted subtree `{}`",
                    crate::fault::clip(entry.to_string(), 256),
                    grant.base_dn
                ),
            )),
            Err(e) => Err(invalid(
                &self.call.plugin,
                what,
                crate::fault::clip(e.to_string(), 300),
            )),
        }
    }

    /// Scrubs the call's passwords from an error the server (or a guest) could echo.
    fn scrubbed(&self, mut e: DirectoryError) -> DirectoryError {
        e.message = self.call.scrub(&e.message, 1024);
        if let Some(d) = &e.outcome.admin_detail {
            e.outcome.admin_detail = Some(self.call.scrub(d, 1024));
        }
        e
    }
}

/// Runs one operation on a pooled connection within `budget`: the operation's own
/// timeout is lowered to the budget so a slow server breaks only that connection.
macro_rules! pooled {
    ($grant:expr, $budget:expr, |$session:ident| $op:expr) => {{
        let grant = &$grant;
        let budget = $budget;
        match tokio::time::timeout(budget, grant.pool.get()).await {
            Err(_) => Err(None),
            Ok(Err(f)) => Err(Some(f)),
            Ok(Ok(mut $session)) => {
                let configured = $session.timeout();
                $session.set_timeout(configured.min(budget));
                let result = $op;
                $session.set_timeout(configured);
                result.map_err(Some)
            }
        }
    }};
}

impl directory::Host for DirectoryView<'_> {
    async fn base_dn(&mut self) -> String {
        self.state
            .grant
            .as_ref()
            .map(|g| g.base_dn.clone())
            .unwrap_or_default()
    }

    async fn search(
        &mut self,
        base: String,
        scope: directory::Scope,
        filter: String,
        attributes: Vec<String>,
        size_limit: u32,
    ) -> Result<Vec<Entry>, DirectoryError> {
        let (grant, budget) = self.directory_turn("search")?;
        self.confine(&grant, "search", &base)?;
        if filter.is_empty() || filter.len() > MAX_FILTER {
            return Err(invalid(
                &self.call.plugin,
                "search",
                format!("the filter must be 1 to {MAX_FILTER} bytes"),
            ));
        }
        if attributes.len() > MAX_ATTRIBUTES
            || !attributes
                .iter()
                .all(|a| attribute_name_ok(a) || a == "*" || a == "+" || a == "1.1")
        {
            return Err(invalid(
                &self.call.plugin,
                "search",
                format!("give at most {MAX_ATTRIBUTES} attribute names"),
            ));
        }
        let limit = match size_limit {
            0 => MAX_ENTRIES,
            n => n.min(MAX_ENTRIES),
        };
        let scope = match scope {
            directory::Scope::Base => Scope::Base,
            directory::Scope::OneLevel => Scope::OneLevel,
            directory::Scope::Subtree => Scope::Subtree,
        };
        let wanted: Vec<&str> = attributes.iter().map(String::as_str).collect();
        let found = pooled!(grant, budget, |session| session
            .search(&base, scope, &filter, &wanted, limit as i32)
            .await);
        let found = match found {
            Ok(found) => found,
            Err(None) => return Err(out_of_time(grant.server())),
            Err(Some(f)) if f.result_code() == Some(FILTER_ERROR) => {
                return Err(invalid(
                    &self.call.plugin,
                    "search",
                    format!(
                        "the filter `{}` does not parse",
                        crate::fault::clip(filter, 256)
                    ),
                ))
            }
            Err(Some(f)) => return Err(self.scrubbed(failure(&f, false))),
        };
        let mut total = 0usize;
        let mut entries = Vec::with_capacity(found.entries.len());
        for e in found.entries {
            let (entry, size) = to_entry(e);
            total += size;
            if total > MAX_RESULT_BYTES {
                return Err(not_allowed(
                    &self.call.plugin,
                    "search",
                    format!(
                        "the results are over {} MiB; ask for fewer entries or attributes",
                        MAX_RESULT_BYTES >> 20
                    ),
                ));
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    async fn modify(
        &mut self,
        dn: String,
        changes: Vec<Modification>,
    ) -> Result<(), DirectoryError> {
        let (grant, budget) = self.directory_turn("modify")?;
        self.confine(&grant, "modify", &dn)?;
        let mods = to_mods(&self.call.plugin, changes)?;
        let result = pooled!(grant, budget, |session| session
            .modify(&dn, mods, Vec::new())
            .await);
        match result {
            Ok(_) => Ok(()),
            Err(None) => Err(out_of_time(grant.server())),
            Err(Some(f)) => Err(self.scrubbed(failure(&f, true))),
        }
    }

    async fn modify_as_user(
        &mut self,
        dn: String,
        password: String,
        changes: Vec<Modification>,
    ) -> Result<(), DirectoryError> {
        let password = Password::new(password);
        let (grant, budget) = self.directory_turn("modify-as-user")?;
        self.confine(&grant, "modify-as-user", &dn)?;
        let mods = to_mods(&self.call.plugin, changes)?;
        // The user's own connection: bound as them, used once, closed.
        let work = async {
            let mut session = match grant.connector.connect().await {
                Ok(s) => s,
                Err(f) => return Err(failure(&f, false)),
            };
            session.set_timeout(session.timeout().min(budget));
            if let Err(f) = session.bind(&dn, &password).await {
                let locked = f.reply().and_then(|r| r.ppolicy).and_then(|p| p.error)
                    == Some(PpolicyError::AccountLocked);
                return Err(match f.result_code() {
                    Some(49) if !locked => error(
                        ErrorKind::Ldap,
                        49,
                        f.to_string(),
                        Outcome::of(OutcomeCode::WrongOldPassword).with_admin_detail(f.to_string()),
                    ),
                    _ => failure(&f, true),
                });
            }
            let result = session.modify(&dn, mods, Vec::new()).await;
            session.unbind().await;
            result.map(|_| ()).map_err(|f| failure(&f, true))
        };
        match tokio::time::timeout(budget, work).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.scrubbed(e)),
            Err(_) => Err(out_of_time(grant.server())),
        }
    }

    async fn extended(
        &mut self,
        oid: String,
        value: Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, DirectoryError> {
        let (grant, budget) = self.directory_turn("extended")?;
        if !grant.allow_extended.contains(&oid) {
            return Err(not_allowed(
                &self.call.plugin,
                "extended",
                format!(
                    "the extended operation {} is not in `directory.allow_extended`",
                    crate::fault::clip(oid, 64)
                ),
            ));
        }
        if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(invalid(
                &self.call.plugin,
                "extended",
                format!("the value is over {MAX_VALUE_BYTES} bytes"),
            ));
        }
        if oid == PASSWORD_MODIFY_OID {
            // Without a userIdentity it would change the service account's own password.
            let user = match value.as_deref().map(password_modify_user) {
                Some(Ok(Some(user))) => user,
                Some(Ok(None)) | None => {
                    return Err(not_allowed(
                        &self.call.plugin,
                        "extended",
                        "a Password Modify request must name its user (userIdentity)".into(),
                    ))
                }
                Some(Err(m)) => return Err(invalid(&self.call.plugin, "extended", m)),
            };
            self.confine(&grant, "extended", &user)?;
        }
        let result = pooled!(grant, budget, |session| session.extended(&oid, value).await);
        match result {
            Ok((response, _)) => Ok(response),
            Err(None) => Err(out_of_time(grant.server())),
            Err(Some(f)) => Err(self.scrubbed(failure(&f, true))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_modify_user_is_read_from_the_request() {
        // SEQUENCE { [0] "uid=a,dc=x", [2] "pw" }
        let user = b"uid=a,dc=x";
        let mut inner = vec![0x80, user.len() as u8];
        inner.extend_from_slice(user);
        inner.extend_from_slice(&[0x82, 2, b'p', b'w']);
        let mut value = vec![0x30, inner.len() as u8];
        value.extend_from_slice(&inner);
        assert_eq!(
            password_modify_user(&value).unwrap().as_deref(),
            Some("uid=a,dc=x")
        );
        assert_eq!(
            password_modify_user(&[0x30, 4, 0x82, 2, b'p', b'w']).unwrap(),
            None
        );
        assert!(password_modify_user(&[0x04, 0]).is_err());
        assert!(password_modify_user(&[0x30, 9]).is_err());
    }

    #[test]
    fn attribute_names() {
        assert!(attribute_name_ok("userPassword"));
        assert!(attribute_name_ok("pwdAccountLockedTime"));
        assert!(attribute_name_ok("userCertificate;binary"));
        assert!(!attribute_name_ok(""));
        assert!(!attribute_name_ok("a b"));
        assert!(!attribute_name_ok("a=b"));
    }
}
