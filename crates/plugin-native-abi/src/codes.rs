//! Small codes that cross the boundary as one byte each.
//!
//! They are newtypes over `u8`, not Rust enums, on purpose: a host that learns a new
//! code (a minor interface version) must not make older plugins fail their layout
//! check, and a value a side does not know is handled (the host turns an unknown
//! outcome code into `plugin_fault`) instead of being undefined behaviour.

use std::fmt;

use abi_stable::StableAbi;

macro_rules! byte_code {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$vdoc:meta])* $konst:ident = $value:literal => $text:literal, )+ }
    ) => {
        $(#[$doc])*
        #[repr(transparent)]
        #[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub struct $name(pub u8);

        impl $name {
            $( $(#[$vdoc])* pub const $konst: $name = $name($value); )+

            /// Every code this interface version knows.
            pub const ALL: &'static [$name] = &[$($name::$konst),+];

            /// The stable name (the same as writeback's own), or `unknown`.
            pub fn as_str(self) -> &'static str {
                match self.0 {
                    $( $value => $text, )+
                    _ => "unknown",
                }
            }

            /// The code with this stable name.
            pub fn from_name(name: &str) -> Option<$name> {
                match name {
                    $( $text => Some($name::$konst), )+
                    _ => None,
                }
            }

            /// Whether this interface version knows the code.
            pub fn is_known(self) -> bool {
                Self::ALL.contains(&self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

byte_code! {
    /// An outcome code (README.md, "Outcome codes"): the contract with sources and the people waiting.
    OutcomeCode {
        SUCCEEDED = 0 => "succeeded",
        REJECTED_POLICY = 1 => "rejected_policy",
        REJECTED_HISTORY = 2 => "rejected_history",
        REJECTED_MIN_AGE = 3 => "rejected_min_age",
        WRONG_OLD_PASSWORD = 4 => "wrong_old_password",
        NOT_FOUND = 5 => "not_found",
        AMBIGUOUS_IDENTITY = 6 => "ambiguous_identity",
        ADMIN_ACTION_REQUIRED = 7 => "admin_action_required",
        DIRECTORY_UNAVAILABLE = 8 => "directory_unavailable",
        TIMEOUT = 9 => "timeout",
        PLUGIN_FAULT = 10 => "plugin_fault",
        INVALID_REQUEST = 11 => "invalid_request",
        UNAUTHORIZED = 12 => "unauthorized",
    }
}

byte_code! {
    /// What a request does.
    OperationKind {
        /// An administrator-style reset: no old password.
        RESET = 0 => "reset",
        /// A self-service change: the old password is checked.
        CHANGE = 1 => "change",
        /// Clear a lockout; no password.
        UNLOCK = 2 => "unlock",
    }
}

byte_code! {
    /// Who started a request on the cloud side.
    InitiatorKind {
        USER = 0 => "user",
        ADMIN = 1 => "admin",
        SYSTEM = 2 => "system",
    }
}

byte_code! {
    /// The four connector kinds a plugin can provide.
    ConnectorKind {
        SOURCE = 0 => "source",
        TARGET = 1 => "target",
        POLICY = 2 => "policy",
        NOTIFIER = 3 => "notifier",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_values_are_named_unknown() {
        for code in OutcomeCode::ALL {
            assert_eq!(OutcomeCode::from_name(code.as_str()), Some(*code));
        }
        assert_eq!(OutcomeCode(200).as_str(), "unknown");
        assert!(!OutcomeCode(200).is_known());
        assert_eq!(ConnectorKind::NOTIFIER.to_string(), "notifier");
    }
}
