//! The password page's posted form (plugins/source-portal wire.rs `Form`): any body
//! gives the four fields the page knows and nothing else, each the last value sent
//! under its exact name as urlencoding decodes it, and the empty string when not sent
//! (so a stray or look-alike key never fills `password` or `csrf`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use writeback_source_portal::fuzzing::form_fields;

fuzz_target!(|body: &[u8]| {
    let fields = form_fields(body);
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["csrf", "password", "confirm", "current"]);
    for (name, value) in &fields {
        let sent = form_urlencoded::parse(body)
            .filter(|(k, _)| k == name)
            .last()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        assert_eq!(value, &sent, "field `{name}`");
    }
});
