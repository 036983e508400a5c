//! The DN parser and the subtree check (crates/ldap dn.rs) on hostile DNs: the WASM
//! directory handle confines a guest's operations with `is_within`, so a DN that
//! parses must compare the way a directory would, and nothing may panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use writeback_ldap::dn;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    dn: &'a str,
    base: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let parsed = dn::parse(input.dn);
    let within = dn::is_within(input.dn, input.base);
    let Ok(rdns) = parsed else {
        // A DN that does not parse is never "within" anything.
        assert!(within.is_err());
        return;
    };
    // Every DN is within itself and within the root.
    assert_eq!(dn::is_within(input.dn, input.dn), Ok(true));
    assert_eq!(dn::is_within(input.dn, ""), Ok(true));
    for rdn in &rdns {
        assert!(!rdn.is_empty(), "an RDN without a type=value pair");
        for (attr, value) in rdn {
            assert!(!attr.is_empty() && !value.is_empty());
        }
    }
    if let (Ok(base), Ok(true)) = (dn::parse(input.base), within) {
        assert!(base.len() <= rdns.len());
        // Within both ways means the same entry.
        if dn::is_within(input.base, input.dn) == Ok(true) {
            assert_eq!(base, rdns);
        }
        // A child of a DN within the base is within the base too.
        if !input.dn.trim().is_empty() {
            let child = format!("cn=child,{}", input.dn);
            assert_eq!(dn::is_within(&child, input.base), Ok(true), "{child:?}");
        }
    }
});
