//! The security descriptor parser of `writeback doctor` (plugins/target-active-directory
//! `acl.rs`) on hostile bytes: a DC (or whoever answers in its place) sends the
//! nTSecurityDescriptor; parsing it and evaluating the ACEs must never panic, and what
//! parses must evaluate the same way twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use writeback_target_active_directory::acl::{self, Descriptor, Wanted, DS_CONTROL_ACCESS};

fuzz_target!(|bytes: &[u8]| {
    let Some(sd) = Descriptor::parse(bytes) else {
        return;
    };
    assert_eq!(Some(&sd.aces), acl::dacl(bytes).as_ref());
    assert_eq!(sd.inheritance_disabled(), sd.control & acl::DACL_PROTECTED != 0);
    // Every SID the ACEs name, as a token: the decision is deterministic, and an ACE
    // list that names no SID of the token never grants anything.
    let sids: Vec<Vec<u8>> = sd.aces.iter().map(|a| a.sid.clone()).collect();
    let wanted = Wanted {
        bit: DS_CONTROL_ACCESS,
        object_types: &["00299570-246d-11d0-a768-00aa006e0529"],
    };
    let first = acl::decide(&sd.aces, &sids, &wanted);
    assert_eq!(first, acl::decide(&sd.aces, &sids, &wanted));
    assert_eq!(acl::decide(&sd.aces, &[], &wanted), acl::Decision::Missing);
});
