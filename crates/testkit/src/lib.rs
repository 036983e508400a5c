//! Starts real servers for tests: a throwaway slapd with ppolicy and TLS, on loopback.
pub mod samba;
