//! The `notifier-plugin` world: tell people and systems what happened. A notifier
//! never sees a password; it may POST to the URLs the administrator allowed.

wit_bindgen::generate!({
    world: "notifier-plugin",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_notifier_world",
    default_bindings_module: "writeback_plugin_wasm_guest::notifier",
    runtime_path: "writeback_plugin_wasm_guest::__wit_bindgen::rt",
});

pub use self::exports::writeback::plugin::notifier::NotifyError;
pub use self::writeback::plugin::types::{
    CloudIdentity, Event, Initiator, InitiatorKind, Metadata, OperationKind, Outcome, OutcomeCode,
    PluginKind, RuleViolation, TargetResult,
};
pub use crate::About;

crate::log_helpers!(super::writeback::plugin::log);
crate::model_helpers!(super::writeback::plugin::types);

/// HTTP POST through the host's capability: only URLs on the plugin's `allow_http`
/// list are reached; anything else is refused (and logged by the host).
pub mod http {
    pub use super::writeback::plugin::http::{Header, HttpError, Response};

    pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
        let headers: Vec<Header> = headers
            .iter()
            .map(|(name, value)| Header {
                name: (*name).to_string(),
                value: (*value).to_string(),
            })
            .collect();
        super::writeback::plugin::http::post(url, &headers, body)
    }

    /// POSTs a JSON document.
    pub fn post_json(url: &str, value: &serde_json::Value) -> Result<Response, HttpError> {
        let body = value.to_string();
        post(
            url,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }
}

impl NotifyError {
    /// `retryable`: network trouble or a 5xx (try later), not a 4xx or bad config.
    pub fn new(message: impl Into<String>, retryable: bool) -> Self {
        NotifyError {
            message: message.into(),
            retryable,
        }
    }
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Reset => "reset",
            OperationKind::Change => "change",
            OperationKind::Unlock => "unlock",
        }
    }
}

/// A notifier plugin. Instances are reused between calls by default.
pub trait NotifierPlugin {
    type Config: serde::de::DeserializeOwned + Send + Sync + 'static;
    const ABOUT: About;

    fn notify(config: &Self::Config, event: &Event) -> Result<(), NotifyError>;
}

#[doc(hidden)]
pub fn __metadata(about: About) -> Metadata {
    Metadata {
        name: about.name.to_string(),
        kind: PluginKind::Notifier,
        version: about.version.to_string(),
        description: about.description.to_string(),
    }
}

/// Exports a [`NotifierPlugin`] as the component's `notifier-plugin` world.
#[macro_export]
macro_rules! notifier_plugin {
    ($plugin:ty) => {
        struct __WritebackNotifierExport;

        static __WRITEBACK_NOTIFIER_CONFIG: ::std::sync::OnceLock<
            <$plugin as $crate::notifier::NotifierPlugin>::Config,
        > = ::std::sync::OnceLock::new();

        impl $crate::notifier::exports::writeback::plugin::meta::Guest for __WritebackNotifierExport {
            fn describe() -> $crate::notifier::Metadata {
                $crate::notifier::__metadata(<$plugin as $crate::notifier::NotifierPlugin>::ABOUT)
            }

            fn configure(config_json: String) -> Result<(), String> {
                let config = $crate::config::parse(&config_json)?;
                let _ = __WRITEBACK_NOTIFIER_CONFIG.set(config);
                Ok(())
            }
        }

        impl $crate::notifier::exports::writeback::plugin::notifier::Guest for __WritebackNotifierExport {
            fn notify(event: $crate::notifier::Event) -> Result<(), $crate::notifier::NotifyError> {
                let Some(config) = __WRITEBACK_NOTIFIER_CONFIG.get() else {
                    return Err($crate::notifier::NotifyError::new("notify was called before configure", false));
                };
                <$plugin as $crate::notifier::NotifierPlugin>::notify(config, &event)
            }
        }

        $crate::notifier::__export_notifier_world!(__WritebackNotifierExport with_types_in $crate::notifier);
    };
}
