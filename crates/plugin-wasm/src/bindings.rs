//! Rust bindings generated from the WIT package in `wit/` (writeback:plugin@0.1.0),
//! one module per world. Shared interfaces are generated once, in `notifier`, and
//! reused by the other worlds so a `types::Outcome` is the same type everywhere.

/// `world notifier-plugin`: imports log and http.
pub mod notifier {
    wasmtime::component::bindgen!({
        world: "notifier-plugin",
        path: "../../wit",
        imports: {
            "writeback:plugin/http.post": async,
            "writeback:plugin/http.send": async,
            default: trappable,
        },
        exports: { default: async },
    });
}

/// `world policy-plugin`: imports log.
pub mod policy {
    wasmtime::component::bindgen!({
        world: "policy-plugin",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "writeback:plugin/types": super::notifier::writeback::plugin::types,
            "writeback:plugin/log": super::notifier::writeback::plugin::log,
        },
    });
}

/// `world target-plugin`: imports log and directory.
pub mod target {
    wasmtime::component::bindgen!({
        world: "target-plugin",
        path: "../../wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "writeback:plugin/types": super::notifier::writeback::plugin::types,
            "writeback:plugin/log": super::notifier::writeback::plugin::log,
        },
    });
}

/// `world source-plugin`: imports log and http.
pub mod source {
    wasmtime::component::bindgen!({
        world: "source-plugin",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "writeback:plugin/types": super::notifier::writeback::plugin::types,
            "writeback:plugin/log": super::notifier::writeback::plugin::log,
            "writeback:plugin/http": super::notifier::writeback::plugin::http,
        },
    });
}
