//! A policy built against a WIT version this host does not implement (0.2.0).

wit_bindgen::generate!({
    inline: "
        package writeback:plugin@0.2.0;

        interface meta {
            record metadata { name: string, version: string }
            describe: func() -> metadata;
        }

        interface policy {
            evaluate: func(password: string) -> list<string>;
        }

        world policy-plugin {
            export meta;
            export policy;
        }
    ",
});

struct Future;

impl exports::writeback::plugin::meta::Guest for Future {
    fn describe() -> exports::writeback::plugin::meta::Metadata {
        exports::writeback::plugin::meta::Metadata {
            name: "from-the-future".into(),
            version: "9.0.0".into(),
        }
    }
}

impl exports::writeback::plugin::policy::Guest for Future {
    fn evaluate(_password: String) -> Vec<String> {
        Vec::new()
    }
}

export!(Future);
