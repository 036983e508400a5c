//! Every connector type built into the `writeback` binary. One line per factory: this
//! is the only list of them.

use std::sync::Arc;

use writeback_host::{HostOptions, Registry};

pub fn builtin_registry() -> Registry {
    let mut r = Registry::new();
    // cloud sources
    r.register_source(Arc::new(writeback_source_webhook::WebhookSourceFactory));
    r.register_source(Arc::new(writeback_source_scim::ScimSourceFactory));
    r.register_source(Arc::new(writeback_source_portal::PortalSourceFactory));

    // directory targets
    r.register_target(Arc::new(writeback_target_openldap::OpenLdapFactory));
    r.register_target(Arc::new(
        writeback_target_active_directory::ActiveDirectoryFactory,
    ));
    r.register_target(Arc::new(writeback_target_389ds::Ds389Factory));

    // policies
    r.register_policy(Arc::new(writeback_policy_basic::BasicFactory));
    r.register_policy(Arc::new(writeback_policy_directory::DirectoryPolicyFactory));
    r.register_policy(Arc::new(
        writeback_policy_directory::Ds389DirectoryPolicyFactory,
    ));
    r.register_policy(Arc::new(
        writeback_policy_ad_complexity::AdComplexityFactory,
    ));
    r.register_policy(Arc::new(writeback_policy_banned_words::BannedWordsFactory));
    r.register_policy(Arc::new(writeback_policy_breached::BreachedFactory));

    // notifiers
    r.register_notifier(Arc::new(writeback_notifier_webhook::WebhookNotifierFactory));
    r.register_notifier(Arc::new(writeback_notifier_smtp::SmtpNotifierFactory));

    // plugin loaders ([[plugins]] path = "…")
    r.register_loader(Arc::new(writeback_plugin_native::NativeLoader));
    r.register_loader(Arc::new(writeback_plugin_wasm::WasmLoader::default()));

    r
}

/// Host options of the binary. The durable outbox is chosen by the host itself from
/// the config's `[outbox]` table.
pub fn builtin_options() -> HostOptions {
    HostOptions::default()
}
