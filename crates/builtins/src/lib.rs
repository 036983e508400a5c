//! The connectors that ship with writeback, each behind its own cargo feature
//! (`default` = all of them). This is the only list of them: the `writeback` binary
//! calls [`register_all`], and so can a program that embeds the host, without
//! depending on the binary's crate.
//!
//! ```
//! let mut registry = writeback_host::Registry::new();
//! writeback_builtins::register_all(&mut registry);
//! # #[cfg(feature = "target-openldap")]
//! assert!(registry.target("openldap").is_some());
//! ```

use writeback_host::Registry;

/// A registry holding every connector type enabled by this crate's features.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    register_all(&mut r);
    r
}

/// Registers every enabled connector type and plugin loader.
pub fn register_all(r: &mut Registry) {
    register_sources(r);
    register_targets(r);
    register_policies(r);
    register_notifiers(r);
    register_loaders(r);
}

/// Cloud sources: `webhook`, `scim`, `portal`.
pub fn register_sources(r: &mut Registry) {
    #[cfg(feature = "source-webhook")]
    r.register_source(std::sync::Arc::new(
        writeback_source_webhook::WebhookSourceFactory,
    ));
    #[cfg(feature = "source-scim")]
    r.register_source(std::sync::Arc::new(
        writeback_source_scim::ScimSourceFactory,
    ));
    #[cfg(feature = "source-portal")]
    r.register_source(std::sync::Arc::new(
        writeback_source_portal::PortalSourceFactory,
    ));
    // Every line above may be compiled out by the features.
    let _ = &r;
}

/// Directory targets: `openldap`, `active-directory`, `389ds`.
pub fn register_targets(r: &mut Registry) {
    #[cfg(feature = "target-openldap")]
    r.register_target(std::sync::Arc::new(
        writeback_target_openldap::OpenLdapTargetFactory,
    ));
    #[cfg(feature = "target-active-directory")]
    r.register_target(std::sync::Arc::new(
        writeback_target_active_directory::ActiveDirectoryTargetFactory,
    ));
    #[cfg(feature = "target-389ds")]
    r.register_target(std::sync::Arc::new(
        writeback_target_389ds::Ds389TargetFactory,
    ));
    // Every line above may be compiled out by the features.
    let _ = &r;
}

/// Policies: `basic`, `directory`, `389ds-directory`, `ad-complexity`,
/// `banned-words`, `breached`.
pub fn register_policies(r: &mut Registry) {
    #[cfg(feature = "policy-basic")]
    r.register_policy(std::sync::Arc::new(
        writeback_policy_basic::BasicPolicyFactory,
    ));
    #[cfg(feature = "policy-directory")]
    {
        r.register_policy(std::sync::Arc::new(
            writeback_policy_directory::DirectoryPolicyFactory,
        ));
        r.register_policy(std::sync::Arc::new(
            writeback_policy_directory::Ds389DirectoryPolicyFactory,
        ));
    }
    #[cfg(feature = "policy-ad-complexity")]
    r.register_policy(std::sync::Arc::new(
        writeback_policy_ad_complexity::AdComplexityPolicyFactory,
    ));
    #[cfg(feature = "policy-banned-words")]
    r.register_policy(std::sync::Arc::new(
        writeback_policy_banned_words::BannedWordsPolicyFactory,
    ));
    #[cfg(feature = "policy-breached")]
    r.register_policy(std::sync::Arc::new(
        writeback_policy_breached::BreachedPolicyFactory,
    ));
    // Every line above may be compiled out by the features.
    let _ = &r;
}

/// Notifiers: `webhook`, `smtp`.
pub fn register_notifiers(r: &mut Registry) {
    #[cfg(feature = "notifier-webhook")]
    r.register_notifier(std::sync::Arc::new(
        writeback_notifier_webhook::WebhookNotifierFactory,
    ));
    #[cfg(feature = "notifier-smtp")]
    r.register_notifier(std::sync::Arc::new(
        writeback_notifier_smtp::SmtpNotifierFactory,
    ));
    // Every line above may be compiled out by the features.
    let _ = &r;
}

/// Plugin loaders for `[[plugins]] path = "…"`: shared libraries (`.so`) and
/// WebAssembly components (`.wasm`).
pub fn register_loaders(r: &mut Registry) {
    #[cfg(feature = "plugin-native")]
    r.register_loader(std::sync::Arc::new(writeback_plugin_native::NativeLoader));
    #[cfg(feature = "plugin-wasm")]
    r.register_loader(std::sync::Arc::new(
        writeback_plugin_wasm::WasmLoader::default(),
    ));
    // Every line above may be compiled out by the features.
    let _ = &r;
}
