//! Test only: a plugin built against a (pretend) writeback native plugin interface
//! 2.0.0. It exports a root module under the same abi_stable symbol as a real plugin,
//! with this crate's version (2.0.0) as its interface version, so a 1.x host must
//! refuse it with a message naming both versions and the file.
// The stable ABI: abi_stable's derives and export macros generate unsafe impls and
// extern fns (the reason this crate exists); the rest of the workspace has none.
#![allow(unsafe_code)]
#![allow(non_camel_case_types, non_local_definitions)]

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RString;
use abi_stable::{
    declare_root_module_statics, export_root_module, package_version_strings, StableAbi,
};

/// What a future interface's root module might look like.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = FutureModule_Ref)))]
#[sabi(missing_field(panic))]
pub struct FutureModule {
    #[sabi(last_prefix_field)]
    pub describe: extern "C" fn() -> RString,
}

impl RootModule for FutureModule_Ref {
    declare_root_module_statics! {FutureModule_Ref}
    const BASE_NAME: &'static str = "writeback_plugin";
    const NAME: &'static str = "writeback native plugin interface";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

extern "C" fn describe() -> RString {
    RString::from("a plugin from the future")
}

#[export_root_module]
pub fn root_module() -> FutureModule_Ref {
    FutureModule { describe }.leak_into_prefix()
}
