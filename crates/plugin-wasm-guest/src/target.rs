//! The `target-plugin` world: find accounts and apply operations in a directory with
//! its own schema, through the host's `directory` handle (the one server and subtree
//! the administrator granted, as the service account, whose password the plugin
//! never sees).

wit_bindgen::generate!({
    world: "target-plugin",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_target_world",
    default_bindings_module: "writeback_plugin_wasm_guest::target",
    runtime_path: "writeback_plugin_wasm_guest::__wit_bindgen::rt",
});

pub use self::writeback::plugin::types::{
    Account, Attribute, ChangeOperation, CloudIdentity, EntryAttribute, Metadata, Operation,
    Outcome, OutcomeCode, PluginKind, ResetOperation, RuleViolation,
};
pub use crate::About;

crate::log_helpers!(super::writeback::plugin::log);
crate::model_helpers!(super::writeback::plugin::types);

/// The directory the administrator granted: search, modify and extended operations
/// inside `base_dn()`, on one server. Build every filter with [`escape_filter_value`]
/// around values that come from the request.
pub mod directory {
    use super::writeback::plugin::directory as wit;
    pub use wit::{DirectoryError, Entry, ErrorKind, Modification, ModifyKind, Scope};

    use super::{Outcome, OutcomeCode};

    /// Password Modify (RFC 3062).
    pub const PASSWORD_MODIFY_OID: &str = "1.3.6.1.4.1.4203.1.11.1";

    /// The subtree every DN must be in.
    pub fn base_dn() -> String {
        wit::base_dn()
    }

    /// At most `limit` entries (0: the host's cap).
    pub fn search(
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[&str],
        limit: u32,
    ) -> Result<Vec<Entry>, DirectoryError> {
        let attributes: Vec<String> = attributes.iter().map(|a| (*a).to_string()).collect();
        wit::search(base, scope, filter, &attributes, limit)
    }

    /// Exactly one entry below `base_dn()` matching `filter`: none is `not_found`, two
    /// or more is `ambiguous_identity` (nothing may be written then).
    pub fn find_one(filter: &str, attributes: &[&str]) -> Result<Entry, Outcome> {
        let mut found = search(&base_dn(), Scope::Subtree, filter, attributes, 2)
            .map_err(DirectoryError::into_outcome)?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Outcome::failure(
                OutcomeCode::NotFound,
                "No account matches you in the directory. Ask your administrator to check your account.",
                Some(format!("no entry below {} matches {filter}", base_dn())),
            )),
            _ => Err(Outcome::failure(
                OutcomeCode::AmbiguousIdentity,
                "More than one account matches you in the directory. Ask your administrator.",
                Some(format!("several entries below {} match {filter}", base_dn())),
            )),
        }
    }

    pub fn modify(dn: &str, changes: &[Modification]) -> Result<(), DirectoryError> {
        wit::modify(dn, changes)
    }

    /// Modify `dn` as itself, proving `password` (a self-service change).
    pub fn modify_as_user(
        dn: &str,
        password: &str,
        changes: &[Modification],
    ) -> Result<(), DirectoryError> {
        wit::modify_as_user(dn, password, changes)
    }

    pub fn extended(oid: &str, value: Option<&[u8]>) -> Result<Option<Vec<u8>>, DirectoryError> {
        wit::extended(oid, value)
    }

    /// Sets the password of `user_dn` with Password Modify, as the service account:
    /// the directory's password policy judges it.
    pub fn password_modify(user_dn: &str, new_password: &str) -> Result<(), DirectoryError> {
        let mut value = zeroize::Zeroizing::new(Vec::new());
        let mut inner = zeroize::Zeroizing::new(Vec::new());
        ber_octets(&mut inner, 0x80, user_dn.as_bytes());
        ber_octets(&mut inner, 0x82, new_password.as_bytes());
        ber_octets(&mut value, 0x30, &inner);
        extended(PASSWORD_MODIFY_OID, Some(&value)).map(|_| ())
    }

    /// `tag length value` with a definite length.
    fn ber_octets(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
        out.push(tag);
        let len = value.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(value);
    }

    /// Escapes a value for an LDAP filter (RFC 4515): `*`, `(`, `)`, `\` and NUL.
    pub fn escape_filter_value(value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        for c in value.chars() {
            match c {
                '*' => out.push_str("\\2a"),
                '(' => out.push_str("\\28"),
                ')' => out.push_str("\\29"),
                '\\' => out.push_str("\\5c"),
                '\0' => out.push_str("\\00"),
                c => out.push(c),
            }
        }
        out
    }

    impl Modification {
        pub fn replace(attribute: &str, values: &[&[u8]]) -> Self {
            Self::of(ModifyKind::Replace, attribute, values)
        }

        pub fn add(attribute: &str, values: &[&[u8]]) -> Self {
            Self::of(ModifyKind::Add, attribute, values)
        }

        /// Deletes the values given, or the whole attribute when `values` is empty.
        pub fn delete(attribute: &str, values: &[&[u8]]) -> Self {
            Self::of(ModifyKind::Delete, attribute, values)
        }

        fn of(kind: ModifyKind, attribute: &str, values: &[&[u8]]) -> Self {
            Modification {
                kind,
                attribute: attribute.to_string(),
                values: values.iter().map(|v| v.to_vec()).collect(),
            }
        }
    }

    impl Entry {
        /// The first text value of `attribute` (names compare case-insensitively).
        pub fn first(&self, attribute: &str) -> Option<&str> {
            self.attributes
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
                .and_then(|(_, values)| values.first())
                .map(String::as_str)
        }
    }

    impl DirectoryError {
        /// The outcome writeback's built-in LDAP targets give for this error.
        pub fn into_outcome(self) -> Outcome {
            self.outcome
        }
    }
}

/// A target plugin. Each call runs on a fresh instance unless the administrator
/// chose otherwise, so keep no state between calls.
pub trait TargetPlugin {
    /// The connector's table without its `directory` table, deserialized.
    type Config: serde::de::DeserializeOwned + Send + Sync + 'static;
    const ABOUT: About;

    /// Exactly one account inside `directory::base_dn()`, or `not_found` /
    /// `ambiguous_identity`.
    fn resolve(config: &Self::Config, identity: &CloudIdentity) -> Result<Account, Outcome>;

    /// Applies the operation to an account `resolve` returned. Never log, store or
    /// send the passwords in `operation` anywhere but the directory.
    fn apply(
        config: &Self::Config,
        account: &Account,
        operation: &Operation,
    ) -> Result<(), Outcome>;
}

impl Account {
    /// An account for `entry`, with its text attributes.
    pub fn from_entry(entry: &directory::Entry, id_attribute: Option<&str>) -> Self {
        Account {
            dn: entry.dn.clone(),
            id: id_attribute
                .and_then(|a| entry.first(a))
                .map(str::to_string),
            attributes: entry
                .attributes
                .iter()
                .map(|(name, values)| EntryAttribute {
                    name: name.to_ascii_lowercase(),
                    values: values.clone(),
                })
                .collect(),
        }
    }
}

#[doc(hidden)]
pub fn __metadata(about: About) -> Metadata {
    Metadata {
        name: about.name.to_string(),
        kind: PluginKind::Target,
        version: about.version.to_string(),
        description: about.description.to_string(),
    }
}

#[doc(hidden)]
pub fn __wipe(operation: &mut Operation) {
    use zeroize::Zeroize;
    match operation {
        Operation::Reset(r) => r.new_password.zeroize(),
        Operation::Change(c) => {
            c.old_password.zeroize();
            c.new_password.zeroize();
        }
        Operation::Unlock => {}
    }
}

/// Exports a [`TargetPlugin`] as the component's `target-plugin` world.
#[macro_export]
macro_rules! target_plugin {
    ($plugin:ty) => {
        struct __WritebackTargetExport;

        static __WRITEBACK_TARGET_CONFIG: ::std::sync::OnceLock<
            <$plugin as $crate::target::TargetPlugin>::Config,
        > = ::std::sync::OnceLock::new();

        fn __writeback_target_config() -> Result<
            &'static <$plugin as $crate::target::TargetPlugin>::Config,
            $crate::target::Outcome,
        > {
            __WRITEBACK_TARGET_CONFIG.get().ok_or_else(|| {
                $crate::target::Outcome::failure(
                    $crate::target::OutcomeCode::PluginFault,
                    "The directory connector is not available.",
                    Some("called before configure".to_string()),
                )
            })
        }

        impl $crate::target::exports::writeback::plugin::meta::Guest for __WritebackTargetExport {
            fn describe() -> $crate::target::Metadata {
                $crate::target::__metadata(<$plugin as $crate::target::TargetPlugin>::ABOUT)
            }

            fn configure(config_json: String) -> Result<(), String> {
                let config = $crate::config::parse(&config_json)?;
                let _ = __WRITEBACK_TARGET_CONFIG.set(config);
                Ok(())
            }
        }

        impl $crate::target::exports::writeback::plugin::target::Guest for __WritebackTargetExport {
            fn resolve(
                identity: $crate::target::CloudIdentity,
            ) -> Result<$crate::target::Account, $crate::target::Outcome> {
                let config = __writeback_target_config()?;
                <$plugin as $crate::target::TargetPlugin>::resolve(config, &identity)
            }

            fn apply(
                account: $crate::target::Account,
                mut operation: $crate::target::Operation,
            ) -> Result<(), $crate::target::Outcome> {
                let result = match __writeback_target_config() {
                    Ok(config) => {
                        <$plugin as $crate::target::TargetPlugin>::apply(config, &account, &operation)
                    }
                    Err(e) => Err(e),
                };
                // Wiped when the call ends, even on a reused instance.
                $crate::target::__wipe(&mut operation);
                result
            }
        }

        $crate::target::__export_target_world!(__WritebackTargetExport with_types_in $crate::target);
    };
}
