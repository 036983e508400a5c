//! The `source-plugin` world: fetch password requests from the cloud side and hand
//! each outcome back. A source cannot listen (no inbound sockets, no background
//! tasks, every call time-limited), so the host polls it: every `poll_interval_ms` it
//! calls [`SourcePlugin::poll`]; the plugin fetches the pending requests through the
//! HTTP capability (the URLs its `allow_http` lists) and returns them; the host runs
//! each one and calls [`SourcePlugin::report`] with its outcome.
//!
//! Requests carry passwords: never log, store or send them anywhere but back to the
//! host. Each call runs on a fresh instance by default, so nothing outlives it.

wit_bindgen::generate!({
    world: "source-plugin",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "__export_source_world",
    default_bindings_module: "writeback_plugin_wasm_guest::source",
    runtime_path: "writeback_plugin_wasm_guest::__wit_bindgen::rt",
});

pub use self::exports::writeback::plugin::source::PendingRequest;
pub use self::writeback::plugin::types::{
    Attribute, ChangeOperation, CloudIdentity, Initiator, InitiatorKind, Metadata, Operation,
    OperationKind, Outcome, OutcomeCode, PluginKind, ResetOperation, RuleViolation,
};
pub use crate::About;

crate::log_helpers!(super::writeback::plugin::log);
crate::model_helpers!(super::writeback::plugin::types);

/// Most requests the host takes from one `poll`; return the rest on the next one.
pub const MAX_BATCH: usize = 100;

/// HTTP through the host's capability: only URLs on the plugin's `allow_http` list
/// are reached; anything else is refused (and logged by the host). No redirects are
/// followed; a response body is cut at 64 KiB.
pub mod http {
    pub use super::writeback::plugin::http::{Header, HttpError, Method, Response};

    fn headers(headers: &[(&str, &str)]) -> Vec<Header> {
        headers
            .iter()
            .map(|(name, value)| Header {
                name: (*name).to_string(),
                value: (*value).to_string(),
            })
            .collect()
    }

    /// Any method.
    pub fn send(
        method: Method,
        url: &str,
        headers_: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        super::writeback::plugin::http::send(method, url, &headers(headers_), body)
    }

    pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
        send(Method::Get, url, headers, &[])
    }

    pub fn post(url: &str, headers_: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
        super::writeback::plugin::http::post(url, &headers(headers_), body)
    }

    /// POSTs a JSON document, with `headers` besides the content type.
    pub fn post_json(
        url: &str,
        headers: &[(&str, &str)],
        value: &serde_json::Value,
    ) -> Result<Response, HttpError> {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        post(url, &all, value.to_string().as_bytes())
    }

    impl Response {
        /// A 2xx status.
        pub fn is_success(&self) -> bool {
            (200..300).contains(&self.status)
        }

        /// The body as JSON. The error says what is wrong, never what the body holds
        /// (it may hold passwords).
        pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
            serde_json::from_slice(&self.body).map_err(|e| {
                format!(
                    "the response is not the JSON expected ({:?} at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                )
            })
        }

        /// The first header of that name (names compare case-insensitively).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str())
        }
    }
}

impl Operation {
    /// A reset to `new_password`; `must_change`: the person must change it at next logon.
    pub fn reset(new_password: String, must_change: bool) -> Self {
        Operation::Reset(ResetOperation {
            new_password,
            must_change,
        })
    }

    /// A self-service change: the directory checks `old_password`.
    pub fn change(old_password: String, new_password: String) -> Self {
        Operation::Change(ChangeOperation {
            old_password,
            new_password,
        })
    }

    pub fn kind(&self) -> OperationKind {
        match self {
            Operation::Reset(_) => OperationKind::Reset,
            Operation::Change(_) => OperationKind::Change,
            Operation::Unlock => OperationKind::Unlock,
        }
    }

    /// Overwrites the passwords (for requests a plugin drops instead of returning).
    pub fn wipe(&mut self) {
        use zeroize::Zeroize;
        match self {
            Operation::Reset(r) => r.new_password.zeroize(),
            Operation::Change(c) => {
                c.old_password.zeroize();
                c.new_password.zeroize();
            }
            Operation::Unlock => {}
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

impl InitiatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InitiatorKind::User => "user",
            InitiatorKind::Admin => "admin",
            InitiatorKind::System => "system",
        }
    }
}

impl Default for Initiator {
    /// The person themself.
    fn default() -> Self {
        Initiator {
            kind: InitiatorKind::User,
            id: None,
        }
    }
}

// The type is generated: it cannot be derived here.
#[allow(clippy::derivable_impls)]
impl Default for CloudIdentity {
    fn default() -> Self {
        CloudIdentity {
            upn: None,
            object_id: None,
            immutable_id: None,
            mail: None,
            username: None,
            display_name: None,
            given_name: None,
            surname: None,
            extra: Vec::new(),
        }
    }
}

/// A source plugin. Each call runs on a fresh instance unless the administrator
/// chose otherwise, so keep no state between calls: what is pending lives on the
/// cloud side until `report` closes it.
pub trait SourcePlugin {
    /// The connector's table without the host's keys (`poll_interval_ms`,
    /// `max_in_flight`, `plain_http`), deserialized.
    type Config: serde::de::DeserializeOwned + Send + Sync + 'static;
    const ABOUT: About;

    /// The requests waiting on the cloud side, at most [`MAX_BATCH`]. An `Err` is
    /// logged by the host (never put a password in it), which polls again later.
    fn poll(config: &Self::Config) -> Result<Vec<PendingRequest>, String>;

    /// Hands the outcome of the request `request_id` back to the cloud side. Until it
    /// succeeds, keep handing the request over from `poll`: the host applies an id
    /// at most once and answers a repeat with the first outcome.
    fn report(config: &Self::Config, request_id: &str, outcome: &Outcome) -> Result<(), String>;
}

#[doc(hidden)]
pub fn __metadata(about: About) -> Metadata {
    Metadata {
        name: about.name.to_string(),
        kind: PluginKind::Source,
        version: about.version.to_string(),
        description: about.description.to_string(),
    }
}

/// Exports a [`SourcePlugin`] as the component's `source-plugin` world.
#[macro_export]
macro_rules! source_plugin {
    ($plugin:ty) => {
        struct __WritebackSourceExport;

        static __WRITEBACK_SOURCE_CONFIG: ::std::sync::OnceLock<
            <$plugin as $crate::source::SourcePlugin>::Config,
        > = ::std::sync::OnceLock::new();

        impl $crate::source::exports::writeback::plugin::meta::Guest for __WritebackSourceExport {
            fn describe() -> $crate::source::Metadata {
                $crate::source::__metadata(<$plugin as $crate::source::SourcePlugin>::ABOUT)
            }

            fn configure(config_json: String) -> Result<(), String> {
                let config = $crate::config::parse(&config_json)?;
                let _ = __WRITEBACK_SOURCE_CONFIG.set(config);
                Ok(())
            }
        }

        impl $crate::source::exports::writeback::plugin::source::Guest for __WritebackSourceExport {
            fn poll() -> Result<Vec<$crate::source::PendingRequest>, String> {
                let Some(config) = __WRITEBACK_SOURCE_CONFIG.get() else {
                    return Err("poll was called before configure".to_string());
                };
                <$plugin as $crate::source::SourcePlugin>::poll(config)
            }

            fn report(request_id: String, outcome: $crate::source::Outcome) -> Result<(), String> {
                let Some(config) = __WRITEBACK_SOURCE_CONFIG.get() else {
                    return Err("report was called before configure".to_string());
                };
                <$plugin as $crate::source::SourcePlugin>::report(config, &request_id, &outcome)
            }
        }

        $crate::source::__export_source_world!(__WritebackSourceExport with_types_in $crate::source);
    };
}
